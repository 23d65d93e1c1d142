"""Posting tallies (migration 0010, :mod:`reference_backend.postings.tallies`): after every kind
of write, by the backend's services or by raw SQL, the kept tallies equal ``count(*)`` per
(seller, status, warehouse, delivery method); concurrent writers on PostgreSQL neither
deadlock nor lose a count; the fold keeps the sums; the unfulfilled lists' ``count`` is the
number of matching postings whether the tallies answer it or the postings are counted."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, bindparam, text

from reference_backend.app import create_app
from reference_backend.db import Database
from reference_backend.migrations import downgrade, upgrade
from reference_backend.postings import queries, tallies
from reference_backend.postings.service import DEFAULT_UNFULFILLED, PostingFilter
from reference_backend.settings import Settings
from reference_backend.tables import Posting
from tests.backend_support import (
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    running_server,
    seed_smoke,
    seller_headers,
    sqlite_url,
)

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
KEY = "seller_id, status, warehouse_id, coalesce(delivery_method_id, -1)"
#: a posting's columns but its id and number (a raw INSERT copies a posting with these)
COPIED = ", ".join(c.name for c in Posting.__table__.columns
                   if c.name not in ("id", "posting_number"))


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as fresh:
        yield fresh


def counted(conn: Connection) -> dict[tuple, int]:
    """``count(*)`` per (seller, status, warehouse, method)."""
    rows = conn.execute(text(f"SELECT {KEY}, count(*) FROM postings GROUP BY {KEY}"))
    return {tuple(row[:4]): int(row[4]) for row in rows}


def tallied(conn: Connection) -> dict[tuple, int]:
    """The tallies' sums per (seller, status, warehouse, method), zeros left out."""
    rows = conn.execute(text(
        "SELECT seller_id, status, warehouse_id, delivery_method_id, sum(n) "
        "FROM posting_tallies GROUP BY seller_id, status, warehouse_id, delivery_method_id"))
    return {tuple(row[:4]): int(row[4]) for row in rows if row[4]}


def assert_exact(db: Database, what: str = "") -> dict[tuple, int]:
    with db.engine.connect() as conn:
        truth = counted(conn)
        assert tallied(conn) == truth, what
    return truth


def _order(client: TestClient, creds: dict, lines: list[tuple[int, int]],
           region: str = "R-MSK") -> dict:
    answer = client.post("/marketplace/v1/orders", json={
        "client_id": creds["client_id"], "region": region,
        "lines": [{"sku": s, "quantity": q} for s, q in lines]},
        headers={**platform_headers(creds), "Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _ok(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text


def _postings(client: TestClient, creds: dict, count: int) -> list[dict]:
    """``count`` orders of one line each (one posting each)."""
    return [_order(client, creds, [(creds["sku_base"] + i % 4, 1)])["postings"][0]
            for i in range(count)]


def _service_writes(client: TestClient, creds: dict) -> Iterator[str]:
    """Every status change the API makes, one after another (yields what it did)."""
    seller, platform = seller_headers(creds), platform_headers(creds)
    p = _postings(client, creds, 9)
    yield "orders placed"
    for posting in p[:5]:
        products = [{"product_id": x["sku"], "quantity": x["quantity"]}
                    for x in posting["products"]]
        _ok(client.post("/v4/posting/fbs/ship", headers=seller, json={
            "posting_number": posting["posting_number"], "packages": [{"products": products}]}))
    yield "shipped"
    _ok(client.post("/v2/posting/fbs/cancel", headers=seller, json={
        "posting_number": p[5]["posting_number"], "cancel_reason_id": 352}))
    yield "cancelled by the seller"
    order_number = p[6]["posting_number"].rsplit("-", 1)[0]
    _ok(client.post(f"/marketplace/v1/orders/{order_number}/cancel", headers=platform))
    yield "cancelled by the buyer"
    sku = p[7]["products"][0]["sku"]
    client.post("/v2/posting/fbs/product/cancel", headers=seller, json={
        "posting_number": p[7]["posting_number"], "cancel_reason_id": 352,
        "cancel_reason_message": "gone", "items": [{"sku": sku, "quantity": 1}]})
    yield "lines cancelled"
    _ok(client.post("/v2/posting/fbs/arbitration", headers=seller, json={
        "posting_number": [p[0]["posting_number"], p[4]["posting_number"]]}))
    yield "arbitration"
    _ok(client.post("/v2/posting/fbs/awaiting-delivery", headers=seller, json={
        "posting_number": [p[0]["posting_number"]]}))
    yield "back to awaiting delivery"
    for posting, events in ((p[1], ("sorting_accepted", "delivered")), (p[2], (
            "sorting_refused",)), (p[3], ("sorting_accepted",))):
        for event in events:
            _ok(client.post("/marketplace/v1/logistics/events", headers=platform, json={
                "posting_number": posting["posting_number"], "event": event}))
    yield "logistics events"


def _raw_writes(other_seller: int) -> dict[str, list[str]]:
    """Writes no service makes (``:p`` the newest posting): the triggers see every writer."""
    return {
        "inserted": [f"INSERT INTO postings (posting_number, {COPIED}) SELECT "
                     f"posting_number || '-raw', {COPIED} FROM postings WHERE id = :p"],
        "status": ["UPDATE postings SET status = 'awaiting_deliver' WHERE id = :p"],
        "status the same": ["UPDATE postings SET status = status WHERE id = :p"],
        "not a tallied column": ["UPDATE postings SET tracking_number = 'T' WHERE id = :p"],
        "no delivery method": ["UPDATE postings SET delivery_method_id = NULL WHERE id = :p"],
        "delivery method back": [
            "UPDATE postings SET delivery_method_id = (SELECT min(id) FROM delivery_methods "
            "WHERE warehouse_id = postings.warehouse_id) WHERE id = :p"],
        "warehouse": ["UPDATE postings SET warehouse_id = (SELECT max(warehouse_id) FROM "
                      "warehouses WHERE seller_id = postings.seller_id) WHERE id = :p"],
        "seller": [f"UPDATE postings SET seller_id = {other_seller} WHERE id = :p"],
        "many at once": ["UPDATE postings SET status = 'arbitration' "
                         "WHERE status = 'awaiting_packaging' AND id <> :p"],
        "moved twice in one transaction": [
            "UPDATE postings SET status = 'delivering' WHERE id = :p",
            "UPDATE postings SET status = 'cancelled', warehouse_id = (SELECT min("
            "warehouse_id) FROM warehouses WHERE seller_id = postings.seller_id) "
            "WHERE id = :p"],
        "deleted": ["DELETE FROM postings WHERE id = :p"],
        "orders deleted (cascade)": [
            "DELETE FROM orders WHERE id IN (SELECT order_id FROM postings AS p WHERE id < :p "
            "AND NOT EXISTS (SELECT 1 FROM returns WHERE posting_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM return_requests WHERE posting_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM act_postings WHERE posting_id = p.id) "
            "ORDER BY id LIMIT 3)"],
        "a seller's orders deleted (cascade), then the seller": [
            f"DELETE FROM orders WHERE seller_id = {other_seller}",
            f"DELETE FROM sellers WHERE id = {other_seller}"],
    }


@pytest.mark.timeout(300)
def test_tallies_equal_counts_after_every_kind_of_write(url: str) -> None:
    first, second = seed_smoke(url), seed_smoke(url, name="second")
    db = Database(url)
    try:
        with TestClient(create_app(Settings(database_url=url))) as client:
            for what in _service_writes(client, first):
                assert_exact(db, what)
            _postings(client, second, 3)
        truth = assert_exact(db, "the second seller's orders")
        assert {status for (_, status, *_) in truth} >= {
            "awaiting_packaging", "awaiting_deliver", "arbitration", "delivering",
            "delivered", "cancelled", "not_accepted"}
        for what, statements in _raw_writes(second["seller_id"]).items():
            with db.engine.begin() as conn:
                newest = conn.execute(text("SELECT max(id) FROM postings")).scalar_one()
                for statement in statements:
                    assert conn.execute(text(statement), {"p": newest}).rowcount > 0, what
            assert_exact(db, what)
        with db.engine.connect() as conn:
            assert all(seller != second["seller_id"] for seller, *_ in tallied(conn))
    finally:
        db.dispose()


@pytest.fixture(params=DATABASES)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Database, dict]]:
    """A seeded database with a few postings of every status (one per test function)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("tallies"))
        yield _with_postings(url)
        return
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as fresh:
        yield _with_postings(fresh)


#: (the column's own bind processing: SQLite compares the text it writes)
SHIPMENT_DATE_SET = text(
    "UPDATE postings SET status = :s, shipment_date = :d WHERE id = coalesce(:p, (SELECT "
    "max(id) FROM postings WHERE status = :s))"
).bindparams(bindparam("d", type_=Posting.__table__.c.shipment_date.type),
             bindparam("p", type_=Posting.__table__.c.id.type))


def _with_postings(url: str) -> tuple[Database, dict]:
    creds = seed_smoke(url)
    with TestClient(create_app(Settings(database_url=url))) as client:
        _postings(client, creds, 6)
    db = Database(url)
    with db.engine.begin() as conn:  # statuses and shipment dates spread out
        ids = conn.execute(text("SELECT id FROM postings ORDER BY id")).scalars().all()
        statuses = itertools.cycle(["awaiting_packaging", "awaiting_deliver", "arbitration",
                                    "delivering"])
        for i, (pid, status) in enumerate(zip(ids, statuses, strict=False)):
            conn.execute(SHIPMENT_DATE_SET, {"s": status, "p": pid,
                                             "d": datetime(2026, 12, 1 + i, 12, tzinfo=UTC)})
    return db, creds


#: Raw writes a hypothesis example draws: (name, SQL); ``:p`` a posting, ``:s`` a status.
MOVES = [
    ("insert", f"INSERT INTO postings (posting_number, {COPIED}) SELECT :n, {COPIED} "
               f"FROM postings WHERE id = :p"),
    ("status", "UPDATE postings SET status = :s WHERE id = :p"),
    ("status of many", "UPDATE postings SET status = :s WHERE id % 3 = :p % 3"),
    ("warehouse", "UPDATE postings SET warehouse_id = (SELECT warehouse_id FROM warehouses "
                  "WHERE seller_id = postings.seller_id ORDER BY warehouse_id "
                  "LIMIT 1 OFFSET :p % 2) WHERE id = :p"),
    ("method", "UPDATE postings SET delivery_method_id = CASE WHEN delivery_method_id IS NULL "
               "THEN (SELECT min(id) FROM delivery_methods) END WHERE id = :p"),
    ("delete", "DELETE FROM postings WHERE id = :p"),
]
STATUSES = ["awaiting_packaging", "awaiting_deliver", "arbitration", "delivering",
            "delivered", "cancelled"]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(MOVES), st.integers(0, 10 ** 6),
                                st.sampled_from(STATUSES)), min_size=1, max_size=12),
       split=st.integers(1, 3))
def test_random_writes_keep_tallies_exact(seeded: tuple[Database, dict],
                                          steps: list[tuple[tuple[str, str], int, str]],
                                          split: int) -> None:
    db, _ = seeded
    for chunk in [steps[i:i + split] for i in range(0, len(steps), split)]:
        with db.engine.begin() as conn:  # (several writes in one transaction too)
            for (_, sql), pick, status in chunk:
                ids = conn.execute(text("SELECT id FROM postings ORDER BY id")).scalars().all()
                if not ids:
                    break
                conn.execute(text(sql), {"p": ids[pick % len(ids)], "s": status,
                                         "n": f"H-{uuid.uuid4().hex[:20]}"})
        assert_exact(db, repr(chunk))


def _unfulfilled_counts(client: TestClient, creds: dict, flt: dict) -> tuple[int, int]:
    """The ``count`` of the v3 and v4 unfulfilled lists for ``flt`` (v3 and v4 names)."""
    headers = seller_headers(creds)
    v3 = client.post("/v3/posting/fbs/unfulfilled/list", headers=headers, json={
        "dir": "asc", "limit": 2, "filter": flt["v3"]})
    v4 = client.post("/v4/posting/fbs/unfulfilled/list", headers=headers, json={
        "sort_dir": "asc", "limit": 2, "filter": flt["v4"]})
    assert v3.status_code == 200 and v4.status_code == 200, (v3.text, v4.text)
    return v3.json()["result"]["count"], v4.json()["count"]


def _matching(conn: Connection, seller_id: int, statuses: tuple[str, ...],
              warehouse: int | None, cutoff: tuple[datetime, datetime] | None) -> int:
    """The postings a filter matches, counted by reading them (not through queries.py)."""
    rows = conn.execute(text("SELECT status, warehouse_id, shipment_date FROM postings "
                             "WHERE seller_id = :s"), {"s": seller_id}).all()
    count = 0
    for status, wh, shipment in rows:
        if isinstance(shipment, str):  # (SQLite: stored as text)
            shipment = datetime.fromisoformat(shipment)
        shipment = shipment if shipment.tzinfo else shipment.replace(tzinfo=UTC)
        count += (status in statuses and (warehouse is None or wh == warehouse)
                  and (cutoff is None or cutoff[0] <= shipment <= cutoff[1]))
    return count


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_unfulfilled_count_is_the_matching_postings_with_and_without_windows(seeded) -> None:
    db, creds = seeded
    wide = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    exact = (datetime(2026, 12, 1, 12, tzinfo=UTC), datetime(2026, 12, 6, 12, tzinfo=UTC))
    narrow = (datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC))
    late = (datetime(2026, 12, 3, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    warehouse = next(iter(creds["warehouses"].values()))
    cases: list[tuple[tuple[str, ...], int | None, tuple[datetime, datetime] | None]] = [
        (DEFAULT_UNFULFILLED, None, None), (("awaiting_deliver",), None, None),
        (DEFAULT_UNFULFILLED, warehouse, None), (DEFAULT_UNFULFILLED, None, wide),
        (DEFAULT_UNFULFILLED, None, exact), (DEFAULT_UNFULFILLED, None, narrow),
        (DEFAULT_UNFULFILLED, None, late), (("arbitration",), warehouse, wide),
        (("delivering", "awaiting_packaging"), None, narrow), (("delivering",), None, wide),
    ]
    with TestClient(create_app(Settings(database_url=db.url))) as client:
        for statuses, wh, cutoff in cases:
            v3: dict[str, Any] = {"status": statuses[0]} if len(statuses) == 1 else {}
            v4: dict[str, Any] = {"statuses": list(statuses)}
            if wh is not None:
                v3["warehouse_id"], v4["warehouse_ids"] = [wh], [wh]
            if cutoff is not None:
                for flt in (v3, v4):
                    flt["cutoff_from"], flt["cutoff_to"] = map(_iso, cutoff)
            shown = (statuses if len(statuses) == 1 else DEFAULT_UNFULFILLED)
            with db.engine.connect() as conn:
                want3 = _matching(conn, creds["seller_id"], shown, wh, cutoff)
                want4 = _matching(conn, creds["seller_id"], statuses, wh, cutoff)
            assert _unfulfilled_counts(client, creds, {"v3": v3, "v4": v4}) == (
                want3, want4), (statuses, wh, cutoff)
        # a window a written posting leaves is seen on the next request (read your writes)
        with db.engine.begin() as conn:
            conn.execute(SHIPMENT_DATE_SET, {"d": datetime(2027, 6, 1, tzinfo=UTC), "p": None,
                                             "s": "awaiting_packaging"})
        flt = {"cutoff_from": _iso(wide[0]), "cutoff_to": _iso(wide[1])}
        with db.engine.connect() as conn:
            want = _matching(conn, creds["seller_id"], DEFAULT_UNFULFILLED, None, wide)
        assert _unfulfilled_counts(client, creds, {"v3": flt, "v4": flt}) == (want, want)
    db.dispose()


def test_unfulfilled_count_by_delivery_method_and_provider(seeded) -> None:
    db, creds = seeded
    with db.engine.begin() as conn:  # (one posting without a method: tallied under -1)
        conn.execute(text("UPDATE postings SET delivery_method_id = NULL WHERE id = "
                          "(SELECT min(id) FROM postings)"))
        rows = conn.execute(text(
            "SELECT p.status, p.delivery_method_id, m.provider_id FROM postings AS p LEFT JOIN "
            "delivery_methods AS m ON m.id = p.delivery_method_id WHERE p.seller_id = :s"),
            {"s": creds["seller_id"]}).all()
        methods = conn.execute(text("SELECT id, provider_id FROM delivery_methods"
                                    )).all()
    open_ = [row for row in rows if row[0] in DEFAULT_UNFULFILLED]
    filters = [("method", m) for m, _ in methods] + [("method", 0)] + [
        ("provider", p) for p in {p for _, p in methods}]
    assert any(m is None for _, m, _ in open_) and len(filters) > 3
    with TestClient(create_app(Settings(database_url=db.url))) as client:
        for kind, value in filters:
            v3 = {"delivery_method_id": [value]} if kind == "method" else {
                "provider_id": [value]}
            v4 = {f"{k}s": v for k, v in v3.items()}
            want = sum(1 for _, m, p in open_ if (m if kind == "method" else p) == value)
            assert _unfulfilled_counts(client, creds, {"v3": v3, "v4": v4}) == (
                want, want), (kind, value)
    db.dispose()


def test_which_counts_the_tallies_answer() -> None:
    """The statement reads the tallies only for filters they answer."""
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect(paramstyle="qmark")
    moment = datetime(2026, 12, 1, tzinfo=UTC)

    def sql(**kw: Any) -> str:
        return queries.count_statement(dialect, 1, PostingFilter(**kw)).sql

    assert "FROM postings" not in sql(statuses=("awaiting_deliver",), warehouse_ids=(1,),
                                      delivery_method_ids=(2,), provider_ids=(3,))
    assert "posting_tallies" in sql(statuses=("arbitration",), cutoff_from=moment)
    for untallied in ({"since": moment}, {"delivering_from": moment}, {"changed_to": moment},
                      {"order_id": 1}, {"posting_number": "1-1"}, {"sku": 1},
                      {"order_numbers": ("1",)}, {"cutoff_from": moment}):
        assert "posting_tallies" not in sql(**untallied), untallied


def _pg_only(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL: shards per backend")


def _writer(url: str, rounds: int, seed: int, errors: list[BaseException]) -> None:
    """Transactions that insert and move postings of two warehouses, in either order."""
    rng = random.Random(seed)
    db = Database(url)
    try:
        for r in range(rounds):
            with db.engine.begin() as conn:
                ids = conn.execute(text("SELECT id FROM postings ORDER BY id LIMIT 6")
                                   ).scalars().all()
                order = [0, 1] if rng.random() < 0.5 else [1, 0]
                for k in order:  # (opposite orders: one hot row each would deadlock)
                    conn.execute(text(
                        f"INSERT INTO postings (posting_number, {COPIED}) SELECT "
                        f"'C-{seed}-{r}-{k}', {COPIED} FROM postings WHERE id = :p"),
                        {"p": ids[k]})
                conn.execute(text("UPDATE postings SET status = :s WHERE posting_number = "
                                  ":n"), {"s": rng.choice(STATUSES), "n": f"C-{seed}-{r}-0"})
            if r % 10 == 9:  # a new backend from here on (the old one's rows to fold)
                db.engine.dispose()
    except BaseException as exc:  # noqa: BLE001 (reported by the test)
        errors.append(exc)
    finally:
        db.dispose()


@pytest.mark.timeout(300)
def test_concurrent_writers_neither_deadlock_nor_lose_counts(seeded) -> None:
    db, _ = seeded
    _pg_only(db)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_writer, args=(db.url, 40, seed, errors))
               for seed in range(6)]
    for thread in threads:
        thread.start()
    folds = 0
    while any(thread.is_alive() for thread in threads):  # folds beside the writers
        folds += tallies.fold(db) is not None
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert errors == [] and folds > 0
    assert_exact(db)
    unfolded = ("SELECT count(*) FROM posting_tallies WHERE shard <> 0 AND shard NOT IN "
                "(SELECT pid FROM pg_stat_activity)")
    for _ in range(100):  # the writers' rows folded once their backends have ended
        tallies.fold(db)
        with db.engine.connect() as conn:
            if not conn.execute(text(unfolded)).scalar_one():
                break
        time.sleep(0.1)
    assert_exact(db)
    with db.engine.connect() as conn:
        assert conn.execute(text(unfolded)).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM postings WHERE posting_number "
                                 "LIKE 'C-%'")).scalar_one() == 6 * 40 * 2
    db.dispose()


async def _orders(base_url: str, creds: dict, count: int) -> list[int]:
    skus = [creds["sku_base"] + i for i in range(4)]
    regions = ["R-MSK", "R-SPB"]
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        gate = asyncio.Semaphore(40)

        async def one(i: int) -> int:
            lines = [{"sku": sku, "quantity": 1} for sku in skus[i % 3:]]
            async with gate:
                answer = await client.post("/marketplace/v1/orders", json={
                    "client_id": creds["client_id"], "region": regions[i % 2],
                    "lines": lines}, headers={**platform_headers(creds),
                                              "Idempotency-Key": f"c{i}"})
            return answer.status_code

        return await asyncio.gather(*(one(i) for i in range(count)))


@pytest.mark.timeout(300)
@pytest.mark.postgres
def test_concurrent_orders_on_two_workers_are_tallied_exactly() -> None:
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    with fresh_postgres_url() as url:
        creds = seed_smoke(url)
        with running_server(url, workers=2) as base_url:
            statuses = asyncio.run(_orders(base_url, creds, 300))
            assert set(statuses) <= {201, 409} and statuses.count(201) > 30
            db = Database(url)
            try:
                truth = assert_exact(db)
                assert len({wh for (_, _, wh, _) in truth}) > 1  # (several tally rows)
                answer = httpx.post(f"{base_url}/v4/posting/fbs/unfulfilled/list",
                                    headers=seller_headers(creds),
                                    json={"limit": 1, "filter": {}})
                with db.engine.connect() as conn:
                    open_ = conn.execute(text(
                        "SELECT count(*) FROM postings WHERE status IN ('awaiting_packaging',"
                        " 'awaiting_deliver', 'arbitration')")).scalar_one()
                assert answer.json()["count"] == open_ == sum(truth.values())
            finally:
                db.dispose()


def test_fold_keeps_the_sums(seeded) -> None:
    db, _ = seeded
    _pg_only(db)
    gone = Database(db.url)  # a backend that writes and ends
    with gone.engine.begin() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.execute(text(f"INSERT INTO postings (posting_number, {COPIED}) SELECT "
                          f"posting_number || '-f', {COPIED} FROM postings"))
        conn.execute(text("UPDATE postings SET status = 'delivered' WHERE id % 2 = 0"))
    gone.dispose()
    _wait_gone(db, pid)
    with db.engine.connect() as conn:
        before = tallied(conn)
        assert conn.execute(text("SELECT count(*) FROM posting_tallies WHERE shard = :p"),
                            {"p": pid}).scalar_one() > 0
    kept = tallies.fold(db)
    assert kept is not None
    with db.engine.connect() as conn:
        assert tallied(conn) == before
        shards = conn.execute(text("SELECT DISTINCT shard FROM posting_tallies")
                              ).scalars().all()
        assert pid not in shards and 0 in shards
        assert conn.execute(text("SELECT count(*) FROM posting_tallies WHERE n = 0 "
                                 "AND shard = 0")).scalar_one() == 0
    assert_exact(db)
    assert tallies.fold(db) == kept  # (again: nothing to fold)
    gone = Database(db.url)  # the app folds at start-up
    with gone.engine.begin() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.execute(text("UPDATE postings SET status = 'cancelled'"))
    gone.dispose()
    _wait_gone(db, pid)
    with TestClient(create_app(Settings(database_url=db.url))):
        pass
    with db.engine.connect() as conn:
        assert pid not in conn.execute(text("SELECT shard FROM posting_tallies")).scalars().all()
    assert_exact(db)
    db.dispose()


def _wait_gone(db: Database, pid: int) -> None:
    """Until backend ``pid`` has ended (a moment after its connection is closed)."""
    with db.engine.connect() as conn:
        for _ in range(100):
            if not conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                                {"p": pid}).scalar_one():
                return
            time.sleep(0.1)


def test_migration_fills_tallies_and_downgrade_removes_them(seeded) -> None:
    db, _ = seeded
    db.dispose()
    downgrade(db.url, "0009")
    with db.engine.connect() as conn:
        names = {row[0] for row in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
            if db.is_sqlite else
            "SELECT tablename FROM pg_tables UNION SELECT tgname FROM pg_trigger"))}
    assert not {n for n in names if "tall" in n}
    with db.engine.begin() as conn:  # written without the triggers
        conn.execute(text(f"INSERT INTO postings (posting_number, {COPIED}) SELECT "
                          f"posting_number || '-m', {COPIED} FROM postings"))
        conn.execute(text("UPDATE postings SET status = 'cancelled' WHERE id % 3 = 0"))
    db.dispose()
    upgrade(db.url)
    truth = assert_exact(db)
    assert sum(truth.values()) >= 12
    db.dispose()


def test_tally_count_does_not_read_the_postings(seeded) -> None:
    """Many open postings: the count's statement costs the same (it reads no posting)."""
    db, creds = seeded
    flt = PostingFilter(statuses=DEFAULT_UNFULFILLED)
    with db.engine.begin() as conn:
        for k in range(8):  # 6 -> 1,536 postings
            conn.execute(text(f"INSERT INTO postings (posting_number, {COPIED}) SELECT "
                              f"'T{k}-' || id, {COPIED} FROM postings"))
        conn.execute(text("UPDATE postings SET status = 'awaiting_packaging'"))
        statement = queries.count_statement(conn.dialect, creds["seller_id"], flt)
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        cur.execute(statement.sql, statement.params)
        assert cur.fetchone()[0] == conn.execute(text(
            "SELECT count(*) FROM postings WHERE seller_id = :s"),
            {"s": creds["seller_id"]}).scalar_one()
        plan = ("EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN ") + statement.sql
        cur.execute(plan, statement.params)
        shown = " ".join(str(row) for row in cur.fetchall())
        cur.close()
    assert "postings" not in shown.replace("posting_tallies", ""), shown
    db.dispose()

