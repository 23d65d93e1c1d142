"""Seller push notifications: Ozon payload shapes, signing, backoff, and (against a real
uvicorn server and a real receiver on 127.0.0.1) at-least-once delivery in order per
posting that survives a failing receiver and a SIGKILLed server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import create_engine, text

from reference_backend import payloads
from reference_backend import security as sec
from reference_backend.db import normalise_url
from reference_backend.notifications import delivery
from reference_backend.notifications.leader import leader_lock_for
from simulator.lifecycle import ALLOWED_TRANSITIONS, PostingStatus
from tests.backend_support import (
    ServerProcess,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
    sqlite_url,
    start_server,
)

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
    down: bool = False
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
                    fail = owner.down or len(owner.requests) <= owner.fail_first
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
    assert s["new_state"] == "posting_transferring_to_delivery"
    courier = payloads.for_transition(
        posting_number="1-1-1", old_status="awaiting_deliver", new_status="delivering",
        changed_at=AT, warehouse_id=7, seller_id=15, new_state="posting_in_courier_service",
    )
    assert courier["new_state"] == "posting_in_courier_service"
    odd = payloads.for_transition(
        posting_number="1-1-1", old_status="awaiting_deliver", new_status="delivering",
        changed_at=AT, warehouse_id=7, seller_id=15, new_state="ship_failed",
    )
    assert odd["new_state"] == payloads.PUSH_STATE[PostingStatus.DELIVERING]


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


# --- end to end: real uvicorn, real database, receiver on 127.0.0.1 -------------------------

PUSH_ENV = {
    "PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS": "true",
    "PEAKLINE_PUSH_POLL_INTERVAL_S": "0.05",
    "PEAKLINE_PUSH_BACKOFF_BASE_S": "0.1",
    "PEAKLINE_PUSH_BACKOFF_CAP_S": "0.4",
}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
#: Expected ``new_state`` sequences of postings whose states the story pins down.
STATES: dict[str, list[str]] = {}


@dataclass
class World:
    url: str
    creds: dict
    seller: dict[str, str]
    platform: dict[str, str]
    server: ServerProcess
    receiver: Receiver
    secret: str = ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, timeout=30)

    def restart(self, **kwargs: object) -> None:
        self.server = start_server(self.url, env=PUSH_ENV, **kwargs)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if request.param == "postgresql":
        if not postgres_admin_url():
            pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
        ctx = fresh_postgres_url()
    else:
        ctx = contextlib.nullcontext(sqlite_url(tmp_path_factory.mktemp("push")))
    receiver = Receiver().start()
    with ctx as url:
        creds = seed_smoke(url)
        w = World(url, creds, seller_headers(creds), platform_headers(creds),
                  start_server(url, env=PUSH_ENV), receiver)
        try:
            yield w
        finally:
            w.server.stop()
            receiver.stop()


def _order(c: httpx.Client, w: World, sku_index: int, key: str) -> dict:
    body = {"client_id": w.creds["client_id"], "region": "R-MSK",
            "lines": [{"sku": w.creds["sku_base"] + sku_index, "quantity": 1}]}
    r = c.post("/marketplace/v1/orders", json=body,
               headers={**w.platform, "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return r.json()


def _ship(c: httpx.Client, w: World, posting: dict) -> None:
    products = [{"product_id": p["sku"], "quantity": p["quantity"]} for p in posting["products"]]
    body = {"posting_number": posting["posting_number"], "packages": [{"products": products}]}
    r = c.post("/v4/posting/fbs/ship", headers=w.seller, json=body)
    assert r.status_code == 200, r.text


def _event(c: httpx.Client, w: World, posting_number: str, event: str) -> None:
    r = c.post("/marketplace/v1/logistics/events", headers=w.platform,
               json={"posting_number": posting_number, "event": event})
    assert r.status_code == 200, r.text


def _cancel(c: httpx.Client, w: World, posting_number: str) -> None:
    r = c.post("/v2/posting/fbs/cancel", headers=w.seller, json={
        "posting_number": posting_number, "cancel_reason_id": 352,
        "cancel_reason_message": "out of stock"})
    assert r.status_code == 200, r.text


def _story(c: httpx.Client, w: World, tag: str, n: int) -> dict[str, list[str]]:
    """``n`` orders moved through three kinds of life; the expected message types per posting."""
    expected: dict[str, list[str]] = {}
    states: dict[str, list[str]] = {}
    for i in range(n):
        posting = _order(c, w, i % 20, f"{tag}-{i}")["postings"][0]
        number = posting["posting_number"]
        kind = i % 4
        types = ["TYPE_NEW_POSTING"]
        if kind == 0:  # seller cancels before assembly
            _cancel(c, w, number)
            types.append("TYPE_POSTING_CANCELLED")
        elif kind == 3:  # delivered by the seller (rFBS statuses), last mile included
            _ship(c, w, posting)
            for step in ("delivering", "last-mile", "delivered"):
                r = c.post(f"/v2/fbs/posting/{step}", headers=w.seller,
                           json={"posting_number": [number]})
                assert r.status_code == 200 and r.json()["result"][0]["result"], r.text
            types += ["TYPE_STATE_CHANGED"] * 4
            states[number] = ["posting_transferring_to_delivery",
                              "posting_transferred_to_courier_service",
                              "posting_in_courier_service", "posting_delivered"]
        else:
            _ship(c, w, posting)
            types.append("TYPE_STATE_CHANGED")
            if kind == 1:  # sorted and delivered
                _event(c, w, number, "sorting_accepted")
                _event(c, w, number, "delivered")
                types += ["TYPE_STATE_CHANGED", "TYPE_STATE_CHANGED"]
            else:  # cancelled after assembly
                _cancel(c, w, number)
                types.append("TYPE_POSTING_CANCELLED")
        expected[number] = types
    STATES.update(states)
    return expected


def _outbox(w: World) -> list[tuple[int, str | None, str, bool]]:
    engine = create_engine(normalise_url(w.url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT id, posting_number, event_type, delivered_at IS NOT NULL "
                "FROM outbox_events ORDER BY id"))]
    finally:
        engine.dispose()


def _queue_depth(c: httpx.Client) -> float:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith("peakline_outbox_pending_events "):
            return float(line.split()[1])
    raise AssertionError("queue depth metric missing")


def _drain(w: World, timeout: float = 30.0) -> float:
    started = time.monotonic()
    with w.client() as c:
        while _queue_depth(c) > 0:
            assert time.monotonic() - started < timeout, "outbox not drained"
            time.sleep(0.05)
    return time.monotonic() - started


def _check_delivery(w: World, expected: dict[str, list[str]]) -> list[Received]:
    """Every outbox event of these postings arrived; after dedup exactly once, in order."""
    rows = [r for r in _outbox(w) if r[1] in expected]
    assert all(delivered for *_, delivered in rows)
    got = [r for r in w.receiver.unique() if r.payload.get("posting_number") in expected]
    assert sorted(int(r.event_id) for r in got) == [r[0] for r in rows]
    by_posting: dict[str, list[Received]] = {}
    for r in got:
        by_posting.setdefault(r.payload["posting_number"], []).append(r)
    for number, types in expected.items():
        seen = by_posting[number]
        assert [int(r.event_id) for r in seen] == sorted(int(r.event_id) for r in seen), number
        assert [r.payload["message_type"] for r in seen] == types, number
        if number in STATES:
            changes = [r.payload["new_state"] for r in seen[1:]]
            assert changes == STATES[number], number
    for r in got:
        assert r.payload["seller_id"] == int(w.creds["client_id"])
        h = {k.lower(): v for k, v in r.headers.items()}
        assert sec.verify_signature(
            w.secret, r.body, event_id=r.event_id, timestamp=h[sec.TIMESTAMP_HEADER.lower()],
            signature=h[sec.SIGNATURE_HEADER.lower()])
    return got


def _register(world: World) -> None:
    with world.client() as c:
        r = c.post("/peakline/v1/webhooks", headers=world.seller, json={"url": world.receiver.url})
        assert r.status_code == 201, r.text
        world.secret = r.json()["secret"]


@pytest.fixture
def hooked(world: World) -> World:
    """``world`` with the receiver registered as the seller's webhook (by the registration
    test when it ran first; else here, so a test run alone does not depend on it)."""
    if not world.secret:
        _register(world)
        _drain(world)
    return world


def test_webhook_registration_returns_the_secret_once(world: World) -> None:
    with world.client() as c:
        before = _order(c, world, 0, "before-webhook")["postings"][0]["posting_number"]
    _drain(world)  # nobody to tell yet: the event is closed, never sent later
    assert [r[3] for r in _outbox(world) if r[1] == before] == [True]
    with world.client() as c:
        bad = c.post("/peakline/v1/webhooks", headers=world.seller, json={"url": "ftp://x/"})
        assert bad.status_code == 400 and bad.json()["code"] == "BAD_WEBHOOK_URL"
    _register(world)
    with world.client() as c:
        listed = c.get("/peakline/v1/webhooks", headers=world.seller).json()["webhooks"]
        assert [h["url"] for h in listed] == [world.receiver.url]
        assert world.secret not in str(listed)
    _drain(world)
    pings = [r for r in world.receiver.unique() if r.payload["message_type"] == "TYPE_PING"]
    assert len(pings) == 1 and set(pings[0].payload) == {"message_type", "time"}
    assert not [r for r in world.receiver.requests if r.payload.get("posting_number") == before]


def test_failing_receiver_gets_every_event_once_in_order(hooked: World) -> None:
    world = hooked
    world.receiver.fail_first = len(world.receiver.requests) + 6  # the next 6 requests fail
    with world.client() as c:
        expected = _story(c, world, "retry", 8)
    _drain(world)
    got = _check_delivery(world, expected)
    attempts = [r for r in world.receiver.requests if r.payload.get("posting_number") in expected]
    assert len(attempts) >= len(got) + 6  # the failures were retried
    forged = got[0].body.replace(b'"seller_id":', b'"seller_id":1')
    h = {k.lower(): v for k, v in got[0].headers.items()}
    assert not sec.verify_signature(
        world.secret, forged, event_id=got[0].event_id, timestamp=h[sec.TIMESTAMP_HEADER.lower()],
        signature=h[sec.SIGNATURE_HEADER.lower()])
    # latency of a new-posting notification with a healthy receiver
    lags = []
    with world.client() as c:
        for i in range(5):
            number = _order(c, world, 30 + i, f"lag-{i}")["postings"][0]["posting_number"]
            sent = time.time()  # the order (and its event) is committed
            while not any(r.payload.get("posting_number") == number
                          for r in world.receiver.unique()):
                time.sleep(0.01)
            lags.append(time.time() - sent)
    print(f"\npush: {len(got)} events, {len(attempts)} attempts; new-posting latency "
          f"p50 {sorted(lags)[2] * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms")


def test_sigkill_with_undelivered_events_then_restart_delivers_all(hooked: World) -> None:
    world = hooked
    world.receiver.down = True
    with world.client() as c:
        expected = _story(c, world, "crash", 4)
        deadline = time.monotonic() + 10
        while not any(r.payload.get("posting_number") in expected for r in world.receiver.requests):
            assert time.monotonic() < deadline
            time.sleep(0.05)  # the worker has tried (and failed) at least once
        depth = _queue_depth(c)
    assert depth > 0
    pending = [r for r in _outbox(world) if r[1] in expected and not r[3]]
    assert pending
    engine = create_engine(normalise_url(world.url))
    try:
        # ``--workers N``: each process runs a worker; only the holder of the leader lock
        # delivers. The server's worker holds it; SIGKILL frees it, exclusive as before.
        mine = leader_lock_for(engine)
        assert mine.try_acquire() is False
        world.server.kill()  # SIGKILL: no shutdown, events still in the outbox
        deadline = time.monotonic() + 10
        while not mine.try_acquire():
            assert time.monotonic() < deadline, "a killed holder must not keep the lock"
            time.sleep(0.1)
        assert leader_lock_for(engine).try_acquire() is False
        mine.release()
    finally:
        engine.dispose()
    world.receiver.down = False
    world.restart()
    _drain(world)
    _check_delivery(world, expected)


def test_ozon_notification_settings_methods(hooked: World) -> None:
    """Spec §9.5 over the same registry (runs last: it adds and removes a second URL)."""
    world = hooked
    second = world.receiver.url + "/second"
    with world.client() as c:
        def call(path: str, body: dict | None = None) -> dict:
            r = c.post(f"/v1/notification/{path}", headers=world.seller, json=body or {})
            assert r.status_code == 200, r.text
            return r.json()

        urls = call("list")["urls"]
        assert [u["url"] for u in urls] == [world.receiver.url] and urls[0]["enable"] is True
        assert {t["type"] for t in urls[0]["types"]} >= {"TYPE_NEW_POSTING", "TYPE_PING"}
        kinds = {t["type"]: t["seller_endpoint"] for t in call("push-type/list")["types"]}
        assert kinds["TYPE_POSTING_CANCELLED"]["url"] == world.receiver.url
        assert call("check", {"url": world.receiver.url}) == {"is_active": True, "errors": []}
        unknown = call("check", {"url": "http://127.0.0.1:1/nope"})
        assert unknown["is_active"] is False and unknown["errors"][0]["type"] == "REQUEST_ERROR"

        assert call("set", {"url": second, "types": ["type_new_posting", "TYPE_CHAT_CLOSED"]}) == {}
        added = next(u for u in call("list")["urls"] if u["url"] == second)
        assert {t["type"] for t in added["types"]} == {"TYPE_NEW_POSTING", "TYPE_CHAT_CLOSED"}
        bad = c.post("/v1/notification/set", headers=world.seller,
                     json={"url": second, "types": ["TYPE_NOPE"]})
        assert bad.status_code == 400 and bad.json()["code"] == 3  # Ozon error body
        _drain(world)  # the connection ping reached the second URL too
        call("enable", {"id": added["id"], "enabled": False})
        assert call("check", {"url": second})["is_active"] is False
        call("update", {"id": str(added["id"]), "types": None, "url": second + "2"})
        call("delete", {"id": added["id"]})
        assert [u["url"] for u in call("list")["urls"]] == [world.receiver.url]
        gone = c.post("/v1/notification/delete", headers=world.seller, json={"id": added["id"]})
        assert gone.status_code == 404 and gone.json()["code"] == 5
