"""Error bodies and exception handlers: never a bare 500, always JSON with a machine code.

Two families by path:

* Seller API paths (the Ozon-compatible routes at the server root) answer Ozon's
  ``rpcStatus`` body ``{"code": <gRPC int>, "message": str, "details": []}`` (spec §1.5).
* Peakline's own paths (``/marketplace/``, ``/peakline/``) answer
  ``{"code": "OUT_OF_STOCK", "message": str, "details": [...]}``.

Validation errors are 400 in both families (422 is kept for an Idempotency-Key reused with
another body). Routers raise :class:`ApiError` or a service
:class:`~reference_backend.domain_errors.DomainError`; both become the right body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from reference_backend.domain_errors import DomainError

log = logging.getLogger("reference_backend.errors")

PEAKLINE_PREFIXES = ("/marketplace/", "/peakline/")

#: HTTP status -> gRPC code (spec §1.5: 3 InvalidArgument, 5 NotFound, 7 PermissionDenied,
#: 6 AlreadyExists/Conflict, 13 Internal; plus 16 Unauthenticated, 8 ResourceExhausted...).
GRPC_CODE = {
    400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 409: 6, 410: 9, 413: 3, 415: 3, 422: 3,
    429: 8, 500: 13, 501: 12, 503: 14, 504: 4,
}

#: Domain error kind -> HTTP status.
KIND_STATUS = {
    "invalid": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404,
    "conflict": 409, "gone": 410, "mismatch": 422, "unavailable": 503,
}

#: Default machine codes of Peakline bodies by status.
STATUS_CODE_NAME = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 410: "GONE",
    413: "TOO_LARGE",
    422: "UNPROCESSABLE", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL", 503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An HTTP error a router raises directly: status, message, optional machine code/details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or STATUS_CODE_NAME.get(status, "ERROR")
        self.details = details or []
        self.headers = headers


def is_peakline_path(path: str) -> bool:
    return path.startswith(PEAKLINE_PREFIXES)


def ozon_error_body(status: int, message: str) -> dict[str, Any]:
    """Ozon's error body (``details`` empty; clients read ``code`` and ``message``)."""
    return {"code": GRPC_CODE.get(status, 2), "message": message, "details": []}


def peakline_error_body(code: str, message: str, details: list[Any] | None = None) -> dict:
    return {"code": code, "message": message, "details": details or []}


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error response for ``request``'s path family."""
    if is_peakline_path(request.url.path):
        body = peakline_error_body(code or STATUS_CODE_NAME.get(status, "ERROR"), message, details)
    else:
        body = ozon_error_body(status, message)
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def validation_details(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """pydantic errors -> ``[{"field": "lines[0].quantity", "problem": "..."}]``."""
    return [
        {"field": "body", "problem": "not valid JSON"} if e.get("type") == "json_invalid"
        else {"field": _field(e.get("loc", ())), "problem": str(e.get("msg", ""))}
        for e in errors
    ]


def validation_message(details: list[dict[str, str]]) -> str:
    text = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return f"invalid request: {text}" if text else "invalid request"


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = validation_details(list(exc.errors()))
    return error_response(
        request, 400, validation_message(details), code="INVALID_ARGUMENT", details=details
    )


async def _on_domain(request: Request, exc: DomainError) -> JSONResponse:
    status = KIND_STATUS.get(exc.kind, 400)
    return error_response(request, status, exc.message, code=exc.code, details=exc.details)


async def _on_api(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(
        request, exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"method {request.url.path} not found"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:  # starlette names the methods of the first route of the path only
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(request, exc.status_code, message, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at the request's path."""
    path = request.scope["path"]
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if context.path and context.methods and compile_path(context.path)[0].match(path):
            methods |= context.methods
    return sorted(methods)


async def _on_db_busy(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database busy: %s", exc)
    return error_response(
        request, 503, "database busy, retry", code="UNAVAILABLE", headers={"Retry-After": "1"}
    )


async def _on_overflow(request: Request, exc: OverflowError) -> JSONResponse:
    return error_response(request, 400, "a number is out of range", code="INVALID_ARGUMENT")


async def _on_data_error(request: Request, exc: DataError) -> JSONResponse:
    """The database refused a value (an integer past an int32 column, say): the request's
    transaction is rolled back, so nothing changed. Schemas bound such fields first
    (:mod:`reference_backend.wire`); this is the backstop for one they missed."""
    log.warning("database refused a value on %s: %s", request.url.path,
                str(exc.orig).splitlines()[0] if exc.orig else exc)
    return error_response(request, 400, "a value is out of range for its field",
                          code="INVALID_ARGUMENT")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "Internal error", code="INTERNAL")


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _on_domain)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _on_api)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _on_db_busy)
    app.add_exception_handler(PoolTimeout, _on_db_busy)
    app.add_exception_handler(OverflowError, _on_overflow)  # e.g. int beyond SQLite INTEGER
    app.add_exception_handler(DataError, _on_data_error)  # e.g. int beyond PostgreSQL integer
    app.add_exception_handler(Exception, _on_unexpected)
