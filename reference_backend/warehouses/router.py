"""Warehouses and delivery methods, v1 (offset) and v2 (cursor) (§3)."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend import pagination
from reference_backend.deps import DbDep, WarehousesRead
from reference_backend.warehouses import schemas as W
from reference_backend.warehouses import service

router = APIRouter(tags=["Ozon: warehouses"])


@router.post("/v1/warehouse/list", response_model=W.WarehouseListV1Response)
def warehouse_list_v1(
    body: W.WarehouseListV1Request, seller: WarehousesRead, db: DbDep
) -> W.WarehouseListV1Response:
    """The seller's FBS/rFBS warehouses (offset paging)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    with db.read_session() as session:
        rows, has_next = service.warehouses_offset(
            session, seller_id=seller.seller_id, limit=limit, offset=body.offset
        )
        return W.WarehouseListV1Response(
            result=[service.warehouse_v1(w) for w in rows], has_next=has_next
        )


@router.post("/v2/warehouse/list", response_model=W.WarehouseListV2Response)
def warehouse_list_v2(
    body: W.WarehouseListV2Request, seller: WarehousesRead, db: DbDep
) -> W.WarehouseListV2Response:
    """The seller's warehouses (cursor paging; the last page keeps a cursor past the end)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    with db.read_session() as session:
        page = service.warehouses_cursor(
            session,
            seller_id=seller.seller_id,
            limit=limit,
            cursor=body.cursor,
            ids=body.warehouse_ids,
        )
        return W.WarehouseListV2Response(
            warehouses=[service.warehouse_v2(w) for w in page.items],
            cursor=page.cursor,
            has_next=page.has_next,
        )


@router.post("/v1/delivery-method/list", response_model=W.DeliveryMethodListV1Response)
def delivery_method_list_v1(
    body: W.DeliveryMethodListV1Request, seller: WarehousesRead, db: DbDep
) -> W.DeliveryMethodListV1Response:
    """Delivery methods (offset paging, ``limit`` 1-50)."""
    limit = pagination.resolve_limit(body.limit, default=50, maximum=50)
    f = body.filter
    with db.read_session() as session:
        rows = service.delivery_methods(
            session,
            seller_id=seller.seller_id,
            provider_ids=[f.provider_id] if f.provider_id is not None else [],
            warehouse_ids=[f.warehouse_id] if f.warehouse_id is not None else [],
            statuses=[f.status] if f.status else [],
            offset=body.offset,
            limit=limit,
        )
        page = pagination.offset_page(rows, limit)
        return W.DeliveryMethodListV1Response(
            result=[service.delivery_method_v1(m) for m in page.items], has_next=page.has_next
        )


@router.post("/v2/delivery-method/list", response_model=W.DeliveryMethodListV2Response)
def delivery_method_list_v2(
    body: W.DeliveryMethodListV2Request, seller: WarehousesRead, db: DbDep
) -> W.DeliveryMethodListV2Response:
    """Delivery methods (cursor paging, ``sort_dir`` by id)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    after = pagination.decode_cursor(body.cursor)
    f = body.filter
    with db.read_session() as session:
        rows = service.delivery_methods(
            session,
            seller_id=seller.seller_id,
            ids=f.delivery_method_ids,
            provider_ids=f.provider_ids,
            warehouse_ids=f.warehouse_ids,
            statuses=f.status,
            after=after,
            limit=limit,
            desc=body.sort_dir == "DESC",
        )
        page = pagination.cursor_page(rows, limit, lambda m: m.id, after)
        return W.DeliveryMethodListV2Response(
            delivery_methods=[service.delivery_method_v2(m) for m in page.items],
            cursor=page.cursor,
            has_next=page.has_next,
        )
