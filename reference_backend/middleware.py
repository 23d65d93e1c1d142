"""Pure ASGI middleware: request ids, metrics and the access log; tolerant JSON bodies.

:class:`RequestObserver` is what a trivial request pays for being observed (one middleware,
no per-request objects beyond its ``send`` wrapper); :class:`FreezeAfterWarmUp` keeps what
warm-up requests build out of full garbage collections.

:class:`JsonBodyMiddleware` is the one place that implements spec §1.2 for every route:
a body is JSON whatever its ``Content-Type`` (or none), and an empty (or ``null``) body is
``{}``. Routers then declare ordinary pydantic body models and never see either case. It
also refuses (400) text no database can store, in the body or the query string
(:mod:`reference_backend.wire`), so no route has to think of it.
"""

from __future__ import annotations

import gc
import itertools
import json
import re
import time
import uuid
from typing import Any

from prometheus_fastapi_instrumentator.routing import get_route_name
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_backend.logging import ACCESS, request_id_var
from reference_backend.metrics import HttpMetrics
from reference_backend.wire import unstorable_query, unstorable_text

REQUEST_ID_HEADER = b"x-request-id"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_JSON_TYPES = (b"application/json", b"application/problem+json")


class RequestObserver:
    """What every request gets, in one pass: its ``X-Request-Id`` (taken from the request or
    made, echoed in the answer, set for every log record), the Prometheus request metrics
    (:class:`~reference_backend.metrics.HttpMetrics`) and an access log line
    (:data:`~reference_backend.logging.ACCESS`).

    The metrics are labelled by route template (``/v1/items/{id}``, or ``none`` for a path
    no route matches), looked up once per method and path: routes do not change once the
    app serves (the cache is bounded: paths carry ids). Paths of the ``excluded`` routes
    (``/metrics``) are not measured.
    """

    MAX_ROUTES_CACHED = 4096

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, log_requests: bool = True,
                 excluded: tuple[str, ...] = ("/metrics",)) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        self.excluded = excluded
        self._routes: dict[tuple[str, str], str | None] = {}  # None: not measured
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()

    def _handler(self, scope: Scope) -> str | None:
        key = (scope["method"], scope["path"])
        try:
            return self._routes[key]
        except KeyError:
            pass
        template = get_route_name(Request(scope), should_include_root_path=False)
        name = template or scope["path"]
        handler = None if any(e in name for e in self.excluded) else template or "none"
        if len(self._routes) >= self.MAX_ROUTES_CACHED:
            self._routes.clear()
        self._routes[key] = handler
        return handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        handler = self._handler(scope)
        incoming, request_bytes = b"", 0
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                incoming = value
            elif name == b"content-length":
                request_bytes = int(value) if value.isdigit() else 0
        request_id = (incoming.decode("latin-1")[:100] if incoming
                      else f"{self._id_prefix}{next(self._ids):016x}")
        id_header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        token = request_id_var.set(request_id)
        status, response_bytes = 500, 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                for name, value in headers:
                    if name == b"content-length":
                        response_bytes = int(value)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if handler is not None:
                self.metrics.observe(scope["method"], handler, int(status), request_bytes,
                                     response_bytes, seconds)
            if self.log_requests:
                ACCESS.add(scope["method"], scope["path"], status, seconds)
            request_id_var.reset(token)


class JsonBodyMiddleware:
    """Makes every body-carrying request JSON: any Content-Type parsed as JSON; empty -> ``{}``;
    a NUL character or a lone surrogate in any string of the body or query -> 400.
    Paths under ``passthrough_prefix`` (the web console's HTML forms) are left alone."""

    def __init__(self, app: ASGIApp, *, passthrough_prefix: str | None = None) -> None:
        self.app = app
        self.passthrough = (passthrough_prefix.rstrip("/") + "/") if passthrough_prefix else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
                self.passthrough and (scope["path"] + "/").startswith(self.passthrough)):
            await self.app(scope, receive, send)
            return
        bad = unstorable_query(scope.get("query_string", b""))
        if bad is None and "\x00" in scope["path"]:
            bad = ("path", "contains a NUL character (\\u0000)")
        if bad is not None:
            await _refuse_text(scope, send, *bad)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:  # bounded by the body limit outside (reference_backend.body_limit)
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body.strip() in (b"", b"null"):
            body = b"{}"
        elif _MAY_HOLD_UNSTORABLE.search(body):
            bad = _unstorable_body(body)
            if bad is not None:
                await _refuse_text(scope, send, *bad)
                return
        headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")
        ]
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if not content_type.split(b";")[0].strip().lower().endswith(_JSON_TYPES):
            content_type = b"application/json"
        headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        new_scope: dict[str, Any] = {**scope, "headers": headers}
        await self.app(new_scope, replay, send)


#: A JSON escape (``\\u0000``, ``\\ud800``) or a UTF-8 lead byte of an encoded surrogate: the
#: only ways a body can carry a NUL or a lone surrogate (others are not parsed twice).
_MAY_HOLD_UNSTORABLE = re.compile(rb"\\u|\xed")


def _unstorable_body(body: bytes) -> tuple[str, str] | None:
    try:
        parsed = json.loads(body)
    except ValueError:  # not JSON: the route's validation answers 400
        return None
    return unstorable_text(parsed)


async def _refuse_text(scope: Scope, send: Send, field: str, problem: str) -> None:
    await _refuse(scope, send, 400, f"invalid request: {field}: {problem}", "INVALID_ARGUMENT",
                  [{"field": field, "problem": problem}])


async def _refuse(scope: Scope, send: Send, status: int, message: str, code: str,
                  details: list[dict[str, str]]) -> None:
    """Answer with the error body of the path's family before any route runs."""
    from reference_backend.errors import is_peakline_path, ozon_error_body, peakline_error_body

    body = (peakline_error_body(code, message, details) if is_peakline_path(scope["path"])
            else ozon_error_body(status, message))
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class FreezeAfterWarmUp:
    """Moves what the first requests built for good out of the garbage collector's reach.

    A server freezes its heap once started (``create_app(freeze_gc=True)``), but much is built
    lazily by the first requests of each kind (ORM state, validators, statement caches):
    ~30k such objects made each full collection pause a worker 17-33 ms every ~2 s under
    load. So after 1,000 requests, and each time the count doubles up to 64,000, one
    collection and a ``gc.freeze`` (seven pauses in a server's life; then a pass-through).
    """

    def __init__(self, app: ASGIApp, *, first: int = 1000, last: int = 64_000) -> None:
        self.app = app
        self.seen = 0
        self.next_freeze = first
        self.last = last

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.next_freeze <= self.last and scope["type"] == "http":
            self.seen += 1
            if self.seen == self.next_freeze:
                self.next_freeze *= 2
                gc.collect()
                gc.freeze()
        await self.app(scope, receive, send)
