"""Steps of a posting's life over HTTP, for tests of the back-office groups: a buyer order
(marketplace route), assembly (``/v4/posting/fbs/ship``), logistics events, and an
``ozonapi`` client pointed at a test server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.backend_support import (
    SMOKE,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    running_server,
    seed_smoke,
    seeded_sqlite,
    seller_headers,
)

#: Module-fixture parameters: every back-office group runs on SQLite and on PostgreSQL.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def seeded_steps(database: str, folder: Path, env: dict[str, str] | None = None,
                 scenario: Path = SMOKE) -> Iterator[Steps]:
    """A seller of ``scenario`` (the smoke one) on a real server over ``database`` (a SQLite
    file in ``folder``, or a fresh PostgreSQL database), as :class:`Steps`; ``env``: the
    server's extra settings."""
    with contextlib.ExitStack() as stack:
        if database == "sqlite":
            url, creds = seeded_sqlite(folder, scenario=scenario)
        else:
            if not postgres_admin_url():
                pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
            url = stack.enter_context(fresh_postgres_url())
            creds = seed_smoke(url, scenario=scenario)
        yield Steps(stack.enter_context(running_server(url, env=env)), creds)


class Steps:
    """One seller on one server: ``steps.order(...)``, ``steps.ship(...)``, ``steps.event(...)``."""

    def __init__(self, base_url: str, creds: dict) -> None:
        self.base_url, self.creds = base_url, creds
        self.http = httpx.Client(base_url=base_url, timeout=15)

    def seller(self, path: str, body: dict) -> httpx.Response:
        """A Seller API call with the seller's key."""
        return self.http.post(path, json=body, headers=seller_headers(self.creds))

    def order(self, lines: list[tuple[int, int]], region: str = "R-MSK") -> list[dict]:
        """A buyer order; its postings (``posting_number``, ``warehouse_id``, ``products``)."""
        response = self.http.post(
            "/marketplace/v1/orders",
            json={"client_id": self.creds["client_id"], "region": region,
                  "lines": [{"sku": s, "quantity": q} for s, q in lines]},
            headers={**platform_headers(self.creds), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 201, response.text
        return response.json()["postings"]

    def ship(self, posting: dict) -> None:
        """Assemble a posting into one package (-> ``awaiting_deliver``)."""
        products = [{"product_id": p["sku"], "quantity": p["quantity"]}
                    for p in posting["products"]]
        response = self.seller("/v4/posting/fbs/ship", {
            "posting_number": posting["posting_number"], "packages": [{"products": products}]})
        assert response.status_code == 200, response.text

    def event(self, posting_number: str, event: str) -> None:
        """A logistics event: ``sorting_accepted``, ``sorting_refused`` or ``delivered``."""
        response = self.http.post("/marketplace/v1/logistics/events",
                                  json={"posting_number": posting_number, "event": event},
                                  headers=platform_headers(self.creds))
        assert response.status_code == 200, response.text

    def deliver(self, posting: dict) -> None:
        """Ship a posting and carry it to the buyer."""
        self.ship(posting)
        self.event(posting["posting_number"], "sorting_accepted")
        self.event(posting["posting_number"], "delivered")

    def method_of(self, warehouse_id: int) -> int:
        """The first delivery method of a warehouse."""
        methods = self.seller("/v1/delivery-method/list",
                              {"filter": {"warehouse_id": warehouse_id}, "limit": 50}).json()
        return methods["result"][0]["id"]


@contextlib.asynccontextmanager
async def ozon_client(base_url: str, creds: dict) -> AsyncIterator[object]:
    """An ``ozonapi`` SellerAPI pointed at ``base_url`` (its process-wide state reset after)."""
    from ozonapi import SellerAPI, SellerAPIConfig
    from ozonapi.seller.core import APIManager

    config = SellerAPIConfig(client_id=creds["client_id"], api_key=creds["api_key"],
                             base_url=base_url, max_retries=0, max_requests_per_second=50)
    try:
        async with SellerAPI(config=config) as api:
            yield api
    finally:
        await SellerAPI.shutdown()
        APIManager._method_rate_limiter_manager = None
        APIManager._session_manager = None
