"""Analytics (§8.1, §8.2): analytics data and stock on warehouses."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend import pagination
from reference_backend.analytics import schemas as A
from reference_backend.analytics import service
from reference_backend.deps import AnalyticsRead, DbDep
from reference_backend.stock import service as stock

router = APIRouter(tags=["Ozon: analytics"])


@router.post("/v1/analytics/data", response_model=A.AnalyticsDataResponse)
def analytics_data(
    body: A.AnalyticsDataRequest, seller: AnalyticsRead, db: DbDep
) -> A.AnalyticsDataResponse:
    """Revenue, ordered/cancelled/delivered/returned units and postings, grouped by the
    requested dimensions (``day``, ``week``, ``month``, ``year``, ``sku``, ``spu``, and
    Peakline's ``warehouse`` and ``status``)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    with db.read_session() as session:
        result = service.analytics_data(
            session, seller_id=seller.seller_id, req=body, limit=limit
        )
    return A.AnalyticsDataResponse(result=result, timestamp=service.timestamp())


@router.post("/v2/analytics/stock_on_warehouses", response_model=A.StockOnWarehousesResponse)
def stock_on_warehouses(
    body: A.StockOnWarehousesRequest, seller: AnalyticsRead, db: DbDep
) -> A.StockOnWarehousesResponse:
    """Stock per (SKU, warehouse): free to sell, reserved (offset paging)."""
    limit = pagination.resolve_limit(body.limit, default=100, maximum=1000)
    with db.read_session() as session:
        rows = stock.stock_on_warehouses(
            session,
            seller_id=seller.seller_id,
            limit=limit,
            offset=body.offset,
            warehouse_type=body.warehouse_type,
        )
    return A.StockOnWarehousesResponse(result=A.StockRows(rows=rows))


@router.post("/v1/analytics/stocks", response_model=A.AnalyticsStocksResponse)
def analytics_stocks(
    body: A.AnalyticsStocksRequest, seller: AnalyticsRead, db: DbDep
) -> A.AnalyticsStocksResponse:
    """Stock analytics per (SKU, warehouse): available units, average daily sales (28 days),
    days of cover and a turnover grade (the beta replacement of stock_on_warehouses)."""
    with db.read_session() as session:
        items = stock.stock_analytics(session, seller_id=seller.seller_id, req=body)
    return A.AnalyticsStocksResponse(items=items)
