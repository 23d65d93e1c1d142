"""The recording proxy between the integration under test and the backend.

The integration's ``OZON_API_URL`` points here; every request goes on to the backend
unchanged and its answer comes back unchanged, while the :class:`Ledger` notes the status
(429s, errors), the posting numbers in answers about postings (first seen), successful
shipments (``/v*/posting/fbs/ship``: the posting in the request), labels fetched
(``.../package-label``), stock items updated (``/v2/products/stocks``) and the faults the
backend injected (``X-Peakline-Fault``, see ``reference_backend.faults``).

Push notifications take the same road the other way: the seller's webhook is registered as
this proxy's :data:`PUSH_PATH`, and each push the backend sends there goes on to the
integration's push URL, noted in the ledger (its type, its posting as first seen, late or
duplicated pushes the backend made on purpose).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from loadtests.rehearsal.ledger import Ledger

#: hop-by-hop headers a proxy must not forward
PUSH_PATH = "/peakline-rehearsal/push"
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
        "host", "upgrade", "te", "trailer", "proxy-authorization", "proxy-authenticate"}


def posting_numbers(data: Any) -> set[str]:
    """Every ``posting_number`` value anywhere in a JSON document."""
    found: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "posting_number" and isinstance(value, str):
                    found.add(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


class RecordingProxy:
    """ASGI app forwarding to ``backend`` and recording into ``ledger``."""

    def __init__(self, backend: str, ledger: Ledger, *, push_target: str | None = None) -> None:
        self.ledger = ledger
        self.push_target = push_target
        self.client = httpx.AsyncClient(base_url=backend, timeout=60,
                                        limits=httpx.Limits(max_connections=200))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        path = request.url.path
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        if path == PUSH_PATH and self.push_target:
            await (await self._push(body, headers))(scope, receive, send)
            return
        try:
            answer = await self.client.request(request.method, path, params=request.query_params,
                                               content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.ledger.request(path, 0)
            await Response(f"proxy: backend unreachable: {exc}", 502)(scope, receive, send)
            return
        self.ledger.request(path, answer.status_code)
        if fault := answer.headers.get("x-peakline-fault"):
            self.ledger.faults[fault] += 1
        if answer.status_code == 200:
            self._note(path, body, answer)
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP}
        await Response(answer.content, answer.status_code, out)(scope, receive, send)

    def _note(self, path: str, body: bytes, answer: httpx.Response) -> None:
        if "/posting/" not in path and path != "/v2/products/stocks":
            return
        try:
            sent = json.loads(body or b"{}")
        except ValueError:
            sent = {}
        if path.endswith("/posting/fbs/ship"):
            if isinstance(sent, dict) and isinstance(sent.get("posting_number"), str):
                self.ledger.shipped(sent["posting_number"])
            return
        if path.endswith("package-label"):
            numbers = sent.get("posting_number") if isinstance(sent, dict) else None
            self.ledger.labelled([numbers] if isinstance(numbers, str) else list(numbers or []))
            return
        if not answer.headers.get("content-type", "").startswith("application/json"):
            return
        try:
            data = answer.json()
        except ValueError:
            return
        if path == "/v2/products/stocks":
            self.ledger.stock_updates += sum(bool(r.get("updated"))
                                             for r in data.get("result") or [])
        else:
            self.ledger.seen(posting_numbers(data))

    async def _push(self, body: bytes, headers: dict[str, str]) -> Response:
        """Pass a push on to the integration; the backend retries what is not a 2xx."""
        assert self.push_target is not None
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        try:
            answer = await self.client.post(self.push_target, content=body, headers=headers,
                                            timeout=5)
            status = answer.status_code
        except httpx.HTTPError:
            status = 0
        self.ledger.pushed(data if isinstance(data, dict) else {},
                           headers.get("x-peakline-event-id", ""), status,
                           headers.get("x-peakline-fault"))
        if status == 0:
            return Response("proxy: the integration's push URL did not answer", 502)
        return Response(answer.content, status, {"content-type": answer.headers.get(
            "content-type", "application/json")})

    async def close(self) -> None:
        await self.client.aclose()
