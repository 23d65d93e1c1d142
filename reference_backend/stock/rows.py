"""Stock rows per (SKU, warehouse): set, reserve, release, consume, receive; warning lines.

Every change is a guarded ``UPDATE`` (the row's CHECK constraints back it up): a reservation
only succeeds while ``present - reserved >= q``, a release or a consumption only while the
units are reserved. Functions run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.orm import Session

from reference_backend.domain_errors import Conflict, InvalidInput, NotFound
from reference_backend.tables import Product, Stock, Warehouse, utcnow

_T = Stock.__table__  # Core statements: executemany with one guarded UPDATE per move
_MATCH = and_(_T.c.sku == bindparam("b_sku"), _T.c.warehouse_id == bindparam("b_wh"))
_reserve = (
    update(_T)
    .where(_MATCH, _T.c.present - _T.c.reserved >= bindparam("b_q"))
    .values(reserved=_T.c.reserved + bindparam("b_q"))
)
_release = (
    update(_T)
    .where(_MATCH, _T.c.reserved >= bindparam("b_q"))
    .values(reserved=_T.c.reserved - bindparam("b_q"))
)
_consume = (
    update(_T)
    .where(_MATCH, _T.c.reserved >= bindparam("b_q"))
    .values(reserved=_T.c.reserved - bindparam("b_q"), present=_T.c.present - bindparam("b_q"))
)
_receive = update(_T).where(_MATCH).values(present=_T.c.present + bindparam("b_q"))


def _params(moves: Iterable[tuple[int, int, int]]) -> list[dict[str, int]]:
    """Sorted by (warehouse, sku) so concurrent transactions lock rows in one order."""
    merged: dict[tuple[int, int], int] = {}
    for sku, warehouse_id, quantity in moves:
        if quantity > 0:
            merged[(warehouse_id, sku)] = merged.get((warehouse_id, sku), 0) + quantity
    return [{"b_sku": s, "b_wh": w, "b_q": q} for (w, s), q in sorted(merged.items())]


def _apply(session: Session | Connection, statement,
           moves: Iterable[tuple[int, int, int]]) -> bool:
    params = _params(moves)
    if not params:
        return True
    conn = session if isinstance(session, Connection) else session.connection()
    result = conn.execute(statement, params)
    return result.rowcount == len(params)


def reserve(session: Session | Connection, moves: Iterable[tuple[int, int, int]]) -> bool:
    """Reserve ``(sku, warehouse_id, quantity)`` moves; False if any lacks available units.

    On False some rows may already be updated: the caller must roll back.
    """
    return _apply(session, _reserve, moves)


def release(session: Session, moves: Iterable[tuple[int, int, int]]) -> None:
    """Give reserved units back to available (a cancellation before shipment)."""
    if not _apply(session, _release, moves):
        raise Conflict("stock reservation missing on release", code="STOCK_INCONSISTENT")


def consume(session: Session, moves: Iterable[tuple[int, int, int]]) -> None:
    """Reserved units leave the warehouse: present and reserved both drop."""
    if not _apply(session, _consume, moves):
        raise Conflict("stock reservation missing on shipment", code="STOCK_INCONSISTENT")


def receive(session: Session, moves: Iterable[tuple[int, int, int]]) -> None:
    """Units arrive (a return restocked, a supply received): present rises."""
    if not _apply(session, _receive, moves):
        raise NotFound("no stock row for that SKU at that warehouse", code="STOCK_NOT_FOUND")


@dataclass(frozen=True)
class StockLevel:
    sku: int
    product_id: int
    offer_id: str
    warehouse_id: int
    warehouse_name: str
    present: int
    reserved: int
    warning_level: int

    @property
    def available(self) -> int:
        return self.present - self.reserved


def _level_query(seller_id: int):  # type: ignore[no-untyped-def]
    return (
        select(Stock.sku, Stock.product_id, Product.offer_id, Stock.warehouse_id, Warehouse.name,
               Stock.present, Stock.reserved, Stock.warning_level)
        .join(Product, Product.product_id == Stock.product_id)
        .join(Warehouse, Warehouse.warehouse_id == Stock.warehouse_id)
        .where(Stock.seller_id == seller_id)
        .order_by(Stock.sku, Stock.warehouse_id)
    )


def levels(
    session: Session,
    *,
    seller_id: int,
    skus: list[int] | None = None,
    warehouse_ids: list[int] | None = None,
    only_alerts: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[StockLevel]:
    """Stock rows of a seller, optionally only those under their warning line."""
    query = _level_query(seller_id)
    if skus:
        query = query.where(Stock.sku.in_(skus))
    if warehouse_ids:
        query = query.where(Stock.warehouse_id.in_(warehouse_ids))
    if only_alerts:
        query = query.where(Stock.present - Stock.reserved < Stock.warning_level)
    rows = session.execute(query.limit(limit).offset(offset)).all()
    return [StockLevel(*row) for row in rows]


def get_row(session: Session, *, seller_id: int, sku: int, warehouse_id: int) -> Stock:
    row = session.scalar(
        select(Stock).where(Stock.seller_id == seller_id, Stock.sku == sku,
                            Stock.warehouse_id == warehouse_id)
    )
    if row is None:
        raise NotFound(f"no stock of SKU {sku} at warehouse {warehouse_id}",
                       code="STOCK_NOT_FOUND", details=[{"sku": sku, "warehouse_id": warehouse_id}])
    return row


def set_warning_level(
    session: Session, *, seller_id: int, sku: int, warehouse_id: int, warning_level: int
) -> Stock:
    """Set the low-stock warning line of one (SKU, warehouse)."""
    if warning_level < 0:
        raise InvalidInput("warning_level must be >= 0")
    row = get_row(session, seller_id=seller_id, sku=sku, warehouse_id=warehouse_id)
    row.warning_level = warning_level
    row.updated_at = utcnow()
    return row


def set_available(
    session: Session, *, seller_id: int, product_id: int, warehouse_id: int, available: int
) -> Stock:
    """Set the units available for sale (Ozon's ``stock``): present = available + reserved.

    Creates the row when the product has none at that warehouse. The warehouse and product
    must belong to the seller (else :class:`NotFound`).
    """
    if available < 0:
        raise InvalidInput("stock must be >= 0")
    product = session.scalar(select(Product).where(
        Product.product_id == product_id, Product.seller_id == seller_id))
    if product is None:
        raise NotFound(f"product {product_id} not found", code="PRODUCT_NOT_FOUND")
    warehouse = session.scalar(select(Warehouse.warehouse_id).where(
        Warehouse.warehouse_id == warehouse_id, Warehouse.seller_id == seller_id))
    if warehouse is None:
        raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
    row = session.scalar(
        select(Stock).where(Stock.sku == product.sku, Stock.warehouse_id == warehouse_id)
        .with_for_update()
    )
    if row is None:
        row = Stock(seller_id=seller_id, product_id=product_id, sku=product.sku,
                    warehouse_id=warehouse_id, present=available, reserved=0, warning_level=0)
        session.add(row)
    else:
        row.present = available + row.reserved
        row.updated_at = utcnow()
    session.flush()
    return row


def set_present(
    session: Session, *, seller_id: int, sku: int, warehouse_id: int, present: int
) -> Stock:
    """Set the units physically present (must stay >= reserved)."""
    row = get_row(session, seller_id=seller_id, sku=sku, warehouse_id=warehouse_id)
    if present < row.reserved:
        raise Conflict(f"present {present} would be below reserved {row.reserved}",
                       code="BELOW_RESERVED")
    row.present = present
    row.updated_at = utcnow()
    session.flush()
    return row
