"""Buyer orders: allocate by the seller's policy, reserve atomically, split into postings.

:func:`place_order` does the whole write in one short transaction, in a savepoint of its
own (:func:`place_orders` places several orders so, one commit for them all): the
idempotency row (first, so a concurrent retry with the same key waits on its unique index,
and a retry of a placed order conflicts there and is answered from the stored response),
the order, one posting per warehouse, their items, one ``TYPE_NEW_POSTING`` outbox event
each and, last, the guarded stock ``UPDATE``s (a hot stock row stays locked only until the
commit). If a concurrent order took the stock between the read and the reservation, the
savepoint is rolled back and allocation runs again on fresh stock; short stock is
:class:`OutOfStock` with nothing written.

The statements go to the driver's cursor (:mod:`.sql`: two statements on PostgreSQL); what
to write is decided without the database (:mod:`.plan`). The HTTP endpoint uses
:func:`place_order_async`: the orders that arrive together are placed in one transaction
(:mod:`.batch`; on the event loop on PostgreSQL, in a worker thread on SQLite).
:func:`place_order_in` places an order inside a caller's ORM session (an exchange's
replacement) through portable SQLAlchemy Core statements that write the same rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reference_backend.db import Database
from reference_backend.domain_errors import (
    Conflict,
    DomainError,
    IdempotencyMismatch,
    NotFound,
    OutOfStock,
)
from reference_backend.orders.batch import OrderRequest, batcher_for
from reference_backend.orders.plan import (
    MAX_LINES,
    MAX_QUANTITY,
    Candidate,
    allocate,
    check_lines,
    plan_order,
)
from reference_backend.orders.sql import fast_orders
from reference_backend.promotions.pricing import action_at, left_at, price_at
from reference_backend.raw_rows import driver_cursor
from reference_backend.stock import rows as stock
from reference_backend.tables import (
    ActionProduct,
    IdempotencyKey,
    Order,
    OutboxEvent,
    Posting,
    PostingItem,
    Product,
    Seller,
    Stock,
    utcnow,
)
from reference_backend.warehouses.network import (
    NETWORKS,
    allocation_policy,
    database_key,
)

__all__ = ["MAX_LINES", "MAX_QUANTITY", "OrderOutcome", "place_order", "place_order_async",
           "place_order_in", "request_hash"]

# Portable Core statements (place_order_in, and dialects without a hot path)
_S, _P = Stock.__table__, Product.__table__
_CANDIDATES = (
    select(_S.c.sku, _S.c.warehouse_id, _S.c.present - _S.c.reserved, _P.c.product_id,
           _P.c.offer_id, _P.c.name, price_at(_P, bindparam("at")), _P.c.currency_code,
           action_at(_P, bindparam("at")), _P.c.price, left_at(_P, bindparam("at")))
    .join(_P, _P.c.product_id == _S.c.product_id)
    .where(_S.c.seller_id == bindparam("seller_id"),
           _S.c.sku.in_(bindparam("skus", expanding=True)))
)
_INSERT_ORDER = insert(Order.__table__).returning(Order.__table__.c.id)
_INSERT_POSTING = insert(Posting.__table__).returning(Posting.__table__.c.id)
_INSERT_ITEMS = insert(PostingItem.__table__)
_INSERT_EVENTS = insert(OutboxEvent.__table__)
_K = IdempotencyKey.__table__
_AP = ActionProduct.__table__
_SELL_AT_ACTION = (
    _AP.update()
    .where(_AP.c.action_id == bindparam("a"), _AP.c.product_id == bindparam("p"),
           _AP.c.sold + bindparam("q") <= _AP.c.stock)
    .values(sold=_AP.c.sold + bindparam("q")))
_SELLER = select(Seller.__table__.c.id, Seller.__table__.c.allocation_policy,
                 Seller.__table__.c.allocation_params).where(
    Seller.__table__.c.client_id == bindparam("client_id"))


@dataclass(frozen=True)
class OrderOutcome:
    """The answer to an order request; ``replayed`` when it came from an Idempotency-Key."""

    body: dict[str, Any]
    replayed: bool = False


class _LostRace(Exception):
    """A guarded reservation matched fewer rows than asked: stock moved under us."""


#: Text both JSON encoders write as it is (printable ASCII but ``"`` and ``\\``).
_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def request_hash(client_id: str, region: str, lines: list[tuple[int, int]]) -> str:
    """SHA-256 of the request's canonical JSON (``json.dumps``, compact, ASCII-escaped: the
    stored keys' hashes are of that text). orjson writes the same text for plain strings, in
    a third of the time; others take ``json.dumps``."""
    body = {"client_id": client_id, "region": region, "lines": [[s, q] for s, q in lines]}
    if _PLAIN.fullmatch(client_id) and _PLAIN.fullmatch(region):
        return hashlib.sha256(orjson.dumps(body)).hexdigest()
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def _replay(conn: Connection, scope: str, key: str, body_hash: str) -> OrderOutcome | None:
    row = conn.execute(
        select(_K.c.body_hash, _K.c.response).where(_K.c.scope == scope, _K.c.key == key)
    ).first()
    return _replayed(row, key, body_hash)


def _replayed(row: Any, key: str, body_hash: str) -> OrderOutcome | None:
    """The stored answer of an idempotency row (None: no row), or why it cannot be given."""
    if row is None:
        return None
    if row[0] != body_hash:
        raise IdempotencyMismatch(
            "this Idempotency-Key was already used with a different request body",
            details=[{"idempotency_key": key}])
    if row[1] is None:  # only possible mid-transaction; callers retry
        raise Conflict("an order with this Idempotency-Key is being placed; retry",
                       code="IDEMPOTENCY_IN_PROGRESS")
    return OrderOutcome(row[1], replayed=True)


@dataclass(frozen=True, eq=False)
class _Order:
    """One order of :func:`place_orders` (what :func:`place_order` was asked, checked)."""

    client_id: str
    region: str
    lines: list[tuple[int, int]]
    key: str | None
    scope: str
    body_hash: str
    deadline: timedelta
    replaces_return_id: int | None = None


def place_order(
    db: Database,
    *,
    client_id: str,
    region: str,
    lines: list[tuple[int, int]],
    idempotency_key: str | None = None,
    idempotency_scope: str = "orders",
    attempts: int = 3,
    shipment_deadline_hours: float = 24.0,
    replaces_return_id: int | None = None,
) -> OrderOutcome:
    """Place a buyer order for seller ``client_id`` (see the module docstring)."""
    order = _order(client_id=client_id, region=region, lines=lines, key=idempotency_key,
                   scope=idempotency_scope, shipment_deadline_hours=shipment_deadline_hours,
                   replaces_return_id=replaces_return_id)
    outcome = place_orders(db, [order], attempts=attempts)[order]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _order(*, client_id: str, region: str, lines: list[tuple[int, int]], key: str | None,
           scope: str, shipment_deadline_hours: float,
           replaces_return_id: int | None = None) -> _Order:
    check_lines(lines)
    return _Order(client_id, region, lines, key, scope, request_hash(client_id, region, lines),
                  timedelta(hours=shipment_deadline_hours), replaces_return_id)


def place_orders(db: Database, orders: list[_Order], *, attempts: int
                 ) -> dict[_Order, OrderOutcome | Exception]:
    """Place ``orders`` in one transaction (group commit), each in a savepoint of its own.

    A refusal (and a lost race, after ``attempts``) rolls back only its order; a key already
    used (by another transaction, or an earlier order of this one) is answered from its
    stored response, as a retry is. An error of the database fails them all (nothing
    committed). The answers hold once this returns: the transaction has committed.
    """
    with db.connection() as conn:
        return {order: _place_nested(conn, order, attempts) for order in orders}


def _place_nested(conn: Connection, order: _Order, attempts: int) -> OrderOutcome | Exception:
    with driver_cursor(conn) as cur:  # (SQLAlchemy's begin_nested cost ~0.1 ms an order)
        for _ in range(max(1, attempts)):
            cur.execute("SAVEPOINT one_order")
            try:
                outcome = _place(conn, order)
            except _LostRace:
                cur.execute("ROLLBACK TO one_order")
                continue
            except OperationalError as exc:
                if type(exc.orig).__name__ != "DeadlockDetected":  # PostgreSQL: retried like
                    raise  # a lost race (rare: two orders locking the same rows both ways)
                cur.execute("ROLLBACK TO one_order")
                continue
            except IntegrityError as exc:
                cur.execute("ROLLBACK TO one_order")
                if not order.key:
                    return exc
                try:
                    done = _replay(conn, order.scope, order.key, order.body_hash)
                except DomainError as refused:
                    return refused
                if done is not None:
                    return done
                continue
            except DomainError as exc:
                cur.execute("ROLLBACK TO one_order")
                return exc
            cur.execute("RELEASE one_order")
            return outcome
    return OutOfStock("stock changed while the order was placed and none is left to allocate",
                      details=[{"reason": "concurrent_orders"}])


def _place(conn: Connection, order: _Order) -> OrderOutcome:
    client_id, region, lines, key = order.client_id, order.region, order.lines, order.key
    fast = fast_orders(conn)
    seller = _seller_by_client_id(conn, client_id)
    if seller is None:
        raise NotFound(f"seller with client_id {client_id} not found", code="SELLER_NOT_FOUND")
    if fast is None:  # a dialect without a hot path: the portable writer
        return _place_portable(conn, seller=seller, order=order)
    now = utcnow()
    with driver_cursor(conn) as cur:
        key_row = None if not key else {
            "scope": order.scope, "key": key, "body_hash": order.body_hash, "status_code": 0,
            "response": None, "created_at": now}
        seller_id, policy_name, policy_params = seller
        # first: the key (a retry conflicts here, or waits for a concurrent twin to commit)
        order_id, key_id, rows = fast.open_order(cur, {
            "seller_id": seller_id, "region": region, "created_at": now,
            "replaces_return_id": order.replaces_return_id}, key_row,
            sorted({s for s, _ in lines}))
        network = NETWORKS.get(conn, seller_id)
        by_wh, products = allocate(policy=allocation_policy(policy_name, policy_params),
                                   network=network, region=region, lines=lines, rows=rows)
        plan = plan_order(seller_id=seller_id, order_id=order_id, region=region, by_wh=by_wh,
                          products=products, network=network, now=now,
                          deadline=order.deadline)
        # reserves last: the guarded UPDATEs take the stock row locks, held until commit
        if not fast.write(cur, plan, key_id, now):
            raise _LostRace()
    return OrderOutcome(plan.body)


async def place_order_async(
    db: Database,
    *,
    client_id: str,
    region: str,
    lines: list[tuple[int, int]],
    idempotency_key: str | None = None,
    idempotency_scope: str = "orders",
    shipment_deadline_hours: float = 24.0,
) -> OrderOutcome:
    """:func:`place_order` from the event loop, placed with the orders that arrive at the same
    time in one transaction (group commit).

    PostgreSQL (``db.has_async_pool``): on the event loop (:mod:`.batch`); the seller and its
    network come from the process caches (a seller miss, every few seconds, is read in a
    worker thread; the network is refreshed in the background). Otherwise (SQLite):
    :func:`place_orders` in a worker thread, one batch at a time.
    """
    import psycopg

    if not db.has_async_pool:
        order = _order(client_id=client_id, region=region, lines=lines, key=idempotency_key,
                       scope=idempotency_scope, shipment_deadline_hours=shipment_deadline_hours)
        outcome = await batcher_for(db, partial(
            place_orders, db, attempts=db.settings.order_allocation_attempts)).place(order)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    check_lines(lines)
    body_hash = request_hash(client_id, region, lines)
    where = database_key(db.engine)
    seller = _cached_seller(where, client_id)
    if seller is None:
        seller = await _read_seller_once(db, where, client_id)
    if seller is None:
        raise NotFound(f"seller with client_id {client_id} not found", code="SELLER_NOT_FOUND")
    seller_id, policy_name, policy_params = seller
    network = await NETWORKS.current(db, seller_id)
    batcher = batcher_for(db)
    request = OrderRequest(
        seller_id=seller_id, policy=allocation_policy(policy_name, policy_params),
        network=network, region=region, lines=lines, key=idempotency_key,
        scope=idempotency_scope, body_hash=body_hash,
        deadline=timedelta(hours=shipment_deadline_hours), now=utcnow())
    try:
        placed = await batcher.place(request)
    except psycopg.Error as exc:  # as the sync path raises them (503 for OperationalError)
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    if placed.stored is not None:
        done = _replayed(placed.stored, idempotency_key or "", body_hash)
        assert done is not None
        return done
    assert placed.body is not None
    return OrderOutcome(placed.body)


def _read_seller(db: Database, client_id: str) -> tuple | None:
    with db.read_connection() as conn:
        return _seller_by_client_id(conn, client_id)


#: the seller reads in flight, per event loop: when the cache expires, the orders arriving
#: meanwhile wait for one read instead of each sending its own
_seller_reads: dict[tuple[str, str], asyncio.Task[tuple | None]] = {}


def _read_seller_once(db: Database, where: str, client_id: str) -> asyncio.Future[tuple | None]:
    key, loop = (where, client_id), asyncio.get_running_loop()
    task = _seller_reads.get(key)
    if task is None or task.get_loop() is not loop:
        task = _seller_reads[key] = loop.create_task(
            run_in_threadpool(_read_seller, db, client_id))
        task.add_done_callback(partial(_seller_read_done, key))
    return asyncio.shield(task)


def _seller_read_done(key: tuple[str, str], task: asyncio.Task[tuple | None]) -> None:
    if _seller_reads.get(key) is task:
        del _seller_reads[key]


def place_order_in(
    session: Session,
    *,
    seller_id: int,
    region: str,
    lines: list[tuple[int, int]],
    now: datetime | None = None,
    deadline: timedelta = timedelta(hours=24),
    replaces_return_id: int | None = None,
    prices: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Place an order inside the caller's transaction (e.g. an exchange's replacement);
    ``prices``: SKUs sold at a price of their own (a buyer's approved discount), no action.

    A lost race raises :class:`OutOfStock` here (the caller's transaction must roll back).
    """
    check_lines(lines)
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise NotFound("seller not found", code="SELLER_NOT_FOUND")
    try:
        return _allocate_and_write(session.connection(),
                                   seller=(seller.id, seller.allocation_policy,
                                           seller.allocation_params),
                                   region=region, lines=lines, now=now or utcnow(),
                                   deadline=deadline, replaces_return_id=replaces_return_id,
                                   prices=prices)
    except _LostRace:
        raise OutOfStock("stock changed concurrently; retry") from None


def _place_portable(conn: Connection, *, seller: tuple, order: _Order) -> OrderOutcome:
    now = utcnow()
    key_id = None
    if order.key:
        key_id = conn.execute(insert(_K).returning(_K.c.id), {
            "scope": order.scope, "key": order.key, "body_hash": order.body_hash,
            "status_code": 0, "response": None, "created_at": now}).scalar_one()
    body = _allocate_and_write(conn, seller=seller, region=order.region, lines=order.lines,
                               now=now, deadline=order.deadline,
                               replaces_return_id=order.replaces_return_id)
    if key_id is not None:
        conn.execute(_K.update().where(_K.c.id == key_id).values(status_code=201,
                                                                 response=body))
    return OrderOutcome(body)


#: Seller policy settings are re-read at most this often per process.
SELLER_CACHE_SECONDS = 5.0
_sellers: dict[tuple[str, str], tuple[tuple[int, str, dict[str, Any]], float]] = {}


def _cached_seller(where: str, client_id: str) -> tuple | None:
    cached = _sellers.get((where, client_id))
    if cached is not None and time.monotonic() - cached[1] < SELLER_CACHE_SECONDS:
        return cached[0]
    return None


def _seller_by_client_id(conn: Connection, client_id: str) -> tuple | None:
    key = (database_key(conn), client_id)
    cached = _cached_seller(*key)
    if cached is not None:
        return cached
    row = conn.execute(_SELLER, {"client_id": client_id}).first()
    if row is None:
        return None
    _sellers[key] = (tuple(row), time.monotonic())
    return tuple(row)


def _allocate_and_write(
    conn: Connection, *, seller: tuple, region: str, lines: list[tuple[int, int]],
    now: datetime, deadline: timedelta, replaces_return_id: int | None,
    prices: dict[int, str] | None = None,
) -> dict[str, Any]:
    """The portable writer: SQLAlchemy Core statements, any dialect, caller's transaction."""
    seller_id, policy_name, policy_params = seller
    rows: list[Candidate] = [tuple(r) for r in conn.execute(  # type: ignore[misc]
        _CANDIDATES, {"seller_id": seller_id, "skus": sorted({sku for sku, _ in lines}),
                      "at": now})]
    network = NETWORKS.get(conn, seller_id)
    by_wh, products = allocate(policy=allocation_policy(policy_name, policy_params),
                               network=network, region=region, lines=lines, rows=rows)
    for sku, price in (prices or {}).items():  # (Candidate: price at 6, action at 8 and 10)
        row = products[sku]
        products[sku] = (*row[:6], price, row[7], None, row[9], None)
    order_id = conn.execute(
        _INSERT_ORDER, {"seller_id": seller_id, "region": region, "created_at": now,
                        "replaces_return_id": replaces_return_id}
    ).scalar_one()
    plan = plan_order(seller_id=seller_id, order_id=order_id, region=region, by_wh=by_wh,
                      products=products, network=network, now=now, deadline=deadline)
    posting_ids = {row["posting_number"]: conn.execute(_INSERT_POSTING, row).scalar_one()
                   for row in plan.postings}
    conn.execute(_INSERT_ITEMS, [
        {k: v for k, v in item.items() if k != "posting_number"}
        | {"posting_id": posting_ids[item["posting_number"]]} for item in plan.items])
    conn.execute(_INSERT_EVENTS, plan.events)
    # Reserve last: the guarded UPDATEs take the stock row locks, held until commit
    if not stock.reserve(conn, plan.moves):
        raise _LostRace()
    for action_id, product_id, quantity in plan.action_moves:  # units at action prices
        if conn.execute(_SELL_AT_ACTION, {"a": action_id, "p": product_id,
                                          "q": quantity}).rowcount != 1:
            raise _LostRace()
    return plan.body
