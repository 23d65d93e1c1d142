"""Products and prices (§4.1-§4.5): import tasks, lists, info, price updates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from reference_backend import pagination
from reference_backend.catalog import schemas as P
from reference_backend.catalog import service as catalog
from reference_backend.deps import DbDep, ProductsRead, ProductsWrite
from reference_backend.rate_limits import refused_items

router = APIRouter(tags=["Ozon: products"])


@router.post("/v3/product/import", response_model=P.ProductImportResponse)
async def product_import(
    body: P.ProductImportRequest, seller: ProductsWrite, db: DbDep, request: Request
) -> P.ProductImportResponse:
    """Create or update up to 100 products; per-item results via ``/v1/product/import/info``."""
    valid = [i for i, item in enumerate(body.items) if not catalog.item_errors(item)]
    over_quota = {valid[i] for i in await refused_items(request, "import", [()] * len(valid))}
    task_id = await run_in_threadpool(db.write, catalog.import_products, seller_id=seller.seller_id,
                                      items=body.items, over_quota=over_quota)
    return P.ProductImportResponse(result=P.TaskId(task_id=task_id))


@router.post("/v1/product/import/info", response_model=P.ProductImportInfoResponse)
def product_import_info(
    body: P.ProductImportInfoRequest, seller: ProductsRead, db: DbDep
) -> P.ProductImportInfoResponse:
    """Per-item status (``imported``/``failed``/``skipped``) and errors of an import task."""
    with db.read_session() as session:
        result = catalog.import_info(session, seller_id=seller.seller_id, task_id=body.task_id)
    return P.ProductImportInfoResponse(result=result)


@router.post("/v3/product/list", response_model=P.ProductListResponse)
def product_list(
    body: P.ProductListRequest, seller: ProductsRead, db: DbDep
) -> P.ProductListResponse:
    """Products with ``last_id`` paging (an opaque cursor; the last page keeps one)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    with db.read_session() as session:
        result = catalog.product_list(session, seller_id=seller.seller_id, req=body, limit=limit)
    return P.ProductListResponse(result=result)


@router.post("/v3/product/info/list", response_model=P.ProductInfoListResponse)
def product_info_list(
    body: P.ProductInfoListRequest, seller: ProductsRead, db: DbDep
) -> P.ProductInfoListResponse:
    """Product details by ``offer_id``, ``product_id`` or ``sku`` (no ``result`` envelope)."""
    if len(body.offer_id) + len(body.product_id) + len(body.sku) > 1000:
        raise pagination.BadPage("at most 1000 ids in total")
    with db.read_session() as session:
        items = catalog.product_info(session, seller_id=seller.seller_id, req=body)
    return P.ProductInfoListResponse(items=items)


@router.post("/v1/product/import/prices", response_model=P.PricesImportResponse)
async def product_import_prices(
    body: P.PricesImportRequest, seller: ProductsWrite, db: DbDep, request: Request
) -> P.PricesImportResponse:
    """Update prices; each item answers ``updated`` and ``errors`` (never a 4xx per item)."""
    too_soon = await refused_items(request, "price", [
        (item.offer_id or str(item.product_id),) for item in body.prices])
    return P.PricesImportResponse(result=await run_in_threadpool(
        db.write, catalog.import_prices, seller_id=seller.seller_id, prices=body.prices,
        too_soon=too_soon))
