"""``/v4/product/info/attributes`` and ``/v5/product/info/prices`` (§16.4, §16.5)."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.catalog.details import schemas as D
from reference_backend.catalog.details import service
from reference_backend.deps import DbDep, ProductsRead
from reference_backend.finance.tariffs import tariffs

router = APIRouter(tags=["Ozon: products"])


@router.post("/v4/product/info/attributes", response_model=D.AttributesResponse)
def product_attributes(body: D.AttributesRequest, seller: ProductsRead, db: DbDep
                       ) -> D.AttributesResponse:
    """Products with the attributes their import gave, ``sku`` as a numeric string and
    ``total`` a number (§16.4); paged by ``product_id`` whatever ``sort_by`` says."""
    f = body.filter
    with db.read_session() as session:
        page, total = service.page_of_products(
            session, seller_id=seller.seller_id, offer_ids=f.offer_id, product_ids=f.product_id,
            skus=f.sku, visibility=f.visibility, cursor=body.last_id, limit=body.limit)
        items = [service.attributes_item(p) for p in page.items]
    return D.AttributesResponse(result=items, last_id=page.cursor, total=total)


@router.post("/v5/product/info/prices", response_model=D.PricesResponse)
def product_prices(body: D.PricesRequest, seller: ProductsRead, db: DbDep) -> D.PricesResponse:
    """Current prices (JSON numbers) and the commission and logistics tariffs; both ``total``
    and ``total_items``, as clients disagree."""
    f = body.filter
    with db.read_session() as session:
        page, total = service.page_of_products(
            session, seller_id=seller.seller_id, offer_ids=f.offer_id, product_ids=f.product_id,
            skus=[], visibility=f.visibility, cursor=body.cursor, limit=body.limit)
        items = [service.price_item(p, tariffs()) for p in page.items]
    return D.PricesResponse(items=items, cursor=page.cursor, total=total, total_items=total)
