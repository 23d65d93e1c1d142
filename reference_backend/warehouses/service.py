"""Warehouses and delivery methods for the Ozon-compatible API (§3): pages and their v1/v2
shapes. Keyword-only functions over a SQLAlchemy session; no HTTP here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend import pagination
from reference_backend.tables import DeliveryMethod, Warehouse
from reference_backend.warehouses import schemas as W


def _working_days(days: Sequence[Any]) -> list[int]:
    out = []
    for d in days or []:
        try:
            n = int(d)
        except (TypeError, ValueError):
            continue
        if 1 <= n <= 7:
            out.append(n)
    return out or [1, 2, 3, 4, 5, 6, 7]


def _is_pickup(w: Warehouse) -> bool:
    return w.first_mile_type.lower().startswith("pick")


def warehouse_v1(w: Warehouse) -> W.WarehouseV1:
    return W.WarehouseV1(
        warehouse_id=w.warehouse_id,
        name=w.name,
        is_rfbs=w.is_rfbs,
        is_kgt=w.is_kgt,
        is_economy=w.is_economy,
        has_entrusted_acceptance=w.has_entrusted_acceptance,
        first_mile_type=W.FirstMileTypeV1(first_mile_type="Pickup" if _is_pickup(w) else "DropOff"),
        has_postings_limit=w.postings_limit >= 0,
        postings_limit=w.postings_limit,
        min_postings_limit=w.min_postings_limit,
        status=w.status,
        working_days=[str(d) for d in _working_days(w.working_days)],
    )


def warehouse_v2(w: Warehouse) -> W.WarehouseV2:
    return W.WarehouseV2(
        warehouse_id=w.warehouse_id,
        name=w.name,
        status=w.status,
        warehouse_type="RFBS" if w.is_rfbs else "FBS",
        address_info=W.AddressInfo(
            address=w.address or w.city, latitude=w.lat, longitude=w.lon, utc=w.utc_offset
        ),
        first_mile=W.FirstMileV2(type="PICK_UP" if _is_pickup(w) else "DROP_OFF"),
        working_days=[W.WEEK[d - 1] for d in _working_days(w.working_days)],
        created_at=w.created_at,
        updated_at=w.updated_at,
        pause_at=w.paused_at,
        has_entrusted_acceptance=w.has_entrusted_acceptance,
        has_postings_limit=w.postings_limit >= 0,
        postings_limit=w.postings_limit,
        min_postings_limit=w.min_postings_limit,
        is_express=w.is_express,
        is_kgt=w.is_kgt,
        is_rfbs=w.is_rfbs,
    )


def warehouses_offset(
    session: Session, *, seller_id: int, limit: int, offset: int
) -> tuple[list[Warehouse], bool]:
    query = (
        select(Warehouse)
        .where(Warehouse.seller_id == seller_id)
        .order_by(Warehouse.warehouse_id)
        .offset(offset)
        .limit(limit + 1)
    )
    page = pagination.offset_page(list(session.scalars(query)), limit)
    return page.items, page.has_next


def warehouses_cursor(
    session: Session, *, seller_id: int, limit: int, cursor: str, ids: Sequence[int]
) -> pagination.CursorPage[Warehouse]:
    after = pagination.decode_cursor(cursor)
    query = select(Warehouse).where(Warehouse.seller_id == seller_id)
    if ids:
        query = query.where(Warehouse.warehouse_id.in_(ids))
    if after is not None:
        query = query.where(Warehouse.warehouse_id > after)
    rows = list(session.scalars(query.order_by(Warehouse.warehouse_id).limit(limit + 1)))
    return pagination.cursor_page(rows, limit, lambda w: w.warehouse_id, after)


def delivery_methods(
    session: Session,
    *,
    seller_id: int,
    ids: Sequence[int] = (),
    provider_ids: Sequence[int] = (),
    warehouse_ids: Sequence[int] = (),
    statuses: Sequence[str] = (),
    after: int | None = None,
    offset: int = 0,
    limit: int,
    desc: bool = False,
) -> list[DeliveryMethod]:
    """Delivery methods matching the filters (``limit + 1`` rows, keyset or offset)."""
    query = select(DeliveryMethod).where(DeliveryMethod.seller_id == seller_id)
    if ids:
        query = query.where(DeliveryMethod.id.in_(ids))
    if provider_ids:
        query = query.where(DeliveryMethod.provider_id.in_(provider_ids))
    if warehouse_ids:
        query = query.where(DeliveryMethod.warehouse_id.in_(warehouse_ids))
    if statuses:
        query = query.where(DeliveryMethod.status.in_(statuses))
    if after is not None:
        query = query.where(DeliveryMethod.id < after if desc else DeliveryMethod.id > after)
    order = DeliveryMethod.id.desc() if desc else DeliveryMethod.id.asc()
    return list(session.scalars(query.order_by(order).offset(offset).limit(limit + 1)))


def delivery_method_v1(m: DeliveryMethod) -> W.DeliveryMethodV1:
    return W.DeliveryMethodV1(
        id=m.id,
        company_id=m.seller_id,
        name=m.name,
        status=m.status,
        cutoff=m.cutoff,
        sla_cut_in=m.sla_cut_in,
        provider_id=m.provider_id,
        template_id=m.template_id,
        warehouse_id=m.warehouse_id,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def delivery_method_v2(m: DeliveryMethod) -> W.DeliveryMethodV2:
    tpl = m.tpl_integration_type
    return W.DeliveryMethodV2(
        id=m.id,
        name=m.name,
        status=m.status,
        warehouse_id=m.warehouse_id,
        provider_id=m.provider_id,
        template_id=m.template_id,
        cutoff=m.cutoff,
        sla_cut_in=m.sla_cut_in,
        is_express=m.is_express,
        tpl_integration_type=tpl
        if tpl in {"aggregator", "3pl_tracking", "non_integrated", "hybrid"}
        else "aggregator",
        created_at=m.created_at,
        updated_at=m.updated_at,
    )
