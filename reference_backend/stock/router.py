"""Stocks (§4.6-§4.8): per-item stock updates and the stock views."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reference_backend import pagination
from reference_backend.catalog import schemas as P
from reference_backend.deps import DbDep, StocksRead, StocksWrite
from reference_backend.rate_limits import refused_items
from reference_backend.stock import service

router = APIRouter(tags=["Ozon: stocks"])


@router.post("/v2/products/stocks", response_model=P.StocksUpdateResponse)
async def products_stocks(
    body: P.StocksUpdateRequest, seller: StocksWrite, db: DbDep, request: Request
) -> P.StocksUpdateResponse:
    """Set available units per (product, warehouse); one bad item never fails the batch."""
    too_soon = await refused_items(request, "stock", [
        (item.offer_id or str(item.product_id), str(item.warehouse_id)) for item in body.stocks])
    return P.StocksUpdateResponse(result=await run_in_threadpool(
        db.write, service.update_stocks, seller_id=seller.seller_id, items=body.stocks,
        too_soon=too_soon))


@router.post("/v4/product/info/stocks", response_model=P.InfoStocksResponse)
def product_info_stocks(
    body: P.InfoStocksRequest, seller: StocksRead, db: DbDep
) -> P.InfoStocksResponse:
    """FBS stock per product (cursor paging; the last page keeps a cursor past the end)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    with db.read_session() as session:
        return service.info_stocks(session, seller_id=seller.seller_id, req=body, limit=limit)


@router.post(
    "/v1/product/info/stocks-by-warehouse/fbs", response_model=P.StocksByWarehouseV1Response
)
def stocks_by_warehouse_v1(
    body: P.StocksByWarehouseV1Request, seller: StocksRead, db: DbDep
) -> P.StocksByWarehouseV1Response:
    """Stock per seller warehouse by ``sku`` and/or ``offer_id``."""
    with db.read_session() as session:
        rows = service.by_warehouse_v1(session, seller_id=seller.seller_id, req=body)
    return P.StocksByWarehouseV1Response(result=rows)


@router.post(
    "/v2/product/info/stocks-by-warehouse/fbs", response_model=P.StocksByWarehouseV2Response
)
def stocks_by_warehouse_v2(
    body: P.StocksByWarehouseV2Request, seller: StocksRead, db: DbDep
) -> P.StocksByWarehouseV2Response:
    """Stock per seller warehouse with ``free_stock`` (cursor paging)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    with db.read_session() as session:
        return service.by_warehouse_v2(
            session, seller_id=seller.seller_id, req=body, limit=limit
        )
