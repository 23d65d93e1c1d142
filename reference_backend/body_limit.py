"""How large a request body may be, per route: refused (413) before a route reads it.

A body larger than its path's bound (:data:`BOUNDS`) is refused before any of it is parsed or
stored: at once when its ``Content-Length`` says so, and, for a body sent without a length
(chunked), as soon as what has arrived passes the bound; the route then sees the client gone
and its own answer is dropped. API paths answer in their family's error shape (Ozon's
``{"code": 3, ...}``, Peakline's ``TOO_LARGE``); console paths answer a page
(:func:`reference_backend.console.web.too_large_page`).

A request with a ``Content-Length`` within its bound passes untouched: the server delivers
no more than that length.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_backend.console.web import PREFIX as CONSOLE
from reference_backend.console.web import too_large_page
from reference_backend.errors import error_response

KiB, MiB = 1024, 1024 * 1024

#: (path prefix, largest body in bytes): the first prefix a path starts with bounds it.
BOUNDS: tuple[tuple[str, int], ...] = (
    ("/v1/chat/send/file", 8 * MiB),  # a 5 MiB file as base64 (6.7 MiB) in JSON
    ("/v3/product/import", 4 * MiB),  # 100 products with their attributes and image links
    ("/v1/product/attributes/update", 4 * MiB),
    (CONSOLE + "/chats/", 5 * MiB + 64 * KiB),  # a 5 MiB chat file, as a form
    (CONSOLE + "/products/import", 4 * MiB),  # CSV files
    (CONSOLE + "/stock/plan", 4 * MiB),
    (CONSOLE + "/", 256 * KiB),  # the console's other forms
    ("/", 1 * MiB),  # every other JSON request
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bound(path: str) -> int:
    """The largest body ``path`` accepts."""
    for prefix, limit in BOUNDS:
        if path.startswith(prefix):
            return limit
    return BOUNDS[-1][1]


async def refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """Answer 413 in the path's family: an API error body, or a console page."""
    request = Request(scope, receive)
    if (scope["path"] + "/").startswith(CONSOLE + "/"):
        response = too_large_page(request, limit)
    else:
        response = error_response(request, 413, f"request body larger than {limit} bytes",
                                  code="TOO_LARGE")
    await response(scope, receive, send)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None when it has none (or not a number)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """The ASGI middleware refusing bodies past their path's :func:`bound`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = bound(scope["path"])
        length = declared_length(scope)
        if length is not None:
            if length > limit:
                await refuse(scope, receive, send, limit)
            else:
                await self.app(scope, receive, send)
            return
        await self._streamed(scope, receive, send, limit)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A body without a length: counted as it arrives; past ``limit`` the route sees the
        client gone (``http.disconnect``) and the 413 is the answer."""
        received, refused, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await refuse(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:  # a route failing on the cut-off body: the 413 is the answer
                raise
