"""The buyer order route served by LeanRoute answers as FastAPI's own handler does.

The real app (SQLite) gets a second route for the same endpoint, solved by FastAPI
(``APIRoute``); every request goes to both and the answers (status, body, headers but the
request id) must be equal: broken and non-JSON bodies, invalid fields, missing or bad
platform keys in each combination (FastAPI reads the body's JSON before the key, and
validates the body after it), a too-long Idempotency-Key, orders placed and replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from reference_backend.app import create_app
from reference_backend.lean_route import LeanRoute, lean_handler
from reference_backend.marketplace.order_route import create_order
from reference_backend.settings import Settings
from tests.backend_support import platform_headers, seeded_sqlite

LEAN, SOLVED = "/marketplace/v1/orders", "/marketplace/v1/orders-solved"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    url, creds = seeded_sqlite(tmp_path_factory.mktemp("lean"))
    app = create_app(Settings(database_url=url, log_requests=False, log_level="WARNING",
                              run_outbox_worker=False, migrate_on_start=False))
    app.router.add_api_route(SOLVED, create_order, methods=["POST"], status_code=201)
    routes = {c.path or c.original_route.path: type(c.original_route)
              for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)}
    assert routes[LEAN] is LeanRoute and routes[SOLVED] is APIRoute
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, creds


def _answer(response) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, response.text, headers


def _both(client: TestClient, content: bytes, headers: dict[str, str]) -> tuple:
    lean = client.post(LEAN, content=content, headers=headers)
    solved = client.post(SOLVED, content=content, headers=headers)
    assert _answer(lean) == _answer(solved)
    return _answer(lean)


def _body(creds: dict, **changes) -> bytes:
    body = {"client_id": creds["client_id"], "region": "R-MSK",
            "lines": [{"sku": creds["sku_base"], "quantity": 1}], **changes}
    return json.dumps(body).encode()


REFUSED = [
    b"{not json", b'{"client_id": "1", "region": "R', b"[1, 2]", b'"text"', b"null", b"",
    b'{"client_id": NaN}', "{\"region\": \"\udcff\"}".encode("utf-8", "surrogatepass"),
    b"\xff\xfe{}", b'{"client_id": "1", "region": "R-MSK", "lines": [{"sku": 1e400}]}',
    b'{"client_id": "1", "region": "R-MSK", "lines": [{"sku": 123456789012345678901234}]}',
]


@pytest.mark.parametrize("content", REFUSED)
@pytest.mark.parametrize("auth", ["good", "none", "bad"])
def test_refusals_match_fastapi(client, content, auth):
    test_client, creds = client
    headers = {"good": platform_headers(creds), "none": {},
               "bad": {"Authorization": "Bearer nope"}}[auth]
    status, _, _ = _both(test_client, content, {**headers, "Content-Type": "application/json"})
    assert status in (400, 401, 422)


@pytest.mark.parametrize("changes", [
    {"lines": []}, {"lines": [{"sku": "x", "quantity": 1}]}, {"region": ""},
    {"client_id": 5}, {"lines": [{"sku": 1, "quantity": 0}]}, {"lines": "x"},
    {"lines": [{"sku": 1, "quantity": 1}] * 101}, {"region": "NOWHERE"},
    {"lines": [{"sku": 999999999, "quantity": 1}]}, {"client_id": "999999"},
])
def test_invalid_orders_match_fastapi(client, changes):
    test_client, creds = client
    status, _, _ = _both(test_client, _body(creds, **changes), platform_headers(creds))
    assert status >= 400


def test_content_types_and_key_header_match_fastapi(client):
    test_client, creds = client
    auth = platform_headers(creds)
    for content_type in ("text/plain", "application/vnd.api+json", "application/json; a=b"):
        _both(test_client, b"{broken", {**auth, "Content-Type": content_type})
    status, _, _ = _both(test_client, _body(creds), {**auth, "Idempotency-Key": "k" * 256})
    assert status == 400


def test_placed_and_replayed_orders_match_fastapi(client):
    test_client, creds = client
    headers = {**platform_headers(creds), "Idempotency-Key": "lean-1"}
    first = test_client.post(LEAN, content=_body(creds), headers=headers)
    assert first.status_code == 201
    # the same key and body on the solved route: the stored answer, replayed, on both
    replays = [_both(test_client, _body(creds), headers) for _ in range(2)]
    assert replays[0] == replays[1]
    assert replays[0][0] == 201 and json.loads(replays[0][1]) == first.json()
    assert replays[0][2]["idempotent-replayed"] == "true"
    fresh = [test_client.post(path, content=_body(creds), headers=platform_headers(creds))
             for path in (LEAN, SOLVED)]
    assert [r.status_code for r in fresh] == [201, 201]
    assert {k for k in fresh[0].json()} == {k for k in fresh[1].json()}


class _Model(BaseModel):
    n: int


async def _dependency(request: Request) -> int:
    return 1


def test_parameters_a_lean_route_cannot_read_are_refused():
    async def with_query(body: _Model, limit: int) -> None: ...

    async def with_sync_dependency(body: _Model, x: Annotated[int, Depends(lambda: 1)]) -> None:
        ...

    def sync_endpoint(body: _Model) -> None: ...

    async def no_body(request: Request) -> None: ...

    async def fine(body: _Model, request: Request,
                   x: Annotated[int, Depends(_dependency)]) -> None: ...

    for endpoint in (with_query, with_sync_dependency, sync_endpoint, no_body):
        with pytest.raises(TypeError):
            lean_handler(endpoint)
    assert callable(lean_handler(fine))
    router = APIRouter(dependencies=[Depends(_dependency)])
    with pytest.raises(TypeError):
        router.add_api_route("/x", fine, methods=["POST"], route_class_override=LeanRoute)
