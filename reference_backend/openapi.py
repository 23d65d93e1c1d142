"""The OpenAPI document as the server answers: every error is the path family's error body.

FastAPI documents a 422 with its own validation shape on every route with a body or a
parameter; this server answers validation errors with 400 and the Ozon (``rpcStatus``) or
Peakline error body (:mod:`reference_backend.errors`). :func:`install_openapi` makes the
document say so: the 422s of FastAPI's shape are replaced by a 400, and every operation
documents its other errors (401, 403, 404, 409, 429, 503...) as ``default`` with the same body.

The keys a route takes are read from the request, not declared as parameters (see
:func:`reference_backend.auth.authenticated_seller`); the document names them as security
schemes, found from each route's dependencies: a seller key (``Client-Id`` + ``Api-Key``), a
person's session (``Authorization: Bearer``, account routes) or a platform key (``Bearer``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from reference_backend.accounts.deps import caller
from reference_backend.auth import authenticated_platform, authenticated_seller
from reference_backend.errors import is_peakline_path
from reference_backend.wire import INT64_MAX, INT64_MIN

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
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ClientId": {"type": "apiKey", "in": "header", "name": "Client-Id",
                 "description": "the seller's Client-Id (sent with Api-Key)"},
    "ApiKey": {"type": "apiKey", "in": "header", "name": "Api-Key",
               "description": "a seller API key (sent with Client-Id)"},
    "Session": {"type": "http", "scheme": "bearer",
                "description": "a person's session token from POST /peakline/v1/accounts/sign-in"},
    "PlatformKey": {"type": "http", "scheme": "bearer",
                    "description": "a marketplace platform key (peakline seed prints it)"},
}
SELLER_KEY = {"ClientId": [], "ApiKey": []}
#: The dependency that reads a route's keys -> the document's ``security`` of the route.
_SECURITY_OF = {
    authenticated_seller: [SELLER_KEY],
    caller: [SELLER_KEY, {"Session": []}],
    authenticated_platform: [{"PlatformKey": []}],
}
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")  # "{account_id:int}" -> "{account_id}"
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


def route_security(app: FastAPI) -> dict[tuple[str, str], list[dict[str, list]]]:
    """``(path, method) -> security requirements`` of every route that reads a key."""
    found: dict[tuple[str, str], list[dict[str, list]]] = {}

    def walk(dependant: Any) -> list[dict[str, list]] | None:
        reads = getattr(dependant.call, "peakline_keys", dependant.call)  # (auth.require)
        if reads in _SECURITY_OF:
            return _SECURITY_OF[reads]
        return next(filter(None, map(walk, dependant.dependencies)), None)

    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and (security := walk(route.dependant)) is not None:
            path = _CONVERTOR.sub(r"{\1}", context.path or route.path)  # as documented
            for method in route.methods:
                found[(path, method.lower())] = security
    return found


def describe_security(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """``document`` with the keys each operation takes (changed in place, and returned)."""
    for (path, method), security in route_security(app).items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["security"] = security
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    return document


_BOUND_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def exact_integer_bounds(node: Any) -> Any:
    """Integer bounds as integers (changed in place, and returned).

    FastAPI's document model holds ``minimum``/``maximum`` as floats: ``2**63 - 1`` became
    ``9.223372036854776e18``, which is ``2**63``, a value no int64 column holds. An integer
    schema's float bound is written back as the integer, the int64 range's ends exactly.
    """
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in _BOUND_KEYS:
                if isinstance(node.get(key), float):
                    node[key] = min(max(int(node[key]), INT64_MIN), INT64_MAX)
        for value in node.values():
            exact_integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            exact_integer_bounds(value)
    return node


def optional_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """A body whose model requires nothing is optional and may be ``null`` (changed in place,
    and returned): the server reads an absent, empty or ``null`` body as ``{}``
    (``middleware.JsonBodyMiddleware``)."""
    schemas = document.get("components", {}).get("schemas", {})
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            body = operation.get("requestBody") if method in _METHODS else None
            if not body:
                continue
            schema = body.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref", "")
            model = schemas.get(ref.rpartition("/")[2], {}) if ref else schema
            if model.get("type") == "object" and not model.get("required"):
                body["required"] = False
                body["content"]["application/json"]["schema"] = {"anyOf": [schema,
                                                                           {"type": "null"}]}
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``app``'s document with :func:`describe_errors` applied (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes, tags=app.openapi_tags,
                servers=app.servers)
            app.openapi_schema = exact_integer_bounds(optional_bodies(
                describe_security(describe_errors(document), app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
