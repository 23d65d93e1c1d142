"""Group commit for buyer orders on PostgreSQL: orders that arrive together are placed together.

Per event loop, one batch at a time is in the database; the orders that arrive meanwhile
form the next one (at most ``max_batch``). A batch is one transaction on one connection of
the async pool, in three round trips whatever its size:

1. (pipelined) claim the Idempotency-Keys (``ON CONFLICT DO NOTHING``: a retry, or a twin in
   flight, is answered from the stored response once this batch commits), draw the order
   ids, and read and lock (``FOR UPDATE``, in (warehouse, sku) order, as every other writer
   locks them) the stock rows of every SKU in the batch;
2. allocate the orders in arrival order, each by its seller's policy over what the earlier
   ones left (the same :func:`~.orders_plan.allocate` and :func:`~.orders_plan.plan_order`
   as every other path); (pipelined) write the orders, postings, items, events and the
   keys' answers, free the keys of refused orders, reserve;
3. commit.

A refusal (unknown SKU or region, short stock, a key reused with another body) fails only
its own order and writes nothing for it. A database error (e.g. a deadlock with another
worker) rolls the whole batch back and runs it again. Per order, the database work of a
lone order becomes a share of three round trips; that is what lets one worker place
several hundred orders a second (``benchmarks/backend_throughput.py``).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reference_backend.db import Database
from reference_backend.services.errors import Conflict, DomainError
from reference_backend.services.network import SellerNetwork
from reference_backend.services.orders_plan import Candidate, OrderPlan, allocate, plan_order
from reference_backend.services.orders_sql import _Columns, _json_default, postgres_orders


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
    future: asyncio.Future[Any] = field(repr=False)


@dataclass(slots=True)
class Placed:
    """A placed order's answer, or (``stored``) the row of the key it was sent with before:
    ``(body_hash, response)``, for the caller to replay or refuse."""

    body: dict[str, Any] | None = None
    stored: tuple[str, Any] | None = None


_REPLAY = Placed()  # a batch's placeholder: the key was taken, read its row after the commit


class _Statements:
    """The batch's SQL (PostgreSQL, psycopg), built once per dialect."""

    def __init__(self, db: Database) -> None:
        fast = postgres_orders(db.engine.dialect)
        self.write = fast.sql_write  # postings, items, events, guarded reservations; counts
        self.fast = fast
        orders: _Columns = fast.orders
        self.orders = orders
        self.claim = (
            "INSERT INTO idempotency_keys (scope, key, body_hash, status_code, response, "
            "created_at) SELECT k.scope, k.key, k.hash, 0, NULL, k.at "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[]) "
            "AS k(scope, key, hash, at) "
            "ON CONFLICT (scope, key) DO NOTHING RETURNING id, scope, key")
        self.order_ids = ("SELECT nextval(pg_get_serial_sequence('orders', 'id')) "
                          "FROM generate_series(1, %s)")
        self.stock = (
            "SELECT s.seller_id, s.sku, s.warehouse_id, s.present - s.reserved, p.product_id, "
            "p.offer_id, p.name, p.price, p.currency_code FROM stock s "
            "JOIN products p ON p.product_id = s.product_id "
            "JOIN unnest(%s::bigint[], %s::bigint[]) AS w(seller_id, sku) "
            "ON s.seller_id = w.seller_id AND s.sku = w.sku "
            "ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s")
        self.insert_orders = (
            f"INSERT INTO orders (id, {orders.quoted}) SELECT r.id, {orders.quoted} "
            f"FROM {orders.recordset().replace('AS r(', 'AS r(id bigint, ')}")
        self.answer_keys = (  # unnest: planned as few rows, so the primary key index is used
            "UPDATE idempotency_keys k SET status_code = 201, response = a.response "
            "FROM unnest(%s::bigint[], %s::json[]) AS a(id, response) WHERE k.id = a.id")
        self.free_keys = "DELETE FROM idempotency_keys WHERE id = ANY(%s::bigint[])"
        self.stored = ("SELECT scope, key, body_hash, response FROM idempotency_keys "
                       "JOIN unnest(%s::text[], %s::text[]) AS w(scope, key) USING (scope, key)")


class OrderBatcher:
    """Queues orders and places them in batches, one batch in the database at a time."""

    def __init__(self, db: Database, *, max_batch: int, attempts: int) -> None:
        self.db = db
        self.max_batch = max_batch
        self.attempts = max(1, attempts)
        self.sql = _Statements(db)
        self.pending: list[OrderRequest] = []
        self.loop = asyncio.get_running_loop()
        self.draining: asyncio.Task[None] | None = None

    async def place(self, request: OrderRequest) -> Placed:
        """Queue ``request``; its answer, or the refusal it raised, once its batch is done."""
        self.pending.append(request)
        if self.draining is None:
            self.draining = self.loop.create_task(self._drain())
        return await request.future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch = self.pending[: self.max_batch]
                del self.pending[: self.max_batch]
                try:
                    await self._run(batch)
                except Exception as exc:  # noqa: BLE001 - every waiting order gets the error
                    for request in batch:
                        _settle(request, exc)
        finally:
            self.draining = None

    async def _run(self, batch: list[OrderRequest]) -> None:
        import psycopg.errors

        pool = await self.db.async_pool()
        for attempt in range(self.attempts):
            try:
                async with pool.connection() as conn:
                    outcomes = await self._transaction(conn, batch)
                break  # committed when the block closed
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure,
                    _LostRace):
                if attempt == self.attempts - 1:
                    raise Conflict("the order could not be placed under concurrent load; "
                                   "retry", code="ORDER_CONTENTION") from None
        retry: list[OrderRequest] = []
        replays = [r for r in batch if outcomes[r] is _REPLAY]
        stored = await self._stored(pool, replays) if replays else {}
        for request in batch:
            outcome = outcomes[request]
            if outcome is _REPLAY:
                row = stored.get((request.scope, request.key))
                if row is None:  # the key's first order was refused meanwhile: place it
                    retry.append(request)
                    continue
                outcome = Placed(stored=row)
            _settle(request, outcome)
        self.pending[:0] = retry

    async def _transaction(self, conn: Any, batch: list[OrderRequest]
                           ) -> dict[OrderRequest, Placed | Exception]:
        sql = self.sql
        keyed = [r for r in batch if r.key]
        pairs = sorted({(r.seller_id, sku) for r in batch for sku, _ in r.lines})
        async with conn.pipeline():  # round trip 1: claim keys, order ids, lock stock
            claim = conn.cursor()
            if keyed:
                await claim.execute(sql.claim, (
                    [r.scope for r in keyed], [r.key for r in keyed],
                    [r.body_hash for r in keyed], [r.now for r in keyed]))
            ids = conn.cursor()
            await ids.execute(sql.order_ids, (len(batch),))
            rows = conn.cursor()
            await rows.execute(sql.stock, ([p[0] for p in pairs], [p[1] for p in pairs]))
        claimed = {(scope, key): key_id for key_id, scope, key in
                   (await claim.fetchall() if keyed else [])}
        order_ids = [row[0] for row in await ids.fetchall()]
        available = _Available(await rows.fetchall())

        outcomes: dict[OrderRequest, Placed | Exception] = {}
        plans: list[tuple[OrderRequest, OrderPlan, int | None]] = []
        freed: list[int] = []
        for request, order_id in zip(batch, order_ids, strict=True):
            key_id = claimed.pop((request.scope, request.key), None) if request.key else None
            if request.key and key_id is None:
                outcomes[request] = _REPLAY
                continue
            try:
                plan = self._plan(request, order_id, available)
            except DomainError as exc:
                outcomes[request] = exc
                if key_id is not None:
                    freed.append(key_id)
                continue
            plans.append((request, plan, key_id))
            outcomes[request] = Placed(plan.body)
        async with conn.pipeline():  # round trip 2: the rows, the keys, the reservations
            if plans:
                await conn.execute(sql.insert_orders, (json.dumps([
                    {"id": p.body["order_id"], **sql.orders.full({
                        "seller_id": r.seller_id, "region": r.region, "created_at": r.now,
                        "replaces_return_id": None})} for r, p, _ in plans],
                    default=_json_default),))
                written = conn.cursor()
                sql_write, params = sql.fast._write_params(
                    _merged(plans), None, max(r.now for r, _, _ in plans))
                await written.execute(sql_write, params)
                answered = [(k, p.body) for _, p, k in plans if k is not None]
                if answered:
                    await conn.execute(sql.answer_keys, ([k for k, _ in answered], [
                        json.dumps(body) for _, body in answered]))
            if freed:
                await conn.execute(sql.free_keys, (freed,))
        if plans and not sql.fast._written(_merged(plans), await written.fetchone()):
            raise _LostRace()  # cannot happen under FOR UPDATE; rolled back if it does
        return outcomes

    @staticmethod
    def _plan(request: OrderRequest, order_id: int, available: _Available) -> OrderPlan:
        """Allocate over what is left, take it from ``available``; the order's rows."""
        by_wh, products = allocate(policy=request.policy, network=request.network,
                                   region=request.region, lines=request.lines,
                                   rows=available.candidates(request))
        plan = plan_order(seller_id=request.seller_id, order_id=order_id,
                          region=request.region, by_wh=by_wh, products=products,
                          network=request.network, now=request.now, deadline=request.deadline)
        available.take(request.seller_id, plan.moves)
        return plan

    async def _stored(self, pool: Any, replays: list[OrderRequest]
                      ) -> dict[tuple[str, str | None], tuple[str, Any]]:
        async with pool.connection() as conn:
            cur = await conn.execute(self.sql.stored, (
                [r.scope for r in replays], [r.key for r in replays]))
            return {(scope, key): (body_hash, response)
                    for scope, key, body_hash, response in await cur.fetchall()}


class _Available:
    """The locked stock rows of a batch, less what its earlier orders took."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
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


class _LostRace(Exception):
    """A reservation matched fewer rows than planned (a bug: the rows were locked)."""


def _merged(plans: list[tuple[OrderRequest, OrderPlan, int | None]]) -> OrderPlan:
    """The batch's rows as one plan (the write statement takes any number of orders)."""
    merged = OrderPlan([], [], [], [], {})
    for _, plan, _ in plans:
        merged.postings += plan.postings
        merged.items += plan.items
        merged.events += plan.events
        merged.moves += plan.moves
    return merged


def _settle(request: OrderRequest, outcome: Placed | BaseException) -> None:
    if request.future.done():  # the client went away; the order stands
        return
    if isinstance(outcome, BaseException):
        request.future.set_exception(outcome)
    else:
        request.future.set_result(outcome)


_batchers: weakref.WeakKeyDictionary[Database, OrderBatcher] = weakref.WeakKeyDictionary()


def batcher_for(db: Database, *, max_batch: int, attempts: int) -> OrderBatcher:
    """The batcher of ``db`` on the running event loop (a test client runs a loop of its own)."""
    batcher = _batchers.get(db)
    if batcher is None or batcher.loop is not asyncio.get_running_loop():
        batcher = _batchers[db] = OrderBatcher(db, max_batch=max_batch, attempts=attempts)
    return batcher
