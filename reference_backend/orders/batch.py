"""Group commit for buyer orders: orders that arrive together are placed together.

:class:`GroupCommit` queues them; a database without the async pool (SQLite) places each
batch in one transaction in a worker thread, one batch at a time (:class:`ThreadBatcher`,
with :func:`~.service.place_orders`: a savepoint per order). The rest of this module is
PostgreSQL's :class:`OrderBatcher`, on the event loop.

Per event loop, the orders that arrive while a batch is in the database form the next one
(at most ``max_batch``); a second batch starts beside the running one (up to ``in_flight``)
only for a backlog of ``overlap_from`` orders, so moderate traffic makes fewer, larger
batches and no two small ones queue on the same stock rows. A batch is one transaction
on one connection of the async pool, in two round trips whatever its size:

1. (pipelined) look up the batch's Idempotency-Keys (a key already used is answered from
   its stored response), draw the order ids, and read the stock rows of its SKUs;
2. allocate the orders in arrival order, each by its seller's policy over what the earlier
   ones left (the same :func:`~.plan.allocate` and :func:`~.plan.plan_order`
   as every other path); (pipelined) write the orders, postings, items, events, the keys
   with their answers and the reservations, and commit.

Nothing is locked while Python allocates. The database settles every race: if another
writer took the stock since the read, the ``reserved_within_present`` check aborts the
transaction and the batch runs again, this time reading the rows ``FOR UPDATE`` (in
(warehouse, sku) order, as every writer locks them); if a twin request (same key) committed
meanwhile, the key's unique index aborts it and the run again answers the twin from the
stored response; a deadlock runs it again. A second request with a key already in the batch
waits for the next batch (and is answered from the first one's response there).

A refusal (unknown SKU or region, short stock, a key reused with another body) fails only
its own order and writes nothing for it. Per order, the database work of a lone order
becomes a share of two round trips; that is what lets one worker place several hundred
orders a second (``benchmarks/backend_throughput.py``).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.concurrency import run_in_threadpool

from reference_backend.db import Database
from reference_backend.domain_errors import Conflict, DomainError
from reference_backend.orders.plan import Candidate, OrderPlan, allocate, plan_order
from reference_backend.orders.sql import json_text, postgres_orders
from reference_backend.promotions.pricing import ACTION_NOW_SQL, LEFT_NOW_SQL, PRICE_NOW_SQL
from reference_backend.warehouses.network import SellerNetwork


@dataclass(slots=True, eq=False)
class OrderRequest:
    """One buyer order waiting for its batch (what :func:`place_order_async` checked)."""

    seller_id: int
    policy: Any
    network: SellerNetwork
    region: str
    lines: list[tuple[int, int]]
    key: str | None
    scope: str
    body_hash: str
    deadline: timedelta
    now: datetime


@dataclass(slots=True)
class Placed:
    """A placed order's answer, or (``stored``) the row of the key it was sent with before:
    ``(body_hash, response)``, for the caller to replay or refuse."""

    body: dict[str, Any] | None = None
    stored: tuple[str, Any] | None = None


#: why a batch runs again (``peakline_order_batch_runs_again_total{cause}``)
RUN_AGAIN_CAUSES = ("stock_moved", "twin_key", "deadlock")


class BatchMetrics:
    """How the group commit behaves (Prometheus, in the app's registry): batch sizes, how
    long the oldest order of a batch waited for it, how long a batch took, and its runs
    again by cause. A p99 that grows with the load shows here first."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.orders = Histogram(
            "peakline_order_batch_orders", "Buyer orders per group-commit batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=registry)
        self.wait = Histogram(
            "peakline_order_batch_wait_seconds",
            "How long a batch's oldest order waited for the batch to start",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1),
            registry=registry)
        self.duration = Histogram(
            "peakline_order_batch_seconds", "From a batch's start to its orders' answers",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry)
        self.again = Counter(
            "peakline_order_batch_runs_again", "Batches run again, by cause", ["cause"],
            registry=registry)
        for cause in RUN_AGAIN_CAUSES:  # shown at 0 before the first, so rates and alerts work
            self.again.labels(cause)


class _Statements:
    """The batch's two statements (PostgreSQL, psycopg), built once per database."""

    def __init__(self, db: Database) -> None:
        self.fast = fast = postgres_orders(db.engine.dialect)
        used_keys = (  # one unique-index lookup per key, whatever the table's statistics
            "SELECT coalesce(json_agg(json_build_array(w.scope, w.key, k.body_hash, "
            "k.response)), '[]') FROM json_to_recordset(%s) AS w(scope text, key text) "
            "CROSS JOIN LATERAL (SELECT body_hash, response FROM idempotency_keys k "
            "WHERE k.scope = w.scope AND k.key = w.key LIMIT 1) k")
        order_ids = ("SELECT json_agg(nextval(pg_get_serial_sequence('orders', 'id'))) "
                     "FROM generate_series(1, %s)")
        columns = ("seller_id", "sku", "warehouse_id", "available", "product_id", "offer_id",
                   "name", "price", "currency_code", "action_id", "base_price",
                   "action_left")  # a seller's Candidate
        stock = (
            f"SELECT coalesce(json_agg(json_build_array({', '.join(f'x.{c}' for c in columns)})"
            "), '[]') FROM (SELECT s.seller_id, s.sku, s.warehouse_id, "
            "s.present - s.reserved AS available, p.product_id, p.offer_id, p.name, "
            f"{PRICE_NOW_SQL} AS price, p.currency_code, {ACTION_NOW_SQL} AS action_id, "
            f"p.price AS base_price, {LEFT_NOW_SQL} AS action_left FROM stock s "
            "JOIN products p ON p.product_id = s.product_id "
            "JOIN json_to_recordset(%s) AS w(seller_id bigint, sku bigint) "
            "ON s.seller_id = w.seller_id AND s.sku = w.sku ORDER BY s.warehouse_id, s.sku{}) x")
        read = f"SELECT ({used_keys})::text, ({order_ids})::text, ({stock})::text"
        #: round trip 1: used keys, order ids and stock rows, as three JSON texts
        self.read = read.format("")
        #: the same, the stock rows locked (in (warehouse, sku) order, as every writer locks)
        self.read_locked = read.format(" FOR UPDATE OF s")
        orders, keys = fast.orders, fast.keys
        insert_orders = (
            f"o AS (INSERT INTO orders (id, {orders.quoted}) SELECT r.id, {orders.quoted} "
            f"FROM {orders.recordset().replace('AS r(', 'AS r(id bigint, ')})")
        insert_keys = (f"k AS (INSERT INTO idempotency_keys ({keys.quoted}) "
                       f"SELECT {keys.quoted} FROM {keys.recordset()})")
        #: round trip 2: orders, postings, items, events, unguarded reservations and action
        #: units (an oversell violates reserved_within_present or sold_within_stock and
        #: aborts it all) and keys
        self.write = (f"WITH {insert_orders}, {fast.write_ctes(guarded=False)}, "
                      f"{insert_keys} SELECT 1")


@dataclass(slots=True, eq=False)
class _Waiting:
    """A queued order: the request, the future its caller awaits, when it was queued."""

    request: Any
    future: asyncio.Future[Any]
    queued_at: float  # time.perf_counter()


class GroupCommit:
    """Queues orders and places them in batches, at most ``in_flight`` in the database;
    :meth:`_run` places one batch (the outcome of each request; none: the next batch)."""

    def __init__(self, *, max_batch: int, in_flight: int, overlap_from: int,
                 metrics: BatchMetrics | None) -> None:
        self.metrics = metrics
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.overlap_from = overlap_from
        self.pending: list[_Waiting] = []
        self.loop = asyncio.get_running_loop()
        self.running: set[asyncio.Task[None]] = set()

    async def place(self, request: Any) -> Any:
        """Queue ``request``; its answer, or the refusal it raised, once its batch is done."""
        waiting = _Waiting(request, self.loop.create_future(), time.perf_counter())
        self.pending.append(waiting)
        self._start()
        return await waiting.future

    def _start(self) -> None:
        """Send what is queued as new batches: at once when none is running; beside a running
        one (up to ``in_flight``) only for a backlog of ``overlap_from`` orders or more."""
        while self.pending and (not self.running or (
                len(self.running) < self.in_flight and len(self.pending) >= self.overlap_from)):
            batch = self.pending[: self.max_batch]
            del self.pending[: self.max_batch]
            task = self.loop.create_task(self._settled(batch))
            self.running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self._start()

    async def _settled(self, batch: list[_Waiting]) -> None:
        """Run the batch; every order gets its outcome (or the batch's error)."""
        started = time.perf_counter()
        requests = [w.request for w in batch]
        try:
            outcomes = await self._run(requests)
        except Exception as exc:  # noqa: BLE001 - every waiting order gets the error
            outcomes = dict.fromkeys(requests, exc)
        if self.metrics is not None:
            self.metrics.orders.observe(len(batch))
            self.metrics.wait.observe(started - min(w.queued_at for w in batch))
            self.metrics.duration.observe(time.perf_counter() - started)
        for waiting in batch:
            outcome = outcomes.get(waiting.request)
            if outcome is None:  # a twin of an earlier order in the batch: the next batch
                self.pending.append(waiting)
            elif not waiting.future.done():  # (done: the client went away; the order stands)
                if isinstance(outcome, BaseException):
                    waiting.future.set_exception(outcome)
                else:
                    waiting.future.set_result(outcome)

    async def _run(self, batch: list[Any]) -> dict[Any, Any]:
        raise NotImplementedError


class ThreadBatcher(GroupCommit):
    """Group commit for a database without the async pool (SQLite): ``place(batch)`` places
    a batch in one transaction in a worker thread, one batch at a time (one writer)."""

    def __init__(self, place: Callable[[list[Any]], dict[Any, Any]], *, max_batch: int,
                 metrics: BatchMetrics | None) -> None:
        super().__init__(max_batch=max_batch, in_flight=1, overlap_from=max_batch,
                         metrics=metrics)
        self.place_batch = place

    async def _run(self, batch: list[Any]) -> dict[Any, Any]:
        return await run_in_threadpool(self.place_batch, batch)


class OrderBatcher(GroupCommit):
    """PostgreSQL's group commit: each batch in two round trips on the async pool."""

    def __init__(self, db: Database, *, max_batch: int, in_flight: int, overlap_from: int,
                 attempts: int, metrics: BatchMetrics | None = None) -> None:
        super().__init__(max_batch=max_batch, in_flight=in_flight, overlap_from=overlap_from,
                         metrics=metrics)
        self.db = db
        self.attempts = max(1, attempts)
        self.sql = _Statements(db)

    async def _run(self, batch: list[OrderRequest]) -> dict[OrderRequest, Placed | Exception]:
        import psycopg.errors

        pool = await self.db.async_pool()
        lock = False
        for _ in range(self.attempts):
            try:
                async with pool.connection() as conn:
                    if not lock:  # autocommit: a read, then one atomic statement
                        return await self._attempt(conn, batch, lock=False)
                    async with conn.transaction():
                        return await self._attempt(conn, batch, lock=True)
            except psycopg.errors.CheckViolation as exc:  # stock moved since the read
                name = exc.diag.constraint_name or ""
                if "reserved_within_present" not in name and "sold_within_stock" not in name:
                    raise
                lock = True  # again, reading the rows under lock: it cannot happen twice
                self._ran_again("stock_moved")
            except psycopg.errors.UniqueViolation as exc:  # a twin committed meanwhile
                if "idempotency_keys" not in (exc.diag.table_name or ""):
                    raise
                self._ran_again("twin_key")
            except psycopg.errors.DeadlockDetected:
                self._ran_again("deadlock")
        raise Conflict("the order could not be placed under concurrent load; retry",
                       code="ORDER_CONTENTION")

    def _ran_again(self, cause: str) -> None:
        if self.metrics is not None:
            self.metrics.again.labels(cause).inc()

    async def _attempt(self, conn: Any, batch: list[OrderRequest], *, lock: bool
                       ) -> dict[OrderRequest, Placed | Exception]:
        """One attempt at the batch; the outcome of each order (none: a twin)."""
        pairs = sorted({(r.seller_id, sku) for r in batch for sku, _ in r.lines})
        cur = await conn.execute(self.sql.read_locked if lock else self.sql.read, (
            json_text([{"scope": r.scope, "key": r.key} for r in batch if r.key]), len(batch),
            json_text([{"seller_id": seller_id, "sku": sku} for seller_id, sku in pairs])))
        used, ids, rows = map(orjson.loads, await cur.fetchone())
        stored = {(scope, key): (body_hash, response) for scope, key, body_hash, response in used}
        available = _Available(rows)

        outcomes: dict[OrderRequest, Placed | Exception] = {}
        plans: list[tuple[OrderRequest, OrderPlan]] = []
        keys_in_batch: set[tuple[str, str]] = set()
        for request, order_id in zip(batch, ids, strict=True):
            if request.key:
                key = (request.scope, request.key)
                if key in stored:
                    outcomes[request] = Placed(stored=stored[key])
                    continue
                if key in keys_in_batch:
                    continue  # no outcome: it goes to the next batch
                keys_in_batch.add(key)
            try:
                plan = self._plan(request, order_id, available)
            except DomainError as exc:
                outcomes[request] = exc
                continue
            plans.append((request, plan))
            outcomes[request] = Placed(plan.body)
        if plans:
            await conn.execute(self.sql.write, self._write_params(plans))
        return outcomes

    def _write_params(self, plans: list[tuple[OrderRequest, OrderPlan]]) -> tuple[Any, ...]:
        fast = self.sql.fast
        orders = json_text([{"id": p.body["order_id"], **fast.orders.full({
            "seller_id": r.seller_id, "region": r.region, "created_at": r.now,
            "replaces_return_id": None})} for r, p in plans])
        merged = OrderPlan([], [], [], [], {})
        taken: dict[tuple[int, int], int] = {}
        for _, plan in plans:
            merged.postings += plan.postings
            merged.items += plan.items
            merged.events += plan.events
            merged.moves += plan.moves
            for action_id, product_id, quantity in plan.action_moves:
                taken[(action_id, product_id)] = taken.get((action_id, product_id), 0) + quantity
        merged.action_moves = [(a, p, q) for (a, p), q in taken.items()]  # one update per row
        rows = fast.write_rows(merged, max(r.now for r, _ in plans))
        keys = json_text([fast.keys.full({
            "scope": r.scope, "key": r.key, "body_hash": r.body_hash, "status_code": 201,
            "response": p.body, "created_at": r.now}) for r, p in plans if r.key])
        return (orders, *rows, keys)

    @staticmethod
    def _plan(request: OrderRequest, order_id: int, available: _Available) -> OrderPlan:
        """Allocate over what is left, take it from ``available``; the order's rows."""
        by_wh, products = allocate(policy=request.policy, network=request.network,
                                   region=request.region, lines=request.lines,
                                   rows=available.candidates(request))
        plan = plan_order(seller_id=request.seller_id, order_id=order_id,
                          region=request.region, by_wh=by_wh, products=products,
                          network=request.network, now=request.now, deadline=request.deadline,
                          action_taken=available.action_taken)
        available.take(request.seller_id, plan.moves)
        return plan


class _Available:
    """The stock rows of a batch, less what its earlier orders took (stock and action units)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.action_taken: dict[tuple[int, int], int] = {}  # (action, product) -> units
        self.cells: dict[tuple[int, int, int], list[Any]] = {}  # (seller, sku, warehouse)
        self.by_sku: dict[tuple[int, int], list[list[Any]]] = {}
        for seller_id, *candidate in rows:
            self.cells[(seller_id, candidate[0], candidate[1])] = candidate
            self.by_sku.setdefault((seller_id, candidate[0]), []).append(candidate)

    def candidates(self, request: OrderRequest) -> list[Candidate]:
        return [tuple(c) for sku in {sku for sku, _ in request.lines}  # type: ignore[misc]
                for c in self.by_sku.get((request.seller_id, sku), ())]

    def take(self, seller_id: int, moves: list[tuple[int, int, int]]) -> None:
        for sku, wh, quantity in moves:
            self.cells[(seller_id, sku, wh)][2] -= quantity


_batchers: weakref.WeakKeyDictionary[Database, GroupCommit] = weakref.WeakKeyDictionary()
_metrics: weakref.WeakKeyDictionary[Database, BatchMetrics] = weakref.WeakKeyDictionary()


def measure_batches(db: Database, registry: CollectorRegistry) -> None:
    """Record the batches of ``db`` in ``registry`` (:class:`BatchMetrics`)."""
    _metrics[db] = BatchMetrics(registry)


def batcher_for(db: Database, place: Callable[[list[Any]], dict[Any, Any]] | None = None
                ) -> GroupCommit:
    """The batcher of ``db`` on the running event loop (a test client runs a loop of its own):
    PostgreSQL's (:class:`OrderBatcher`), or without the async pool one placing batches with
    ``place`` in a worker thread (:class:`ThreadBatcher`)."""
    batcher = _batchers.get(db)
    if batcher is None or batcher.loop is not asyncio.get_running_loop():
        settings = db.settings
        if db.has_async_pool:
            batcher = OrderBatcher(
                db, max_batch=settings.order_batch_max,
                in_flight=settings.order_batches_in_flight,
                overlap_from=settings.order_batch_overlap_from,
                attempts=settings.order_allocation_attempts, metrics=_metrics.get(db))
        else:
            assert place is not None
            batcher = ThreadBatcher(place, max_batch=settings.order_batch_max,
                                    metrics=_metrics.get(db))
        _batchers[db] = batcher
    return batcher
