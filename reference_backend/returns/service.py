"""Returns as Ozon lists them: ``/v1/returns/list`` (last_id paging) and the legacy
``/v2/returns/company/fbs`` (offset paging)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from reference_backend.returns import schemas as R
from reference_backend.tables import Return, Warehouse

#: Ozon visual statuses this backend uses (id, display name).
VISUAL = {
    "MovingToSeller": (1, "Едет к продавцу"),
    "ArrivedAtReturnPlace": (2, "Прибыл в пункт возврата"),
    "ReceivedBySeller": (3, "Получен продавцом"),
    "Utilized": (4, "Утилизирован"),
    "ReturnCompensated": (5, "Компенсирован"),
}


def _price(text: str | None) -> float:
    try:
        return float(Decimal(text or "0"))
    except InvalidOperation:
        return 0.0


def _within(column: InstrumentedAttribute[datetime], window: R.TimeWindow) -> Any:
    """``column`` inside ``window`` (either end may be open)."""
    return and_(
        true(),
        *([column >= window.time_from] if window.time_from is not None else []),
        *([column <= window.time_to] if window.time_to is not None else []),
    )


def _window(
    query: Select[tuple[Return]],
    column: InstrumentedAttribute[datetime],
    window: R.TimeWindow | None,
) -> Select[tuple[Return]]:
    return query if window is None else query.where(_within(column, window))


def _filtered(seller_id: int, f: R.ReturnsFilter) -> Select[tuple[Return]]:
    query = select(Return).where(Return.seller_id == seller_id)
    query = _window(query, Return.created_at, f.logistic_return_date)
    query = _window(query, Return.created_at, f.storage_tariffication_start_date)
    query = _window(query, Return.status_changed_at, f.visual_status_change_moment)
    if f.order_id is not None:
        query = query.where(Return.order_id == f.order_id)
    if f.posting_numbers:
        query = query.where(Return.posting_number.in_(f.posting_numbers))
    if f.product_name:
        query = query.where(Return.name.contains(f.product_name))
    if f.offer_id:
        query = query.where(Return.offer_id == f.offer_id)
    if f.barcode:
        query = query.where(Return.barcode == f.barcode)
    if f.visual_status_name:
        query = query.where(Return.status == f.visual_status_name)
    if f.warehouse_id is not None:
        query = query.where(Return.warehouse_id == f.warehouse_id)
    if f.return_schema:
        query = query.where(Return.schema == f.return_schema)
    return query


def _item(r: Return, place: str) -> R.ReturnItem:
    status_id, display = VISUAL.get(r.status, (0, r.status))
    price = _price(r.price)
    return R.ReturnItem(
        id=r.id,
        company_id=r.seller_id,
        posting_number=r.posting_number,
        order_id=r.order_id,
        order_number=r.order_number,
        return_reason_name=r.reason,
        type=r.type
        if r.type in {"Cancellation", "FullReturn", "PartialReturn", "ClientReturn"}
        else "Unknown",
        schema=r.schema,
        exemplars=[R.Exemplar(id=r.id)],
        target_place=R.Place(id=r.warehouse_id, name=place, address=place),
        product=R.ReturnProduct(
            sku=r.sku,
            offer_id=r.offer_id,
            name=r.name,
            quantity=r.quantity,
            price=R.Money(price=price, currency_code=r.currency_code),
            price_without_commission=R.Money(price=price, currency_code=r.currency_code),
            commission=R.Money(price=0, currency_code=r.currency_code),
        ),
        logistic=R.Logistic(
            technical_return_moment=r.created_at,
            final_moment=r.processed_at,
            return_date=r.created_at,
            barcode=r.barcode,
        ),
        visual=R.Visual(
            status=R.VisualStatus(id=status_id, display_name=display, sys_name=r.status),
            change_moment=r.status_changed_at,
        ),
        storage=R.Storage(arrived_moment=r.processed_at),
    )


def _places(session: Session, rows: list[Return]) -> dict[int, str]:
    ids = {r.warehouse_id for r in rows}
    if not ids:
        return {}
    return dict(
        session.execute(
            select(Warehouse.warehouse_id, Warehouse.name).where(Warehouse.warehouse_id.in_(ids))
        )
        .tuples()
        .all()
    )


def returns_list(
    session: Session, *, seller_id: int, req: R.ReturnsListRequest, limit: int
) -> R.ReturnsListResponse:
    """Returns with id > ``last_id`` in id order; ``has_next`` when more remain."""
    query = _filtered(seller_id, req.filter)
    if req.last_id:
        query = query.where(Return.id > req.last_id)
    rows = list(session.scalars(query.order_by(Return.id).limit(limit + 1)))
    page, has_next = rows[:limit], len(rows) > limit
    places = _places(session, page)
    return R.ReturnsListResponse(
        returns=[_item(r, places.get(r.warehouse_id, "")) for r in page], has_next=has_next
    )


def legacy_returns(
    session: Session, *, seller_id: int, req: R.LegacyReturnsRequest, limit: int
) -> R.LegacyReturnsResult:
    """The legacy list: offset paging in id order, ``count`` of all that match.

    Peakline keeps no free-storage deadline, so a ``last_free_waiting_day`` filter matches
    no return (each answers it as null).
    """
    f = req.filter
    query = select(Return).where(Return.seller_id == seller_id)
    if f.posting_number:
        query = query.where(Return.posting_number.in_(f.posting_number))
    if f.accepted_from_customer_moment:
        query = query.where(
            or_(*(_within(Return.created_at, w) for w in f.accepted_from_customer_moment)))
    if f.last_free_waiting_day:
        query = query.where(false())
    if f.order_id is not None:
        query = query.where(Return.order_id == f.order_id)
    if f.product_name:
        query = query.where(Return.name.icontains(f.product_name, autoescape=True))
    if f.product_offer_id:
        query = query.where(Return.offer_id == f.product_offer_id)
    if f.status:
        query = query.where(Return.status == f.status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Return.id).offset(req.offset).limit(limit)))
    places = _places(session, rows)
    return R.LegacyReturnsResult(returns=[_legacy_item(r, places) for r in rows],
                                 count=int(total))


def _legacy_item(r: Return, places: dict[int, str]) -> R.LegacyReturn:
    price = _price(r.price)
    return R.LegacyReturn(
        id=r.id,
        posting_number=r.posting_number,
        order_id=r.order_id,
        product_id=r.product_id,
        sku=r.sku,
        product_name=r.name,
        quantity=r.quantity,
        price=price,
        price_without_commission=price,
        status=r.status,
        is_moving=r.status == "MovingToSeller",
        place_id=r.warehouse_id,
        moving_to_place_name=places.get(r.warehouse_id, ""),
        return_reason_name=r.reason,
        return_date=r.created_at,
        accepted_from_customer_moment=r.created_at,
        returned_to_seller_date_time=r.processed_at,
    )
