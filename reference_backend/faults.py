"""Ozon's bad moments on purpose: a fault-injection middleware, off unless a profile is set.

``PEAKLINE_OZON_FAULTS`` holds a :class:`FaultProfile` as JSON (``peakline rehearse
--ozon-faults`` sets it). Each kind of fault hits a stated share (``rate``) of Seller API
requests (``/v1/...`` to ``/v5/...``; Peakline's own paths never), in bursts of ``burst``
requests on average where that is how Ozon fails:

* ``slow``: the answer is held back ``delay_ms``;
* ``server_errors``: a 503 with Ozon's error body, in bursts;
* ``throttle_storms``: 429s beyond the published limits, in bursts;
* ``import_fails_later``: ``/v1/product/import/info`` reports an import's items as failed
  (the import itself answered success);
* ``serial``: a backend at capacity: the requests it hits (buyers' orders included) pass a
  gate one at a time, each holding it ``delay_ms``, so at most ``1000 / delay_ms`` of them
  a second get through and the rest queue (a deterministic single server, M/D/1 under
  Poisson arrivals).

Push notifications go wrong too; :class:`PushFaults` is what the outbox delivery worker asks:

* ``push_late``: a notification (and those of its posting behind it) goes out ``delay_ms``
  late;
* ``push_duplicate``: a notification is delivered twice.

A faulted answer or push carries ``X-Peakline-Fault: <kind>``, so whoever watches the traffic
(the rehearsal's proxy) counts the faults beside the results. Draws come from seeded
``random.Random`` generators, one per process.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_backend.catalog.schemas import ImportError_
from reference_backend.errors import ozon_error_body
from reference_backend.rate_limits import SELLER_API_PATH

HEADER = b"x-peakline-fault"
IMPORT_INFO = "/v1/product/import/info"


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0, le=1, description="share of Seller API requests it hits")
    burst: int = Field(default=1, ge=1, le=10_000, description="mean run of faulted requests")
    delay_ms: int = Field(default=0, ge=0, le=120_000, description="slow: the hold-back")


class FaultProfile(BaseModel):
    """The faults to inject and their rates."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    seed: int = 0
    slow: Fault | None = None
    server_errors: Fault | None = None
    throttle_storms: Fault | None = None
    import_fails_later: Fault | None = None
    serial: Fault | None = None
    push_late: Fault | None = None
    push_duplicate: Fault | None = None

    def kinds(self) -> dict[str, Fault]:
        return {k: v for k in (*REQUEST_KINDS, *PUSH_KINDS) if (v := getattr(self, k)) is not None}


REQUEST_KINDS = ("slow", "server_errors", "throttle_storms", "import_fails_later", "serial")
#: paths a fault never touches (health checks, metrics scrapes)
UNTOUCHED = frozenset({"/health", "/metrics", "/ping"})
PUSH_KINDS = ("push_late", "push_duplicate")


BUILT_IN: dict[str, dict[str, Any]] = {
    "flaky": {"name": "flaky", "slow": {"rate": 0.05, "delay_ms": 300},
              "server_errors": {"rate": 0.01, "burst": 3}},
    "black-friday": {"name": "black-friday", "slow": {"rate": 0.2, "delay_ms": 1500},
                     "server_errors": {"rate": 0.03, "burst": 10},
                     "throttle_storms": {"rate": 0.05, "burst": 25},
                     "import_fails_later": {"rate": 0.1},
                     "push_late": {"rate": 0.1, "delay_ms": 30_000},
                     "push_duplicate": {"rate": 0.05}},
}


class _Runs:
    """Whether each next request is hit: bursts of ``burst`` on average, ``rate`` in all.

    A burst starts with probability ``p = rate / (burst - rate (burst - 1))``, so that in the
    long run the share hit is ``rate`` (a burst of ``b`` takes ``b`` requests, one of which
    would have been drawn anyway)."""

    def __init__(self, fault: Fault, rng: random.Random) -> None:
        b, r = fault.burst, fault.rate
        self.start = r / (b - r * (b - 1)) if r < 1 else 1.0
        self.burst, self.left, self.rng = b, 0, rng

    def hit(self) -> bool:
        if self.left > 0:
            self.left -= 1
            return True
        if self.rng.random() < self.start:
            self.left = self.burst - 1
            return True
        return False


class OzonFaults:
    """Pure ASGI middleware injecting the profile's faults into Seller API requests."""

    def __init__(self, app: ASGIApp, *, profile: FaultProfile) -> None:
        self.app = app
        rng = random.Random(profile.seed)
        self.profile = profile
        self.runs = {kind: _Runs(f, rng) for kind, f in profile.kinds().items()
                     if kind in REQUEST_KINDS}
        self.gate = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTOUCHED:
            await self.app(scope, receive, send)
            return
        if "serial" in self.runs and self.runs["serial"].hit():
            async with self.gate:  # one at a time: the queue forms here
                await asyncio.sleep(self.profile.serial.delay_ms / 1000)  # type: ignore[union-attr]
            send = _marked(send, "serial")
        if not SELLER_API_PATH.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        for kind in ("server_errors", "throttle_storms"):
            if kind in self.runs and self.runs[kind].hit():
                status = 503 if kind == "server_errors" else 429
                message = ("Service temporarily unavailable" if status == 503 else
                           "You have reached request rate limit per second")
                await _answer(send, status, ozon_error_body(status, message), kind)
                return
        if "slow" in self.runs and self.runs["slow"].hit():
            await asyncio.sleep(self.profile.slow.delay_ms / 1000)  # type: ignore[union-attr]
            send = _marked(send, "slow")
        if scope["path"] == IMPORT_INFO and "import_fails_later" in self.runs and \
                self.runs["import_fails_later"].hit():
            await self.app(scope, receive, _failed_import(send))
            return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: dict[str, Any], kind: str) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
        (HEADER, kind.encode())] + ([(b"retry-after", b"1")] if status == 429 else [])})
    await send({"type": "http.response.body", "body": raw})


def _marked(send: Send, kind: str) -> Send:
    async def marking(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (HEADER, kind.encode())]}
        await send(message)
    return marking


def _failed_import(send: Send) -> Send:
    """Rewrites a 200 import-info answer: every item ``failed`` with an error."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def rewriting(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        raw = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        if start.get("status") == 200:
            data = json.loads(raw)
            for item in (data.get("result") or {}).get("items", []):
                item["status"] = "failed"
                item["errors"] = [ImportError_(
                    code="INTERNAL_ERROR", message="the import failed after it was accepted",
                ).model_dump()]
            raw = json.dumps(data).encode()
            headers.append((HEADER, b"import_fails_later"))
        await send({**start, "headers": [*headers, (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})
    return rewriting


class PushFaults:
    """Which push notifications go out late or twice: decided once per event, when the
    outbox worker first finds it due (a retry is not drawn again)."""

    def __init__(self, profile: FaultProfile) -> None:
        rng = random.Random(f"push-{profile.seed}")
        self.late_s = profile.push_late.delay_ms / 1000 if profile.push_late else 0.0
        self._late = _Runs(profile.push_late, rng) if profile.push_late else None
        self._twice = _Runs(profile.push_duplicate, rng) if profile.push_duplicate else None
        self._drawn: set[int] = set()
        self.delayed: set[int] = set()
        self.doubled: set[int] = set()

    @classmethod
    def from_json(cls, text: str | None) -> PushFaults | None:
        """From the ``PEAKLINE_OZON_FAULTS`` profile; ``None`` when it has no push faults."""
        if not text:
            return None
        profile = FaultProfile.model_validate_json(text)
        return cls(profile) if profile.push_late or profile.push_duplicate else None

    def draw(self, event_id: int) -> float:
        """Seconds to hold ``event_id`` back (0: send now); the first time it is seen only."""
        if event_id in self._drawn:
            return 0.0
        self._drawn.add(event_id)
        if self._twice is not None and self._twice.hit():
            self.doubled.add(event_id)
        if self._late is not None and self._late.hit():
            self.delayed.add(event_id)
            return self.late_s
        return 0.0

    def mark(self, event_id: int) -> str | None:
        """The fault a delivery of ``event_id`` carries (``X-Peakline-Fault``): ``push_late``
        or none (the extra copy of a doubled push says ``push_duplicate``)."""
        return "push_late" if event_id in self.delayed else None
