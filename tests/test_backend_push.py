"""Seller push notifications: Ozon payload shapes, signing, backoff, and (against a real
uvicorn server and a real receiver on 127.0.0.1) at-least-once delivery in order per
posting that survives a failing receiver and a SIGKILLed server."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from reference_backend import security as sec
from reference_backend.notifications import delivery, payloads
from simulator.lifecycle import ALLOWED_TRANSITIONS, PostingStatus

DOWN = b'{"error":{"code":"ERROR_UNKNOWN","message":"down","details":null}}'
AT = datetime(2026, 11, 27, 6, 56, 36, 294000, tzinfo=UTC)

# --- a webhook receiver on 127.0.0.1 --------------------------------------------------------


@dataclass
class Received:
    event_id: str
    body: bytes
    headers: dict[str, str]

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A seller's endpoint: answers 500 to the first ``fail_first`` requests, then 200."""

    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                event_id = self.headers.get(sec.EVENT_ID_HEADER, "")
                with owner.lock:
                    owner.requests.append(Received(event_id, body, dict(self.headers)))
                    fail = len(owner.requests) <= owner.fail_first
                status, answer = (500, DOWN) if fail else (200, b'{"result":true}')
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/ozon/push"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def unique(self) -> list[Received]:
        """Requests after deduplication by event id (first copy kept), in arrival order."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for r in self.requests:
                if r.event_id not in seen:
                    seen.add(r.event_id)
                    out.append(r)
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


# --- payload shapes (shared spec §9.3) ------------------------------------------------------


def test_new_posting_payload_has_ozon_keys_and_types() -> None:
    p = payloads.new_posting(
        posting_number="24319409-0021-1",
        products=[{"sku": 147451939, "offer_id": "Товар2", "quantity": 1}],
        in_process_at=AT, warehouse_id=12850503335000, seller_id=1,
    )
    assert set(p) == {
        "message_type", "posting_number", "products", "in_process_at", "warehouse_id",
        "shipment_date", "tpl_integration_type", "is_express", "tracking_number",
        "delivery_date_begin", "delivery_date_end", "seller_id",
    }
    assert p["message_type"] == "TYPE_NEW_POSTING"
    assert p["products"] == [{"sku": 147451939, "offer_id": "Товар2", "quantity": 1}]
    assert p["in_process_at"] == "2026-11-27T06:56:36.294Z"
    assert isinstance(p["warehouse_id"], int) and isinstance(p["seller_id"], int)


def test_cancelled_and_state_changed_payloads() -> None:
    c = payloads.for_transition(
        posting_number="24219509-0020-1", old_status="delivering", new_status="cancelled",
        changed_at=AT, warehouse_id=7, seller_id=15, products=[{"sku": "147451959", "quantity": 1}],
        reason_id=352, reason="Product is out of stock",
    )
    assert c == {
        "message_type": "TYPE_POSTING_CANCELLED", "posting_number": "24219509-0020-1",
        "products": [{"sku": 147451959, "quantity": 1}],
        "old_state": "posting_transferred_to_courier_service", "new_state": "posting_canceled",
        "changed_state_date": "2026-11-27T06:56:36.294Z",
        "reason": {"id": 352, "message": "Product is out of stock"},
        "warehouse_id": 7, "seller_id": 15,
    }
    s = payloads.for_transition(
        posting_number="1-1-1", old_status="awaiting_packaging", new_status="awaiting_deliver",
        changed_at=AT, warehouse_id=7, seller_id=15,
    )
    assert set(s) == {"message_type", "posting_number", "new_state", "changed_state_date",
                      "warehouse_id", "seller_id"}
    assert s["message_type"] == "TYPE_STATE_CHANGED"


def test_every_reachable_non_cancel_state_is_a_documented_push_state() -> None:
    targets = {t for ts in ALLOWED_TRANSITIONS.values() for t in ts} - {PostingStatus.CANCELLED}
    for status in targets:
        assert payloads.PUSH_STATE[status] in payloads.STATE_CHANGED_STATES
    assert set(payloads.PUSH_STATE) == set(PostingStatus)


# --- backoff and targets --------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy = delivery.RetryPolicy(base_s=1, factor=2, cap_s=60, jitter=0)
    assert [delivery.backoff_delay(n, policy) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    jittered = delivery.RetryPolicy(base_s=1, factor=2, cap_s=60, jitter=0.2)
    rng = random.Random(1)
    for n in range(1, 20):
        d = delivery.backoff_delay(n, jittered, rng)
        assert 0.8 * min(2 ** (n - 1), 60) <= d <= 60


def test_only_public_http_urls_can_be_registered() -> None:
    ok = delivery.check_webhook_url(" http://127.0.0.1:9000/hook ", allow_private=True)
    assert ok == "http://127.0.0.1:9000/hook"
    for bad in ("ftp://example.com/x", "/relative", "http://user:pw@example.com/", "http://:80/",
                "not a url", "http://[::1/"):
        with pytest.raises(delivery.BadWebhookUrl):
            delivery.check_webhook_url(bad, allow_private=True)
    for private in ("http://127.0.0.1/", "http://10.1.2.3/x", "http://169.254.169.254/latest",
                    "http://localhost:8000/", "http://[::1]/"):
        with pytest.raises(delivery.BadWebhookUrl):
            delivery.check_webhook_url(private, allow_private=False)


def test_send_signs_the_body_and_counts_only_2xx(receiver: Receiver) -> None:
    receiver.fail_first = 1
    secret = sec.generate_token()
    body = delivery.encode_payload(payloads.ping(AT))

    async def twice() -> list[delivery.Outcome]:
        async with httpx.AsyncClient() as client:
            return [
                await delivery.send(client, url=receiver.url, secret=secret, event_id="9",
                                    body=body, timeout_s=2)
                for _ in range(2)
            ]

    first, second = asyncio.run(twice())
    assert (first.delivered, first.status) == (False, 500)
    assert (second.delivered, second.status) == (True, 200)
    got = receiver.requests[-1]
    assert got.body == body and got.event_id == "9"
    h = {k.lower(): v for k, v in got.headers.items()}
    assert h["content-type"] == "application/json"
    args = dict(event_id="9", timestamp=h[sec.TIMESTAMP_HEADER.lower()])
    sig = h[sec.SIGNATURE_HEADER.lower()]
    assert sec.verify_signature(secret, got.body, signature=sig, **args)
    forged = got.body.replace(b"TYPE_PING", b"TYPE_PONG")
    assert not sec.verify_signature(secret, forged, signature=sig, **args)
    down = asyncio.run(_send_to_closed_port(secret, body))
    assert not down.delivered and down.status is None and down.error


async def _send_to_closed_port(secret: str, body: bytes) -> delivery.Outcome:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with httpx.AsyncClient() as client:
        return await delivery.send(client, url=f"http://127.0.0.1:{port}/", secret=secret,
                                   event_id="1", body=body, timeout_s=1)
