"""The OpenAPI document as the server answers: every error is the path family's error body.

FastAPI documents a 422 with its own validation shape on every route with a body or a
parameter; this server answers validation errors with 400 and the Ozon (``rpcStatus``) or
Peakline error body (:mod:`reference_backend.errors`). :func:`install_openapi` makes the
document say so: the 422s of FastAPI's shape are replaced by a 400, and every operation
documents its other errors (401, 403, 404, 409, 429, 503...) as ``default`` with the same body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reference_backend.errors import is_peakline_path

OZON_ERROR = "OzonError"
PEAKLINE_ERROR = "PeaklineError"

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    OZON_ERROR: {
        "title": OZON_ERROR,
        "description": "Ozon's error body (rpcStatus): a gRPC code, a message, no details.",
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "integer", "description": "gRPC status code"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {}},
        },
    },
    PEAKLINE_ERROR: {
        "title": PEAKLINE_ERROR,
        "description": "Peakline's error body: a machine code, a message, details per field.",
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "description": "e.g. INVALID_ARGUMENT, OUT_OF_STOCK"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object"}},
        },
    },
}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _error_response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == _FASTAPI_VALIDATION


def describe_errors(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the server's error answers (changed in place, and returned)."""
    for path, item in document.get("paths", {}).items():
        schema = PEAKLINE_ERROR if is_peakline_path(path) else OZON_ERROR
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if _is_fastapi_validation(responses.get("422", {})):
                del responses["422"]
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:  # declared without a body
                    response.update(_error_response(response.get("description") or "error",
                                                    schema))
            responses.setdefault("400", _error_response("invalid request", schema))
            responses.setdefault("default", _error_response("an error", schema))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(ERROR_SCHEMAS)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s document with :func:`describe_errors` applied (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes, tags=app.openapi_tags,
                servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
