"""No oversell and exactly-once orders under real concurrency (uvicorn, SQLite and PostgreSQL).

1,000 concurrent buyer orders for one SKU with 100 units in stock must give exactly 100
orders and 900 clean 409 OUT_OF_STOCK answers, and leave present 100 / reserved 100;
50 concurrent retries with one Idempotency-Key must create exactly one order.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from reference_backend.db import Database
from reference_backend.stock import rows as stock
from reference_backend.tables import Order, OutboxEvent, Posting, Stock
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    running_server,
    seed_smoke,
    sqlite_url,
)

ORDERS = 1000
STOCK = 100
RETRIES = 50
CLIENTS, PER_CLIENT = 10, 5  # 50 requests in flight


def _one_sku_with(url: str, creds: dict, units: int) -> int:
    """Give the seller's first SKU ``units`` at its first warehouse and none elsewhere."""
    sku = creds["sku_base"]
    first, *others = creds["warehouses"].values()
    db = Database(url)
    try:
        with db.session() as session:
            stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                              warehouse_id=first, present=units)
            for wh in others:
                stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                                  warehouse_id=wh, present=0)
    finally:
        db.dispose()
    return sku


async def _post_all(base_url: str, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    """POST every request at once, at most ``CLIENTS x PER_CLIENT`` in flight.

    The load is spread over several small httpx pools: one AsyncClient with many
    connections spends most of its time in its own pool bookkeeping.
    """
    # an idle connection is dropped after 1 s here, before uvicorn's 5 s keep-alive closes it
    # from its side (a request sent on a connection the server is closing meets a ReadError,
    # as once in CI while this process waited for a core)
    clients = [httpx.AsyncClient(base_url=base_url, timeout=120,
                                 limits=httpx.Limits(max_connections=PER_CLIENT,
                                                     keepalive_expiry=1.0))
               for _ in range(CLIENTS)]
    gates = [asyncio.Semaphore(PER_CLIENT) for _ in range(CLIENTS)]

    async def one(i: int, body: dict, headers: dict) -> httpx.Response:
        async with gates[i % CLIENTS]:
            return await clients[i % CLIENTS].post("/marketplace/v1/orders", json=body,
                                                   headers=headers)

    try:
        return await asyncio.gather(*(one(i, b, h) for i, (b, h) in enumerate(requests)))
    finally:
        for client in clients:
            await client.aclose()


def _stock_and_counts(url: str, sku: int) -> tuple[list[tuple[int, int]], int, int, int]:
    db = Database(url)
    try:
        with db.read_session() as session:
            levels = session.execute(
                select(Stock.present, Stock.reserved).where(Stock.sku == sku)
                .order_by(Stock.warehouse_id)).all()
            orders = session.scalar(select(func.count()).select_from(Order))
            postings = session.scalar(select(func.count()).select_from(Posting))
            events = session.scalar(select(func.count()).select_from(OutboxEvent))
    finally:
        db.dispose()
    return [tuple(r) for r in levels], orders, postings, events


def _run(url: str, label: str, workers: int) -> None:
    creds = seed_smoke(url)
    sku = _one_sku_with(url, creds, STOCK)
    headers = platform_headers(creds)
    body = {"client_id": creds["client_id"], "region": "R-MSK",
            "lines": [{"sku": sku, "quantity": 1}]}
    with running_server(url, workers=workers) as base_url:
        started = time.perf_counter()
        responses = asyncio.run(_post_all(base_url, [(body, headers)] * ORDERS))
        elapsed = time.perf_counter() - started

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: STOCK, 409: ORDERS - STOCK}, statuses
        refused = [r.json() for r in responses if r.status_code == 409]
        assert all(b["code"] == "OUT_OF_STOCK" and b["details"] for b in refused)
        numbers = {r.json()["order_number"] for r in responses if r.status_code == 201}
        assert len(numbers) == STOCK
        print(f"\n{label}: {ORDERS} concurrent orders in {elapsed:.2f} s "
              f"({ORDERS / elapsed:.0f} orders/s, {workers} worker(s))")

        levels, orders, postings, events = _stock_and_counts(url, sku)
        assert levels[0] == (STOCK, STOCK) and all(r == (0, 0) for r in levels[1:]), levels
        assert (orders, postings, events) == (STOCK, STOCK, STOCK)

        # 50 concurrent retries with one key (stock refilled by 10): exactly one order
        _one_sku_with(url, creds, STOCK + 10)
        keyed = {**headers, "Idempotency-Key": f"retry-{label}"}
        answers = asyncio.run(_post_all(base_url, [(body, keyed)] * RETRIES))
        assert {r.status_code for r in answers} == {201}, Counter(r.status_code for r in answers)
        assert len({r.json()["order_id"] for r in answers}) == 1
        levels, orders, _, _ = _stock_and_counts(url, sku)
        assert orders == STOCK + 1 and levels[0] == (STOCK + 10, STOCK + 1)


@pytest.mark.slow
def test_no_oversell_and_exactly_once_sqlite(tmp_path):
    _run(sqlite_url(tmp_path), "SQLite", workers=1)


@pytest.mark.slow
@pytest.mark.postgres
def test_no_oversell_and_exactly_once_postgres():
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        _run(url, "PostgreSQL", workers=2)
