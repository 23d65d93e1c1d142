"""Buyer orders: allocate by the seller's policy, reserve atomically, split into postings.

:func:`place_order` does the whole write in one short transaction: the idempotency row
(first, so a concurrent retry with the same key waits on its unique index), the order, one
posting per warehouse, their items, one ``TYPE_NEW_POSTING`` outbox event each and, last,
the guarded stock ``UPDATE``s (a hot stock row stays locked only until the commit). If a
concurrent order took the stock between the read and the reservation, the transaction is
rolled back and allocation runs again on fresh stock; short stock is :class:`OutOfStock`
with nothing written.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reference_backend.db import Database
from reference_backend.notifications import payloads
from reference_backend.services import ids, outbox, stock
from reference_backend.services.errors import (
    Conflict,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    OutOfStock,
)
from reference_backend.services.network import NETWORKS, allocation_policy, database_key
from reference_backend.tables import (
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
from simulator.lifecycle import PostingStatus
from simulator.policies import Allocation, OrderLine, OrderRequest, Refusal
from simulator.policies.base import MappingStock

MAX_LINES = 100

# Core statements of the hot path (no ORM unit of work: fewer Python calls per order)
_S, _P = Stock.__table__, Product.__table__
_CANDIDATES = (
    select(_S.c.sku, _S.c.warehouse_id, _S.c.present - _S.c.reserved, _P.c.product_id,
           _P.c.offer_id, _P.c.name, _P.c.price, _P.c.currency_code)
    .join(_P, _P.c.product_id == _S.c.product_id)
    .where(_S.c.seller_id == bindparam("seller_id"),
           _S.c.sku.in_(bindparam("skus", expanding=True)))
)
_INSERT_ORDER = insert(Order.__table__).returning(Order.__table__.c.id)
_INSERT_POSTING = insert(Posting.__table__).returning(Posting.__table__.c.id)
_INSERT_POSTINGS = insert(Posting.__table__).returning(
    Posting.__table__.c.id, sort_by_parameter_order=True)
_INSERT_ITEMS = insert(PostingItem.__table__)
_INSERT_EVENTS = insert(OutboxEvent.__table__)
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class OrderOutcome:
    """The answer to an order request; ``replayed`` when it came from an Idempotency-Key."""

    body: dict[str, Any]
    replayed: bool = False


class _LostRace(Exception):
    """A guarded reservation matched fewer rows than asked: stock moved under us."""


def request_hash(client_id: str, region: str, lines: list[tuple[int, int]]) -> str:
    canonical = json.dumps({"client_id": client_id, "region": region,
                            "lines": [[s, q] for s, q in lines]}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_lines(lines: list[tuple[int, int]]) -> None:
    if not lines:
        raise InvalidInput("an order needs at least one line", code="NO_LINES")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"an order has at most {MAX_LINES} lines")
    for i, (sku, quantity) in enumerate(lines):
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(f"lines[{i}].quantity must be 1..{MAX_QUANTITY}",
                               details=[{"line": i, "sku": sku, "quantity": quantity}])


def _replay(session: Session, scope: str, key: str, body_hash: str) -> OrderOutcome | None:
    row = session.execute(
        select(IdempotencyKey.body_hash, IdempotencyKey.response)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).first()
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
    _check_lines(lines)
    body_hash = request_hash(client_id, region, lines)
    if idempotency_key:
        with db.read_session() as session:
            done = _replay(session, idempotency_scope, idempotency_key, body_hash)
        if done is not None:
            return done
    for _ in range(max(1, attempts)):
        try:
            with db.session() as session:
                return _place(
                    session, client_id=client_id, region=region, lines=lines,
                    key=idempotency_key, scope=idempotency_scope, body_hash=body_hash,
                    deadline=timedelta(hours=shipment_deadline_hours),
                    replaces_return_id=replaces_return_id,
                )
        except _LostRace:
            continue
        except IntegrityError:
            if not idempotency_key:
                raise
            with db.read_session() as session:
                done = _replay(session, idempotency_scope, idempotency_key, body_hash)
            if done is not None:
                return done
    raise OutOfStock("stock changed while the order was placed and none is left to allocate",
                     details=[{"reason": "concurrent_orders"}])


def place_order_in(
    session: Session,
    *,
    seller_id: int,
    region: str,
    lines: list[tuple[int, int]],
    now: datetime | None = None,
    deadline: timedelta = timedelta(hours=24),
    replaces_return_id: int | None = None,
) -> dict[str, Any]:
    """Place an order inside the caller's transaction (e.g. an exchange's replacement).

    A lost race raises :class:`OutOfStock` here (the caller's transaction must roll back).
    """
    _check_lines(lines)
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise NotFound("seller not found", code="SELLER_NOT_FOUND")
    try:
        return _allocate_and_write(session, seller=(seller.id, seller.allocation_policy,
                                                    seller.allocation_params),
                                   region=region, lines=lines, now=now or utcnow(),
                                   deadline=deadline, replaces_return_id=replaces_return_id)
    except _LostRace:
        raise OutOfStock("stock changed concurrently; retry") from None


def _place(
    session: Session, *, client_id: str, region: str, lines: list[tuple[int, int]],
    key: str | None, scope: str, body_hash: str, deadline: timedelta,
    replaces_return_id: int | None,
) -> OrderOutcome:
    seller = _seller_by_client_id(session, client_id)
    if seller is None:
        raise NotFound(f"seller with client_id {client_id} not found", code="SELLER_NOT_FOUND")
    now = utcnow()
    if key:
        session.execute(insert(IdempotencyKey).values(
            scope=scope, key=key, body_hash=body_hash, status_code=0, response=None,
            created_at=now))
    body = _allocate_and_write(session, seller=seller, region=region, lines=lines,
                               now=now, deadline=deadline, replaces_return_id=replaces_return_id)
    if key:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            .values(status_code=201, response=body)
        )
    return OrderOutcome(body)


#: Seller policy settings are re-read at most this often per process.
SELLER_CACHE_SECONDS = 5.0
_sellers: dict[tuple[str, str], tuple[tuple[int, str, dict[str, Any]], float]] = {}


def _seller_by_client_id(session: Session, client_id: str) -> tuple | None:
    key = (database_key(session), client_id)
    cached = _sellers.get(key)
    if cached is not None and time.monotonic() - cached[1] < SELLER_CACHE_SECONDS:
        return cached[0]
    row = session.execute(
        select(Seller.id, Seller.allocation_policy, Seller.allocation_params)
        .where(Seller.client_id == client_id)
    ).first()
    if row is None:
        return None
    _sellers[key] = (tuple(row), time.monotonic())
    return tuple(row)


def _allocate_and_write(
    session: Session, *, seller: tuple, region: str, lines: list[tuple[int, int]],
    now: datetime, deadline: timedelta, replaces_return_id: int | None,
) -> dict[str, Any]:
    seller_id, policy_name, policy_params = seller
    conn = session.connection()
    skus = sorted({sku for sku, _ in lines})
    rows, products = [], {}
    for sku, wh, avail, product_id, offer_id, name, price, currency in conn.execute(
        _CANDIDATES, {"seller_id": seller_id, "skus": skus}
    ):
        rows.append((sku, wh, avail))
        products[sku] = (sku, product_id, offer_id, name, price, currency)
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise InvalidInput(f"unknown SKU(s) for this seller: {unknown}", code="UNKNOWN_SKU",
                           details=[{"sku": sku} for sku in unknown])
    network = NETWORKS.get(session, seller_id)
    if network.has_routes and region not in network.regions:
        raise InvalidInput(f"unknown buyer region {region!r}", code="UNKNOWN_REGION",
                           details=[{"region": region, "known": sorted(network.regions)}])
    view = MappingStock({(sku, str(wh)): max(0, avail) for sku, wh, avail in rows})
    order = OrderRequest(region, tuple(OrderLine(sku, q) for sku, q in lines))
    decision = allocation_policy(policy_name, policy_params).allocate(order, view, network)
    if isinstance(decision, Refusal) or not isinstance(decision, Allocation):
        raise _out_of_stock(decision, lines, rows, network)

    by_wh: dict[int, dict[int, int]] = defaultdict(dict)
    for pick in decision.picks:
        sku = lines[pick.line][0]
        wh = int(pick.warehouse)
        by_wh[wh][sku] = by_wh[wh].get(sku, 0) + pick.quantity

    order_id = conn.execute(
        _INSERT_ORDER, {"seller_id": seller_id, "region": region, "created_at": now,
                        "replaces_return_id": replaces_return_id}
    ).scalar_one()
    order_number = ids.order_number_for(order_id)
    warehouses = sorted(by_wh)
    posting_rows = []
    for n, wh in enumerate(warehouses, start=1):
        info = network.info.get(str(wh))
        posting_rows.append({
            "posting_number": ids.posting_number_for(order_number, n), "seller_id": seller_id,
            "order_id": order_id, "order_number": order_number, "warehouse_id": wh,
            "delivery_method_id": info.delivery_method_id if info else None, "region": region,
            "status": PostingStatus.AWAITING_PACKAGING.value, "substatus": "posting_created",
            "in_process_at": now, "shipment_date": now + deadline, "status_changed_at": now,
            "created_at": now,
        })
    if len(posting_rows) == 1:
        posting_ids = [conn.execute(_INSERT_POSTING, posting_rows[0]).scalar_one()]
    else:
        posting_ids = conn.execute(_INSERT_POSTINGS, posting_rows).scalars().all()
    item_rows, answer_postings, events = [], [], []
    for posting_id, row, wh in zip(posting_ids, posting_rows, warehouses, strict=True):
        products_out = []
        for sku, quantity in sorted(by_wh[wh].items()):
            p = products[sku]
            item_rows.append({"posting_id": posting_id, "product_id": p[1], "sku": sku,
                              "offer_id": p[2], "name": p[3], "quantity": quantity,
                              "cancelled_quantity": 0, "price": p[4], "currency_code": p[5]})
            products_out.append({"sku": sku, "offer_id": p[2], "name": p[3],
                                 "quantity": quantity, "price": p[4], "currency_code": p[5]})
        answer_postings.append({
            "posting_number": row["posting_number"], "warehouse_id": wh,
            "status": row["status"], "shipment_date": _iso(row["shipment_date"]),
            "products": products_out,
        })
        events.append(outbox.event_row(
            seller_id=seller_id, posting_number=row["posting_number"], now=now,
            payload=payloads.new_posting(
                posting_number=row["posting_number"], products=products_out,
                in_process_at=now, warehouse_id=wh, seller_id=seller_id,
                shipment_date=row["shipment_date"]),
        ))
    conn.execute(_INSERT_ITEMS, item_rows)
    conn.execute(_INSERT_EVENTS, events)
    # Reserve last: the guarded UPDATEs take the stock row locks, held until commit, so a hot
    # SKU's row is locked only for the reservation and the commit, not the inserts above.
    moves = [(sku, wh, q) for wh, per_sku in by_wh.items() for sku, q in per_sku.items()]
    if not stock.reserve(session, moves):
        raise _LostRace()
    return {
        "order_id": order_id, "order_number": order_number, "region": region,
        "created_at": _iso(now), "postings": answer_postings,
    }


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _out_of_stock(decision: Any, lines, rows, network) -> OutOfStock:  # type: ignore[no-untyped-def]
    available: dict[int, int] = defaultdict(int)
    for sku, wh, avail in rows:
        if network.is_open(str(wh)):
            available[sku] += max(0, avail)
    failed = set(getattr(decision, "lines", ()) or range(len(lines)))
    details = [
        {"line": i, "sku": sku, "requested": q, "available": available.get(sku, 0)}
        for i, (sku, q) in enumerate(lines) if i in failed
    ]
    reason = getattr(decision, "reason", "out_of_stock")
    return OutOfStock(f"not enough stock to place the order ({reason})", details=details)
