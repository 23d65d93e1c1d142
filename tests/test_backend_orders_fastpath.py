"""The order hot path (driver cursor) writes exactly the rows the portable Core writer writes.

Both writers place the same orders at the same frozen clock into one seeded database (SQLite
and PostgreSQL); every stored column of the order, postings, items, outbox events, the
idempotency row and the reserved stock must be equal as the database holds them (raw
``SELECT *``, so storage formats count), apart from ids and the numbers derived from them.
Refusals (unknown SKU, short stock, a reused key with another body) leave no row behind.
The posting pages' reads on the driver cursor give SQLAlchemy's rows, value and type.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, text

from reference_backend.db import Database
from reference_backend.domain_errors import IdempotencyMismatch, InvalidInput, OutOfStock
from reference_backend.orders import batch as orders_batch
from reference_backend.orders import plan
from reference_backend.orders import service as orders
from reference_backend.orders import sql as orders_sql
from reference_backend.raw_rows import RowsByKey
from reference_backend.stock import rows as stock
from reference_backend.tables import DeliveryMethod, Posting, PostingItem, Stock, Warehouse
from reference_backend.warehouses import network
from tests.backend_support import fresh_postgres_url, postgres_admin_url, seed_smoke, sqlite_url

NOW = datetime(2026, 11, 27, 10, 30, 15, 123456, tzinfo=UTC)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
COUNTED = ("orders", "postings", "posting_items", "outbox_events", "idempotency_keys")


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, dict]]:
    if request.param == "postgresql":
        if not postgres_admin_url():
            pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
        ctx = fresh_postgres_url()
    else:
        ctx = contextlib.nullcontext(sqlite_url(tmp_path))
    monkeypatch.setattr(orders, "utcnow", lambda: NOW)
    with ctx as url:
        creds = seed_smoke(url)
        db = Database(url)
        try:
            yield db, creds
        finally:
            db.dispose()


def _place(db: Database, creds: dict, lines: list[tuple[int, int]], key: str, *,
           portable: bool, monkeypatch: pytest.MonkeyPatch) -> dict:
    with monkeypatch.context() as m:
        if portable:
            m.setattr(orders, "fast_orders", lambda conn: None)
        return orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                                  lines=lines, idempotency_key=key,
                                  idempotency_scope="orders:test").body


def _place_async(db: Database, creds: dict, lines: list[tuple[int, int]], key: str) -> dict:
    """The event-loop path (PostgreSQL) in a loop of its own."""

    async def run() -> dict:
        try:
            return (await orders.place_order_async(
                db, client_id=creds["client_id"], region="R-MSK", lines=lines,
                idempotency_key=key, idempotency_scope="orders:test")).body
        finally:
            await db.aclose()

    return asyncio.run(run())


def _rows(db: Database, body: dict, key: str) -> dict[str, list[dict]]:
    """Everything stored for one order, ids and derived numbers replaced by placeholders."""
    order_id, number = body["order_id"], body["order_number"]

    def norm(row: dict) -> dict:
        out = {}
        for k, v in row.items():
            if k in ("id", "posting_id", "order_id"):
                continue
            if isinstance(v, str):
                v = v.replace(number, "<order>")
            elif isinstance(v, dict | list):  # a JSON column PostgreSQL hands back parsed
                v = json.loads(json.dumps(v).replace(number, "<order>"))
            out[k] = v
        return out

    with db.engine.connect() as conn:
        def select(sql: str, **params: object) -> list[dict]:
            return [norm(dict(r._mapping)) for r in conn.execute(text(sql), params)]

        postings = "SELECT id FROM postings WHERE order_id = :o"
        return {
            "orders": select("SELECT * FROM orders WHERE id = :o", o=order_id),
            # (a posting's version counts the statements that wrote it and its lines)
            "postings": [{k: v for k, v in r.items() if k != "version"} for r in select(
                "SELECT * FROM postings WHERE order_id = :o ORDER BY id", o=order_id)],
            "items": select(f"SELECT * FROM posting_items WHERE posting_id IN ({postings}) "
                            "ORDER BY sku", o=order_id),
            "events": select("SELECT * FROM outbox_events WHERE posting_number LIKE :n "
                             "ORDER BY id", n=f"{number}-%"),
            "key": [{k: v for k, v in r.items() if k != "key"}
                    for r in select("SELECT * FROM idempotency_keys WHERE key = :k", k=key)],
        }


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTED}


def _stock(db: Database, skus: list[int]) -> list[tuple]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT sku, warehouse_id, present, reserved, updated_at FROM stock "
            f"WHERE sku IN ({', '.join(map(str, skus))}) ORDER BY sku, warehouse_id"))]


def test_fast_path_is_used(world: tuple[Database, dict]) -> None:
    db, _ = world
    with db.connection() as conn:
        assert orders_sql.fast_orders(conn) is not None


@pytest.mark.parametrize("basket", [[(0, 1)], [(0, 2), (3, 1), (7, 4)]])
def test_same_rows_as_the_portable_writer(world: tuple[Database, dict], basket: list,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db, creds = world
    lines = [(creds["sku_base"] + i, q) for i, q in basket]
    skus = [s for s, _ in lines]
    before = {(s, w): r for s, w, _, r, _ in _stock(db, skus)}
    fast = _place(db, creds, lines, "k-fast", portable=False, monkeypatch=monkeypatch)
    middle = _stock(db, skus)
    portable = _place(db, creds, lines, "k-portable", portable=True, monkeypatch=monkeypatch)
    after = {(s, w): r for s, w, _, r, _ in _stock(db, skus)}
    stored_fast, stored_portable = _rows(db, fast, "k-fast"), _rows(db, portable, "k-portable")
    for rows in (stored_fast, stored_portable):  # the stored answer names its own order
        rows["key"][0]["response"] = None
    assert fast["postings"] and stored_fast == stored_portable
    assert all(stored_fast.values())
    same = {k: v for k, v in portable.items() if k not in ("order_id", "order_number")}
    same["postings"] = [p | {"posting_number": p["posting_number"].replace(
        portable["order_number"], fast["order_number"])} for p in portable["postings"]]
    assert {k: v for k, v in fast.items() if k not in ("order_id", "order_number")} == same
    # both reserved the same units; the hot path stamps updated_at like an ORM write would
    for (sku, wh), was in before.items():
        units = sum(pr["quantity"] for p in fast["postings"] for pr in p["products"]
                    if pr["sku"] == sku and p["warehouse_id"] == wh)
        assert after[(sku, wh)] == was + 2 * units
    stamped = {str(u) for s, w, _, r, u in middle if r != before[(s, w)]}
    assert stamped == {str(stored_fast["orders"][0]["created_at"])}
    if db.has_async_pool:  # PostgreSQL: the event-loop path writes the same rows again
        on_loop = _place_async(db, creds, lines, "k-async")
        assert _rows(db, on_loop, "k-async") | {"key": []} == stored_fast | {"key": []}
        assert _rows(db, on_loop, "k-async")["key"][0]["body_hash"] == (
            stored_fast["key"][0]["body_hash"])


def test_event_loop_path_replays_and_refuses(world: tuple[Database, dict]) -> None:
    db, creds = world
    if not db.has_async_pool:
        pytest.skip("the event-loop path is PostgreSQL's")
    sku = creds["sku_base"]

    async def run() -> None:
        try:
            place = functools.partial(orders.place_order_async, db,
                                      client_id=creds["client_id"], region="R-MSK")
            first = await place(lines=[(sku, 1)], idempotency_key="loop")
            twins = await asyncio.gather(*(place(lines=[(sku, 1)], idempotency_key="twin")
                                           for _ in range(8)))
            assert len({t.body["order_id"] for t in twins}) == 1
            assert sum(not t.replayed for t in twins) == 1
            counts = await asyncio.to_thread(_counts, db)
            again = await place(lines=[(sku, 1)], idempotency_key="loop")
            assert again.replayed and again.body == first.body
            with pytest.raises(IdempotencyMismatch):
                await place(lines=[(sku, 2)], idempotency_key="loop")
            with pytest.raises(InvalidInput):
                await place(lines=[(12345, 1)], idempotency_key="unknown-sku")
            with pytest.raises(OutOfStock):
                await place(lines=[(sku, 99_999)], idempotency_key="too-many")
            assert await asyncio.to_thread(_counts, db) == counts
        finally:
            await db.aclose()

    asyncio.run(run())


def test_replay_and_refusals_leave_no_rows(world: tuple[Database, dict],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db, creds = world
    sku = creds["sku_base"]
    first = orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                               lines=[(sku, 1)], idempotency_key="again")
    counts = _counts(db)
    again = orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                               lines=[(sku, 1)], idempotency_key="again")
    assert again.replayed and again.body == first.body
    with pytest.raises(IdempotencyMismatch):
        orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                           lines=[(sku, 2)], idempotency_key="again")
    with pytest.raises(InvalidInput) as unknown:
        orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                           lines=[(sku, 1), (12345, 1)], idempotency_key="unknown-sku")
    assert unknown.value.code == "UNKNOWN_SKU"
    with pytest.raises(InvalidInput):
        orders.place_order(db, client_id=creds["client_id"], region="Atlantis",
                           lines=[(sku, 1)], idempotency_key="unknown-region")
    with pytest.raises(OutOfStock):
        orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                           lines=[(sku, 99_999)], idempotency_key="too-many")
    assert _counts(db) == counts
    # the refused keys are free: a corrected request with one of them is placed
    ok = orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                            lines=[(sku, 1)], idempotency_key="too-many")
    assert not ok.replayed and ok.body["order_id"] != first.body["order_id"]


def test_concurrent_multi_line_orders_never_oversell(world: tuple[Database, dict]) -> None:
    """Baskets over the same hot rows in every order: each success reserved exactly its units,
    refusals reserved nothing, no row went past its stock (PostgreSQL: the event-loop path;
    SQLite: threads on the sync path)."""
    db, creds = world
    skus = [creds["sku_base"] + i for i in range(3)]
    first, *others = creds["warehouses"].values()
    with db.session() as session:  # 30 units of each hot SKU, all at one warehouse
        for sku in skus:
            stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                              warehouse_id=first, present=30)
            for wh in others:
                stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                                  warehouse_id=wh, present=0)
    baskets = []  # two or three hot lines, listed in both orders
    for i in range(60):
        lines = [(skus[0], 1 + i % 2), (skus[1], 1), (skus[2], 2)][: 2 + i % 2]
        baskets.append(lines if i % 4 < 2 else lines[::-1])

    def one(i: int) -> tuple[str, list[tuple[int, int]]]:
        try:
            orders.place_order(db, client_id=creds["client_id"], region="R-MSK",
                               lines=baskets[i], idempotency_key=f"multi-{i}")
            return "ok", baskets[i]
        except OutOfStock:
            return "refused", baskets[i]

    async def one_async(i: int) -> tuple[str, list[tuple[int, int]]]:
        try:
            await orders.place_order_async(db, client_id=creds["client_id"], region="R-MSK",
                                           lines=baskets[i], idempotency_key=f"multi-{i}")
            return "ok", baskets[i]
        except OutOfStock:
            return "refused", baskets[i]

    if db.has_async_pool:
        async def run() -> list:
            try:
                return await asyncio.gather(*(one_async(i) for i in range(len(baskets))))
            finally:
                await db.aclose()
        outcomes = asyncio.run(run())
    else:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(one, range(len(baskets))))
    placed = [lines for outcome, lines in outcomes if outcome == "ok"]
    assert placed and len(placed) < len(baskets)  # some fit, the stock ran out for others
    wanted = {sku: sum(q for lines in placed for s, q in lines if s == sku) for sku in skus}
    with db.engine.connect() as conn:
        rows = {s: (p, r) for s, p, r in conn.execute(text(
            f"SELECT sku, present, reserved FROM stock WHERE warehouse_id = {first} "
            f"AND sku IN ({', '.join(map(str, skus))})"))}
    assert {sku: rows[sku][1] for sku in skus} == wanted
    assert all(reserved <= present for present, reserved in rows.values())


def test_batch_reruns_under_lock_when_stock_moved(world: tuple[Database, dict],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer takes the stock between a batch's read and its write: the check constraint
    aborts the write, and the batch runs again on rows read under lock (PostgreSQL)."""
    db, creds = world
    if not db.has_async_pool:
        pytest.skip("batches are PostgreSQL's")
    sku = creds["sku_base"]
    first, *others = creds["warehouses"].values()
    with db.session() as session:  # 3 units, all at one warehouse
        stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                          warehouse_id=first, present=3)
        for wh in others:
            stock.set_present(session, seller_id=creds["seller_id"], sku=sku,
                              warehouse_id=wh, present=0)
    reads: list[int] = []
    read_rows = orders_batch._Available.__init__

    def racing(self: orders_batch._Available, rows: list) -> None:
        reads.append(len(rows))
        if len(reads) == 1:  # after the first read, another writer reserves 2 of the 3
            with db.connection() as conn:
                conn.execute(text("UPDATE stock SET reserved = reserved + 2 "
                                  "WHERE sku = :sku AND warehouse_id = :wh"),
                             {"sku": sku, "wh": first})
        read_rows(self, rows)

    monkeypatch.setattr(orders_batch._Available, "__init__", racing)
    registry = CollectorRegistry()
    orders_batch.measure_batches(db, registry)

    async def run() -> None:
        try:
            with pytest.raises(OutOfStock):  # planned on 3 available, 1 was left
                await orders.place_order_async(db, client_id=creds["client_id"],
                                               region="R-MSK", lines=[(sku, 2)],
                                               idempotency_key="raced")
            placed = await orders.place_order_async(db, client_id=creds["client_id"],
                                                    region="R-MSK", lines=[(sku, 1)],
                                                    idempotency_key="the-last-one")
            assert placed.body["postings"][0]["warehouse_id"] == first
        finally:
            await db.aclose()

    asyncio.run(run())
    assert len(reads) == 3  # the race, the rerun under lock, the last order
    with db.engine.connect() as conn:
        present, reserved = conn.execute(text(
            "SELECT present, reserved FROM stock WHERE sku = :sku AND warehouse_id = :wh"),
            {"sku": sku, "wh": first}).one()
        keys = conn.execute(text("SELECT key FROM idempotency_keys")).scalars().all()
    assert (present, reserved) == (3, 3)
    assert keys == ["the-last-one"]  # the refused order left no key behind
    assert registry.get_sample_value(  # the app's /metrics shows the rerun and its cause
        "peakline_order_batch_runs_again_total", {"cause": "stock_moved"}) == 1
    assert registry.get_sample_value("peakline_order_batch_orders_count") == 2


def test_orders_gather_behind_a_running_batch(world: tuple[Database, dict],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """While a batch runs, arriving orders wait to form the next one; a second batch starts
    beside it only for a backlog of ``overlap_from`` orders (PostgreSQL)."""
    db, creds = world
    if not db.has_async_pool:
        pytest.skip("batches are PostgreSQL's")
    sizes: list[int] = []
    registry = CollectorRegistry()
    metrics = orders_batch.BatchMetrics(registry)

    async def run() -> list[int]:
        batcher = orders_batch.OrderBatcher(db, max_batch=64, in_flight=2, overlap_from=3,
                                            attempts=3, metrics=metrics)
        monkeypatch.setattr(orders, "batcher_for", lambda _db: batcher)
        gate = asyncio.Event()
        real_run = batcher._run

        async def held_run(batch: list) -> dict:
            sizes.append(len(batch))
            if len(sizes) == 1:
                await gate.wait()
            return await real_run(batch)

        batcher._run = held_run  # type: ignore[method-assign]

        async def order(i: int) -> int:
            placed = await orders.place_order_async(
                db, client_id=creds["client_id"], region="R-MSK",
                lines=[(creds["sku_base"], 1)], idempotency_key=f"gather-{i}")
            return placed.body["order_id"]

        async def until(condition: Callable[[], bool]) -> None:
            for _ in range(500):  # the first order also loads the seller and its network
                if condition():
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("timed out")

        try:
            tasks = [asyncio.create_task(order(0))]
            await until(lambda: len(sizes) == 1)  # nothing running: the first goes at once
            tasks += [asyncio.create_task(order(i)) for i in (1, 2)]
            await until(lambda: len(batcher.pending) == 2)
            assert sizes == [1]  # two waiting behind it: no second batch yet
            tasks.append(asyncio.create_task(order(3)))
            await until(lambda: len(sizes) == 2)
            assert sizes == [1, 3]  # a backlog of three: a batch beside the running one
            gate.set()
            return list(await asyncio.gather(*tasks))
        finally:
            await db.aclose()

    ids = asyncio.run(run())
    assert len(set(ids)) == 4 and sizes == [1, 3]
    # two batches of 1 and 3 orders; the second one's orders waited while the first was held
    assert registry.get_sample_value("peakline_order_batch_orders_count") == 2
    assert registry.get_sample_value("peakline_order_batch_orders_sum") == 4
    assert registry.get_sample_value("peakline_order_batch_wait_seconds_sum") > 0


def test_a_cold_network_cache_is_read_once_for_a_burst(world: tuple[Database, dict],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders arriving together before the seller's network is cached wait for one read."""
    db, creds = world
    if not db.has_async_pool:
        pytest.skip("the event-loop path is PostgreSQL's")
    network.NETWORKS.invalidate()
    reads: list[int] = []
    build = network.SellerNetwork.__init__

    def counted(self: network.SellerNetwork, *args: object, **kwargs: object) -> None:
        reads.append(1)
        build(self, *args, **kwargs)

    monkeypatch.setattr(network.SellerNetwork, "__init__", counted)

    async def burst() -> list[dict]:
        try:
            placed = await asyncio.gather(*(orders.place_order_async(
                db, client_id=creds["client_id"], region="R-MSK",
                lines=[(creds["sku_base"], 1)], idempotency_key=f"cold-{i}") for i in range(8)))
            return [p.body for p in placed]
        finally:
            await db.aclose()

    bodies = asyncio.run(burst())
    assert len({b["order_id"] for b in bodies}) == 8
    assert len(reads) == 1


def test_rows_read_on_the_driver_cursor_equal_sqlalchemy_rows(world, monkeypatch):
    """``raw_rows.RowsByKey`` (posting pages): SQLAlchemy's values, of SQLAlchemy's types."""
    db, creds = world
    sku = creds["sku_base"]
    _place(db, creds, [(sku, 2), (sku + 1, 1)], "raw-rows", portable=False,
           monkeypatch=monkeypatch)
    with db.read_session() as session:
        conn = session.connection()
        for model, key in ((Posting, "id"), (PostingItem, "posting_id"),
                           (Warehouse, "warehouse_id"), (DeliveryMethod, "id"), (Stock, "sku")):
            table = model.__table__
            pk = next(iter(table.primary_key.columns)).name
            expected = conn.execute(select(table).order_by(table.c[pk])).all()
            assert expected, table.name
            reader = RowsByKey(table, key, conn.dialect, order_by=pk)
            got = reader.fetch(conn, {row._mapping[key] for row in expected})
            assert [tuple(r) for r in got] == [tuple(r) for r in expected], table.name
            assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in expected]
            assert got[0]._fields == tuple(expected[0]._mapping)
            assert reader.fetch(conn, [-1]) == reader.fetch(conn, []) == []
        names = RowsByKey(Warehouse.__table__, "warehouse_id", conn.dialect, columns=("name",))
        warehouse_ids = conn.execute(select(Warehouse.warehouse_id)).scalars().all()
        assert sorted(r.name for r in names.fetch(conn, warehouse_ids)) == sorted(
            conn.execute(select(Warehouse.name)).scalars().all())


def test_orders_arriving_together_commit_together(world: tuple[Database, dict]) -> None:
    """Without the async pool (SQLite) concurrent orders form batches placed in one
    transaction each; a refused order writes nothing, its neighbours stand, a twin key is
    answered from the first order's response and a key reused with another body refused."""
    db, creds = world
    if db.has_async_pool:
        pytest.skip("PostgreSQL batches on the event loop (tests above)")
    sku = creds["sku_base"]
    registry = CollectorRegistry()
    orders_batch.measure_batches(db, registry)
    before = _counts(db)
    lines = {"ok": [(sku, 1)], "unknown": [(sku + 10**6, 1)], "twin": [(sku, 1)],
             "other-body": [(sku, 2)]}
    keys = {"ok": "k-1", "unknown": "k-2", "twin": "k-1", "other-body": "k-1"}
    plain = [f"plain-{i}" for i in range(10)]

    async def place(name: str) -> object:
        try:
            return await orders.place_order_async(
                db, client_id=creds["client_id"], region="R-MSK",
                lines=lines.get(name, [(sku, 1)]), idempotency_key=keys.get(name, name))
        except Exception as exc:  # noqa: BLE001 - the refusals are the outcome here
            return exc

    async def run() -> list[object]:
        return await asyncio.gather(*(place(n) for n in [*lines, *plain]))

    ok, unknown, twin, other_body, *placed = asyncio.run(run())
    assert isinstance(unknown, InvalidInput)
    assert isinstance(other_body, IdempotencyMismatch)
    assert not ok.replayed and twin.replayed and twin.body == ok.body
    assert all(not p.replayed for p in placed)
    assert len({p.body["order_id"] for p in [ok, *placed]}) == 11
    after = _counts(db)
    assert after["orders"] - before["orders"] == 11  # the refusals left no row behind
    assert after["idempotency_keys"] - before["idempotency_keys"] == 11
    batches = registry.get_sample_value("peakline_order_batch_orders_count")
    assert registry.get_sample_value("peakline_order_batch_orders_sum") == 14
    assert batches is not None and batches < 14  # they waited for one another


def test_a_cold_seller_cache_is_read_once(world: tuple[Database, dict],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders arriving while the seller cache is cold (or expired) wait for one read of the
    seller instead of each sending its own (PostgreSQL's event-loop path)."""
    db, creds = world
    if not db.has_async_pool:
        pytest.skip("the event-loop path is PostgreSQL's")
    reads: list[str] = []
    read = orders._read_seller

    def counted(db_: Database, client_id: str) -> tuple | None:
        reads.append(client_id)
        return read(db_, client_id)

    monkeypatch.setattr(orders, "_read_seller", counted)
    monkeypatch.setattr(orders, "_sellers", {})

    async def run() -> list[int]:
        try:
            placed = await asyncio.gather(*(orders.place_order_async(
                db, client_id=creds["client_id"], region="R-MSK",
                lines=[(creds["sku_base"], 1)], idempotency_key=f"cold-{i}") for i in range(8)))
            return [p.body["order_id"] for p in placed]
        finally:
            await db.aclose()

    assert len(set(asyncio.run(run()))) == 8
    assert reads == [creds["client_id"]]


@pytest.mark.parametrize("region", ["R-MSK", "", "Москва", 'a"b', "a\\b", "a\x7fb", "a\nb",
                                    "tab\there", "\x00", "\ud800", "emoji \U0001f600", "~ !"])
def test_request_hash_is_the_digest_of_the_canonical_json(region: str) -> None:
    """The stored keys' hashes are of ``json.dumps`` text (compact, ASCII-escaped): a request
    hashes to the same digest whichever encoder wrote it (a retry after an upgrade)."""
    lines = [(1010000001, 2), (7, 100_000)]
    for client_id in ("12345", region):
        canonical = json.dumps({"client_id": client_id, "region": region,
                                "lines": [[s, q] for s, q in lines]}, separators=(",", ":"))
        expected = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        assert orders.request_hash(client_id, region, lines) == expected


@pytest.mark.parametrize("at", [
    datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999), datetime(999, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)])
def test_iso_writes_milliseconds_and_z(at: datetime) -> None:
    assert plan.iso(at) == at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
