"""A route whose parameters are read by hand instead of by FastAPI's dependency solver.

FastAPI reads an endpoint's parameters per request by walking its dependency tree: on the
buyer order route that walk (with its request handler around it) cost ~70 us of the ~450 us
of server CPU an order takes, more than the route's own Python. :class:`LeanRoute` is an
``APIRoute`` like any other (path, matching, OpenAPI document, exception handlers,
``request_response`` around it) whose handler does that walk's work for the one signature
shape it accepts, in FastAPI's order and with FastAPI's errors:

1. the body's JSON, first (invalid JSON: the ``json_invalid`` validation error; a body that
   is not JSON by its ``Content-Type`` is validated as bytes, as FastAPI does);
2. the dependencies, in declaration order: async functions of the ``Request`` alone
   (``app.dependency_overrides`` honoured);
3. the body model's validation (errors located under ``body``, as FastAPI reports them);
4. the endpoint (async), whose answer is returned as it is (a ``Response``).

A parameter of any other kind, or ``dependencies=[...]`` on the route or its router, is
refused when the route is built (``TypeError``), so the route cannot silently skip something
FastAPI would have read (its router is included in the app without dependencies).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from fastapi import params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


class LeanRoute(APIRoute):
    """An ``APIRoute`` served by :func:`lean_handler` (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        if self.dependencies:  # (a router's or the route's own ``dependencies=[...]``)
            raise TypeError(f"{self.path}: a lean route reads its endpoint's parameters "
                            "only, no dependencies=[...]")
        return lean_handler(self.endpoint)


def lean_handler(endpoint: Callable[..., Awaitable[Response]]) -> Handler:
    """The request handler of ``endpoint(body: Model, request: Request, name: Annotated[T,
    Depends(async_fn_of_request)], ...)``."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: a lean route's endpoint is async")
    hints = get_type_hints(endpoint, include_extras=True)
    request_names: list[str] = []
    dependencies: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
    body: tuple[str, type[BaseModel]] | None = None
    for name in inspect.signature(endpoint).parameters:
        hint = hints.get(name)
        depends = _depends(hint)
        if hint is Request:
            request_names.append(name)
        elif depends is not None:
            dependencies.append((name, _request_only(depends.dependency)))
        elif body is None and isinstance(hint, type) and issubclass(hint, BaseModel):
            body = (name, hint)
        else:
            raise TypeError(f"{endpoint.__name__}({name}): not a parameter a lean route reads")
    if body is None:
        raise TypeError(f"{endpoint.__name__}: a lean route takes a body model")
    body_name, model = body

    async def handler(request: Request) -> Response:
        data = await _body(request)
        overrides = getattr(request.app, "dependency_overrides", None) or {}
        values: dict[str, Any] = dict.fromkeys(request_names, request)
        for name, dependency in dependencies:
            values[name] = await overrides.get(dependency, dependency)(request)
        values[body_name] = _validated(model, data)
        return await endpoint(**values)

    return handler


def _depends(hint: Any) -> params.Depends | None:
    if get_origin(hint) is not Annotated:
        return None
    found = [m for m in get_args(hint)[1:] if isinstance(m, params.Depends)]
    return found[-1] if found else None


def _request_only(dependency: Any) -> Callable[[Request], Awaitable[Any]]:
    """``dependency`` when it is an async function of the request alone (else TypeError)."""
    signature = inspect.signature(dependency)
    hints = get_type_hints(dependency)
    if (not inspect.iscoroutinefunction(dependency) or len(signature.parameters) != 1
            or hints.get(next(iter(signature.parameters))) is not Request):
        raise TypeError(f"{getattr(dependency, '__name__', dependency)}: a lean route's "
                        "dependencies are async functions of the Request alone")
    return dependency  # type: ignore[no-any-return]


_MISSING = object()


async def _body(request: Request) -> Any:
    """The body as FastAPI reads it: JSON when its type says so, else the bytes."""
    raw = await request.body()
    if not raw:
        return _MISSING
    if not _is_json(request.headers.get("content-type")):
        return raw
    try:  # (Starlette's parser: orjson reads some numbers otherwise, e.g. past 64 bits)
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{
            "type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
            "input": {}, "ctx": {"error": exc.msg}}], body=exc.doc) from exc
    except Exception as exc:  # e.g. not UTF-8: as FastAPI answers it
        raise HTTPException(400, "There was an error parsing the body") from exc


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/")
                                          and kind.endswith("+json"))


def _validated(model: type[BaseModel], data: Any) -> BaseModel:
    if data is _MISSING:
        raise RequestValidationError([{"type": "missing", "loc": ("body",),
                                       "msg": "Field required", "input": None}])
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])}
             for error in exc.errors(include_url=False)], body=data) from None
