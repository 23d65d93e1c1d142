"""Whole list pages kept as bytes (:mod:`reference_backend.postings.pages`): every kind of write
shows on the next read of a page, two sellers never share a page, memory stays bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.postings import pages
from reference_backend.settings import Settings
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
    sqlite_url,
)

LISTS = [
    ("/v3/posting/fbs/list", {"dir": "desc", "limit": 5, "filter": {
        "since": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}}),
    ("/v4/posting/fbs/list", {"sort_dir": "desc", "limit": 5, "filter": {}}),
    ("/v3/posting/fbs/unfulfilled/list", {"dir": "desc", "limit": 5, "filter": {}}),
    ("/v4/posting/fbs/unfulfilled/list", {"sort_dir": "desc", "limit": 5, "filter": {}}),
]
WITH = {"analytics_data": True, "financial_data": True, "barcodes": True}


def test_pages_are_dropped_least_recently_used_first_within_the_bound() -> None:
    cache = pages.PageCache(max_bytes=1000)
    for i in range(5):
        cache.put(("page", i), bytes(300))
    assert cache.nbytes <= 1000 and len(cache) == 3  # the two oldest dropped
    assert cache.get(("page", 0)) is None and cache.get(("page", 1)) is None
    assert cache.get(("page", 2)) is not None  # now the most recently used
    cache.put(("page", 5), bytes(300))
    assert cache.get(("page", 2)) is not None and cache.get(("page", 3)) is None
    cache.put(("huge",), bytes(2000))  # larger than the whole bound: not kept
    assert cache.get(("huge",)) is None and cache.nbytes == 900


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict, dict]]:
    """A database with two sellers (the second without postings) and orders of the first."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        yield url, *_seeded(url)
        return
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        yield url, *_seeded(url)


def _seeded(url: str) -> tuple[dict, dict]:
    first, second = seed_smoke(url), seed_smoke(url, name="second")
    with TestClient(create_app(Settings(database_url=url))) as client:
        for i in range(8):
            lines = [{"sku": first["sku_base"] + i % 3, "quantity": 1 + i % 2}]
            if i % 2:
                lines.append({"sku": first["sku_base"] + 3, "quantity": 1})
            assert client.post("/marketplace/v1/orders", json={
                "client_id": first["client_id"], "region": "R-MSK", "lines": lines},
                headers={**platform_headers(first), "Idempotency-Key": f"k{i}"},
            ).status_code in (200, 201)
    return first, second


def _read(client: TestClient, creds: dict) -> list[bytes]:
    bodies = []
    for path, body in LISTS:
        answer = client.post(path, json={**body, "with": WITH}, headers=seller_headers(creds))
        assert answer.status_code == 200, answer.text
        bodies.append(answer.content)
    return bodies


#: Writes to what a list page shows, each made the way no service of the backend makes it
#: (the database's triggers must see every writer); ``:p`` is the newest posting.
WRITES = {
    "posting": ["UPDATE postings SET tracking_number = 'TRACK-1' WHERE id = :p"],
    "status": ["UPDATE postings SET status = 'awaiting_deliver' WHERE id = :p"],
    "line quantity": ["UPDATE posting_items SET quantity = quantity + 5 WHERE posting_id = :p"],
    "line added": ["INSERT INTO posting_items (posting_id, product_id, sku, offer_id, name, "
                   "quantity, cancelled_quantity, price, currency_code) SELECT posting_id, "
                   "product_id, sku, offer_id, 'added line', 2, 0, price, currency_code "
                   "FROM posting_items WHERE posting_id = :p"],
    "line removed": ["DELETE FROM posting_items WHERE posting_id = :p AND name = 'added line'"],
    "line price": ["UPDATE posting_items SET price = '7.25' WHERE posting_id = :p"],
    "warehouse name": ["UPDATE warehouses SET name = 'Renamed' WHERE warehouse_id = "
                       "(SELECT warehouse_id FROM postings WHERE id = :p)"],
    "delivery method": ["UPDATE delivery_methods SET tpl_provider = 'Other', name = 'New way' "
                        "WHERE id = (SELECT delivery_method_id FROM postings WHERE id = :p)"],
    "posting and line in one transaction": [
        "UPDATE postings SET tracking_number = 'TRACK-2' WHERE id = :p",
        "UPDATE posting_items SET quantity = quantity + 1 WHERE posting_id = :p"],
    "posting deleted": ["DELETE FROM postings WHERE id = :p"],
}


@pytest.mark.timeout(300)
def test_every_kind_of_write_shows_on_the_next_page_read(world) -> None:
    url, first, second = world
    db = Database(url)
    try:
        with TestClient(create_app(Settings(database_url=url))) as client:
            before = _read(client, first)
            assert _read(client, first) == before  # (kept, the same bytes)
            with db.engine.connect() as conn:
                newest = conn.execute(text("SELECT max(id) FROM postings")).scalar_one()
            for kind, statements in WRITES.items():
                with db.engine.begin() as conn:
                    for statement in statements:
                        assert conn.execute(text(statement), {"p": newest}).rowcount > 0, kind
                after = _read(client, first)
                assert after != before, kind
                pages.PAGES.clear()
                assert _read(client, first) == after, kind  # what is read with nothing kept
                before = after
    finally:
        db.dispose()


@pytest.mark.timeout(300)
def test_two_sellers_never_share_a_page(world) -> None:
    url, first, second = world
    with TestClient(create_app(Settings(database_url=url))) as client:
        shown = _read(client, first)
        empty = _read(client, second)
        assert all(b'"posting_number"' in body for body in shown)
        assert not any(b'"posting_number"' in body for body in empty)
        assert _read(client, first) == shown and _read(client, second) == empty


@pytest.mark.timeout(300)
def test_a_posting_id_given_again_is_another_page(world) -> None:
    """SQLite gives the id of a deleted newest row again: a posting with the same id and
    version, created later, is not answered with the deleted one's page."""
    url, first, _ = world
    db = Database(url)
    try:
        with TestClient(create_app(Settings(database_url=url))) as client:
            before = _read(client, first)
            with db.engine.begin() as conn:
                newest = conn.execute(text("SELECT max(id) FROM postings")).scalar_one()
                conn.execute(text("CREATE TEMPORARY TABLE gone AS "
                                  "SELECT * FROM postings WHERE id = :p"), {"p": newest})
                conn.execute(text("UPDATE gone SET tracking_number = 'AGAIN', created_at = :t"),
                             {"t": datetime.now(UTC) + timedelta(seconds=1)})
                conn.execute(text("DELETE FROM postings WHERE id = :p"), {"p": newest})
                conn.execute(text("INSERT INTO postings SELECT * FROM gone"))
            after = _read(client, first)
            assert all(b'"AGAIN"' in body for body in after) and after != before
    finally:
        db.dispose()


@pytest.mark.timeout(300)
def test_a_kept_sqlite_page_is_found_on_the_event_loop(tmp_path: Path, monkeypatch) -> None:
    """SQLite: a kept page needs no worker thread (its ids and versions read on the loop's
    own connection); a page not kept, or a read past the loop's budget, goes to one."""
    url = sqlite_url(tmp_path)
    first, _ = _seeded(url)
    threaded: list[int] = []
    reading = Database.reading

    async def counted(self, sync, on_loop):  # type: ignore[no-untyped-def]
        threaded.append(1)
        return await reading(self, sync, on_loop)

    monkeypatch.setattr(Database, "reading", counted)
    with TestClient(create_app(Settings(database_url=url))) as client:
        shown = _read(client, first)
        assert len(threaded) == len(LISTS)  # written once each
        assert _read(client, first) == shown and len(threaded) == len(LISTS)
        db = client.app.state.db
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE postings SET tracking_number = 'T' WHERE id = "
                              "(SELECT max(id) FROM postings)"))
        changed = _read(client, first)
        assert changed != shown and len(threaded) == 2 * len(LISTS)
        assert _read(client, first) == changed and len(threaded) == 2 * len(LISTS)

    async def peeks() -> tuple[object, object]:
        db = Database(url)
        try:
            long = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 10000000) SELECT count(*) FROM n")
            return db.peek("SELECT count(*) FROM postings", ()), db.peek(long, ())
        finally:
            db.dispose()

    short, long = asyncio.run(peeks())
    assert short == [(8,)] and long is None  # interrupted past the budget
