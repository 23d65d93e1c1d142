"""Pure ASGI middleware: request ids with an access log line, and tolerant JSON bodies.

Also :class:`CachedRouteMetrics`: the Prometheus instrumentator's middleware with its route
lookup cached (it otherwise flattens and regex-matches the route table on every request),
and :class:`FreezeAfterWarmUp`, which keeps what warm-up requests build out of full
garbage collections.

:class:`JsonBodyMiddleware` is the one place that implements spec §1.2 for every route:
a body is JSON whatever its ``Content-Type`` (or none), and an empty (or ``null``) body is
``{}``. Routers then declare ordinary pydantic body models and never see either case. It
also refuses (400) text no database can store, in the body or the query string
(:mod:`reference_backend.wire`), so no route has to think of it.
"""

from __future__ import annotations

import gc
import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_backend.logging import ACCESS_LOGGER, request_id_var
from reference_backend.wire import unstorable_query, unstorable_text

access_log = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = b"x-request-id"
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_JSON_TYPES = (b"application/json", b"application/problem+json")


class RequestIdMiddleware:
    """Takes ``X-Request-Id`` from the request (or makes one), echoes it, logs the request."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = incoming.decode("latin-1")[:100] if incoming else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class JsonBodyMiddleware:
    """Makes every body-carrying request JSON: any Content-Type parsed as JSON; empty -> ``{}``;
    a NUL character or a lone surrogate in any string of the body or query -> 400.
    Paths under ``passthrough_prefix`` (the web console's HTML forms) are left alone."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 10 * 1024 * 1024,
                 passthrough_prefix: str | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
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
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await _too_large(scope, send, self.max_body_bytes)
                return
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


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await _refuse(scope, send, 413, f"request body larger than {limit} bytes", "TOO_LARGE", [])


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


class CachedRouteMetrics(PrometheusInstrumentatorMiddleware):
    """``prometheus_fastapi_instrumentator``'s middleware, route templates cached by path.

    The library resolves the route template of every request by flattening the app's route
    table and matching it in order; that cost grows with the routes before the match (a
    buyer order paid ~0.1 ms). Routes do not change once the app serves, so the answer for
    a (method, path, root_path) is remembered; the cache is bounded (paths carry ids).
    """

    MAX_ENTRIES = 4096

    def __init__(self, app: ASGIApp, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._handlers: dict[tuple[str, str, str], tuple[str, bool]] = {}

    def _get_handler(self, request: Request) -> tuple[str, bool]:
        scope = request.scope
        key = (scope["method"], scope["path"], scope.get("root_path", ""))
        found = self._handlers.get(key)
        if found is None:
            found = super()._get_handler(request)
            if len(self._handlers) >= self.MAX_ENTRIES:
                self._handlers.clear()
            self._handlers[key] = found
        return found


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
