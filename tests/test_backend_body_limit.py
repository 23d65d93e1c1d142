"""Request bodies past their route's bound are refused (413) before a route reads them, from
``Content-Length`` and while a body without one streams in (reference_backend.body_limit)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from reference_backend.app import create_app
from reference_backend.body_limit import MiB, bound
from reference_backend.settings import Settings
from tests.backend_support import seed_smoke, seller_headers, sqlite_url


@pytest.fixture()
def client(tmp_path) -> Iterator[TestClient]:
    url = sqlite_url(tmp_path)
    creds = seed_smoke(url)
    app = create_app(Settings(database_url=url, log_requests=False))
    router = APIRouter()
    app.state.echoed = []

    @router.post("/v1/echo")
    @router.post("/peakline/v1/echo")
    def echo(body: dict) -> dict:
        app.state.echoed.append(len(body))
        return {"keys": len(body)}

    app.include_router(router)
    with TestClient(app) as test_client:
        test_client.headers.update(seller_headers(creds))
        yield test_client


def _json_of(size: int) -> bytes:
    """A JSON object of ``size`` bytes."""
    return b'{"a": "' + b"x" * (size - 9) + b'"}'


def _chunked(body: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``body`` with no length: sent chunked."""
    for start in range(0, len(body), chunk):
        yield body[start:start + chunk]


def test_bounds_are_per_route_json_far_below_files() -> None:
    assert bound("/v1/product/info/list") == bound("/v2/posting/fbs/list") == 1 * MiB
    assert bound("/v1/chat/send/file") == 8 * MiB  # 5 MiB as base64, with its envelope
    assert bound("/console/chats/abc/file") > 5 * MiB > bound("/console/postings/1/ship")


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_json_body_is_refused_before_the_route(
    client: TestClient, stream: bool
) -> None:
    body = _json_of(1 * MiB + 1)
    for path, shape in (("/v1/echo", {"code": 3, "details": []}),
                        ("/peakline/v1/echo", {"code": "TOO_LARGE", "details": []})):
        answer = client.post(path, content=_chunked(body) if stream else body)
        assert answer.status_code == 413, answer.text[:200]
        assert {k: answer.json()[k] for k in shape} == shape
        assert str(1 * MiB) in answer.json()["message"]
    assert client.app.state.echoed == []  # no route ran
    fits = client.post("/v1/echo", content=_chunked(_json_of(MiB)) if stream else _json_of(MiB))
    assert fits.status_code == 200 and client.app.state.echoed == [1]


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
def test_a_chat_file_may_be_5_mib_and_no_more(client: TestClient, stream: bool) -> None:
    def send(size: int) -> dict:
        content = base64.b64encode(b"\x00" * size).decode()
        body = (b'{"chat_id": "no-such-chat", "name": "a.bin", "base64_content": "'
                + content.encode() + b'"}')
        answer = client.post("/v1/chat/send/file",
                             content=_chunked(body) if stream else body)
        return {"status": answer.status_code, **answer.json()}

    assert send(5 * MiB)["status"] == 404  # read whole: the chat is what is wrong
    refused = send(7 * MiB)
    assert refused["status"] == 413 and refused["code"] == 3
