"""Products (import tasks, lists, info) and prices, for the Ozon-compatible API.
Keyword-only functions over a SQLAlchemy session; no HTTP here."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from reference_backend import pagination
from reference_backend.catalog import schemas as P
from reference_backend.catalog.categories.catalogue import catalogue
from reference_backend.catalog.categories.validation import attribute_errors
from reference_backend.domain_errors import NotFound
from reference_backend.ids import sku_base_for
from reference_backend.tables import (
    Product,
    ProductImportItem,
    ProductImportTask,
    Seller,
    Stock,
)

# --------------------------------------------------------------------------- product import


def lock_seller(session: Session, seller_id: int) -> None:
    """Serialise a seller's catalogue writes (row lock on PostgreSQL; SQLite writes are
    serial already), so concurrent imports never pick the same new SKU or offer id.

    ``FOR NO KEY UPDATE``: it excludes other catalogue writers but not the foreign-key
    checks (``FOR KEY SHARE``) of orders and outbox rows that reference the seller, which
    would otherwise deadlock with an order holding a stock row this batch wants.
    """
    session.execute(
        select(Seller.id).where(Seller.id == seller_id).with_for_update(key_share=True)
    )


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _import_error(field: str, code: str, message: str) -> P.ImportError_:
    return P.ImportError_(code=code, message=message, field=field, state="imported",
                          level="error")


#: an item over the seller's daily quota of products created or updated (Ozon's rate limits)
OVER_DAILY_QUOTA = _import_error(
    "", "item_limit_exceeded", "the daily limit of products to create or update is reached")


def item_errors(item: P.ImportItem) -> list[P.ImportError_]:
    """What is wrong with an import item (nothing: it can be created or updated)."""
    errors = []

    def err(field: str, code: str, message: str) -> None:
        errors.append(_import_error(field, code, message))

    if not item.name.strip():
        err("name", "EMPTY_NAME", "name must not be empty")
    if item.price is None or item.price <= 0:
        err("price", "INVALID_PRICE", "price must be a positive decimal string")
    if item.old_price and item.price and item.old_price <= item.price:
        err("old_price", "INVALID_OLD_PRICE", "old_price must be greater than price")
    if item.vat is not None and item.vat not in P.VAT_RATES:
        err("vat", "INVALID_VAT", f"vat must be one of {P.VAT_HELP}")
    return errors + attribute_errors(catalogue(), item)


def import_products(session: Session, *, seller_id: int, items: Sequence[P.ImportItem],
                    over_quota: Collection[int] = ()) -> int:
    """Create or update products; the task records per-item status and errors. Returns its id.

    Items are processed now (status ``imported``/``failed``/``skipped``), so
    ``/v1/product/import/info`` never shows ``pending``. Items at the indexes ``over_quota``
    (past the seller's daily quota: Ozon's rate limits) fail with ``item_limit_exceeded``.
    """
    lock_seller(session, seller_id)  # new SKUs and offer ids are numbered per seller
    task = ProductImportTask(seller_id=seller_id, status="imported")
    session.add(task)
    session.flush()
    offers = [i.offer_id for i in items]
    existing = {
        p.offer_id: p
        for p in session.scalars(
            select(Product).where(Product.seller_id == seller_id, Product.offer_id.in_(offers))
        )
    }
    next_sku = _next_sku(session, seller_id)
    for position, item in enumerate(items):
        errors = item_errors(item) or ([OVER_DAILY_QUOTA] if position in over_quota else [])
        product = existing.get(item.offer_id)
        status = "failed" if errors else "imported"
        if not errors:
            values = _product_values(item)
            if product is None:
                product = Product(
                    seller_id=seller_id, offer_id=item.offer_id, sku=next_sku, **values
                )
                next_sku += 1
                session.add(product)
                session.flush()
                existing[item.offer_id] = product
            elif all(getattr(product, k) == v for k, v in values.items()):
                status = "skipped"
            else:
                for key, value in values.items():
                    setattr(product, key, value)
        session.add(
            ProductImportItem(
                task_id=task.task_id,
                position=position,
                offer_id=item.offer_id,
                product_id=product.product_id if product is not None else 0,
                status=status,
                errors=[e.model_dump() for e in errors],
            )
        )
    session.flush()
    return task.task_id


def _next_sku(session: Session, seller_id: int) -> int:
    base = sku_base_for(seller_id)
    top = session.scalar(
        select(func.max(Product.sku)).where(Product.sku >= base, Product.sku < base + 10_000_000)
    )
    return base if top is None else int(top) + 1


def _product_values(item: P.ImportItem) -> dict[str, Any]:
    extra = item.model_dump(
        include={"images360", "attributes", "complex_attributes", "geo_names", "primary_image"}
    )
    return {
        "name": item.name,
        "price": _num(item.price) or "0",
        "old_price": _num(item.old_price) or "0",
        "currency_code": item.currency_code,
        "vat": _num(item.vat) or "0",
        "barcode": item.barcode,
        "weight": item.weight,
        "weight_unit": item.weight_unit,
        "depth": item.depth,
        "height": item.height,
        "width": item.width,
        "dimension_unit": item.dimension_unit,
        "description_category_id": item.description_category_id or None,
        "type_id": item.type_id or None,
        "images": list(item.images),
        "attributes": extra,
    }


def import_info(session: Session, *, seller_id: int, task_id: int) -> P.ImportInfoResult:
    task = session.get(ProductImportTask, task_id)
    if task is None or task.seller_id != seller_id:
        raise NotFound(f"task {task_id} not found", code="TASK_NOT_FOUND")
    rows = session.scalars(
        select(ProductImportItem)
        .where(ProductImportItem.task_id == task_id)
        .order_by(ProductImportItem.position)
    ).all()
    items = [
        P.ImportInfoItem(
            offer_id=r.offer_id,
            product_id=r.product_id,
            status=r.status,
            errors=[P.ImportError_.model_validate(e) for e in r.errors or []],
        )
        for r in rows
    ]
    return P.ImportInfoResult(items=items, total=len(items))


# --------------------------------------------------------------------------- product lists


_VISIBILITY_ARCHIVED = {"ARCHIVED", "AUTO_ARCHIVED", "MANUAL_ARCHIVED", "SEASONAL_AUTO_ARCHIVED"}


def product_query(
    seller_id: int,
    *,
    offer_ids: Sequence[str] = (),
    product_ids: Sequence[int] = (),
    skus: Sequence[int] = (),
    visibility: str = "ALL",
) -> Select[tuple[Product]]:
    query = select(Product).where(Product.seller_id == seller_id)
    if offer_ids:
        query = query.where(Product.offer_id.in_(offer_ids))
    if product_ids:
        query = query.where(Product.product_id.in_(product_ids))
    if skus:
        query = query.where(Product.sku.in_(skus))
    if visibility in _VISIBILITY_ARCHIVED:
        query = query.where(Product.archived.is_(True))
    elif visibility != "ALL" or not (offer_ids or product_ids or skus):
        query = query.where(Product.archived.is_(False))
    return query


def match_products(
    session: Session, seller_id: int, items: Sequence[P.PriceItem | P.StockItem]
) -> list[Product | None]:
    """The seller's product each item names, by ``offer_id`` if given, else ``product_id``."""
    offers = [i.offer_id for i in items if i.offer_id]
    ids = [i.product_id for i in items if not i.offer_id and i.product_id]
    by_offer: dict[str, Product] = {}
    by_id: dict[int, Product] = {}
    if offers or ids:
        for product in session.scalars(
            select(Product).where(
                Product.seller_id == seller_id,
                Product.offer_id.in_(offers) | Product.product_id.in_(ids),
            )
        ):
            by_offer[product.offer_id] = product
            by_id[product.product_id] = product
    return [by_offer.get(i.offer_id) if i.offer_id else by_id.get(i.product_id) for i in items]


def product_page(
    session: Session, *, seller_id: int, f: P.ProductListFilter, cursor: str, limit: int
) -> tuple[pagination.CursorPage[Product], int]:
    """A cursor page of the products matching ``f`` (by ``product_id``) and how many match."""
    after = pagination.decode_cursor(cursor)
    base = product_query(
        seller_id, offer_ids=f.offer_id, product_ids=f.product_id, visibility=f.visibility
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = base if after is None else base.where(Product.product_id > after)
    rows = list(session.scalars(query.order_by(Product.product_id).limit(limit + 1)))
    return pagination.cursor_page(rows, limit, lambda p: p.product_id, after), int(total)


def product_list(
    session: Session, *, seller_id: int, req: P.ProductListRequest, limit: int
) -> P.ProductListResult:
    """``/v3/product/list``: ``last_id`` paging (an opaque cursor past the last product)."""
    page, total = product_page(
        session, seller_id=seller_id, f=req.filter, cursor=req.last_id, limit=limit
    )
    fbs = _fbs_presence(session, [p.product_id for p in page.items])
    items = [
        P.ProductListItem(
            product_id=p.product_id,
            offer_id=p.offer_id,
            archived=p.archived,
            has_fbs_stocks=fbs.get(p.product_id, False),
            sku=p.sku,
        )
        for p in page.items
    ]
    return P.ProductListResult(items=items, total=total, last_id=page.cursor)


def _fbs_presence(session: Session, product_ids: Sequence[int]) -> dict[int, bool]:
    if not product_ids:
        return {}
    rows = session.execute(
        select(Stock.product_id, func.sum(Stock.present - Stock.reserved))
        .where(Stock.product_id.in_(product_ids))
        .group_by(Stock.product_id)
    )
    return {pid: (avail or 0) > 0 for pid, avail in rows}


def product_info(
    session: Session, *, seller_id: int, req: P.ProductInfoListRequest
) -> list[P.ProductInfo]:
    if not (req.offer_id or req.product_id or req.sku):
        return []
    query = product_query(
        seller_id, offer_ids=req.offer_id, product_ids=req.product_id, skus=req.sku
    ).order_by(Product.product_id)
    products = list(session.scalars(query))
    stocks: dict[int, list[Stock]] = {p.product_id: [] for p in products}
    if products:
        for s in session.scalars(select(Stock).where(Stock.product_id.in_(list(stocks)))):
            stocks[s.product_id].append(s)
    return [_info(p, stocks[p.product_id]) for p in products]


def _info(p: Product, stocks: Sequence[Stock]) -> P.ProductInfo:
    present = sum(s.present for s in stocks)
    reserved = sum(s.reserved for s in stocks)
    has_stock = present - reserved > 0
    return P.ProductInfo(
        id=p.product_id,
        name=p.name,
        offer_id=p.offer_id,
        created_at=p.created_at,
        updated_at=p.updated_at,
        is_archived=p.archived,
        statuses=P.ProductStatuses(status_updated_at=p.updated_at),
        stocks=P.ProductStocks(
            has_stock=has_stock,
            stocks=[
                P.ProductStockEntry(present=present, reserved=reserved, sku=p.sku, source="fbs")
            ]
            if stocks
            else [],
        ),
        visibility_details=P.VisibilityDetails(
            has_price=Decimal(p.price or "0") > 0, has_stock=has_stock
        ),
        sources=[P.ProductSource(sku=p.sku, source="FBS", created_at=p.created_at)],
        barcodes=[p.barcode] if p.barcode else [],
        images=list(p.images or []),
        primary_image=[p.images[0]] if p.images else [],
        commissions=[P.Commission()],
        price=p.price,
        old_price=p.old_price,
        min_price=p.min_price,
        marketing_price=p.price,
        currency_code=p.currency_code,
        vat=p.vat,
        description_category_id=p.description_category_id,
        type_id=p.type_id,
        volume_weight=round(p.depth * p.height * p.width / 5_000_000, 3) if p.depth else 0.0,
    )


# --------------------------------------------------------------------------- prices


def import_prices(
    session: Session, *, seller_id: int, prices: Sequence[P.PriceItem],
    too_soon: Collection[int] = (),
) -> list[P.PriceUpdateResult]:
    """Per-item price updates: one bad item never fails the batch (its ``errors`` say why).

    Items at the indexes ``too_soon`` (their product's price was set too often: Ozon's rate
    limits) are refused with ``TOO_MANY_REQUESTS``."""
    results = []
    matched = zip(prices, match_products(session, seller_id, prices), strict=True)
    for index, (item, product) in enumerate(matched):
        result = P.PriceUpdateResult(
            product_id=product.product_id if product else item.product_id,
            offer_id=product.offer_id if product else item.offer_id,
        )
        error = _price_error(item, product)
        if error is None and index in too_soon:
            error = P.ItemError(code="TOO_MANY_REQUESTS",
                                message="this product's price was set too often (10 an hour)")
        if error is not None:
            result.errors = [error]
        else:
            assert product is not None
            if item.price is not None:
                product.price = _num(item.price) or "0"
            if item.old_price is not None:
                product.old_price = _num(item.old_price) or "0"
            if item.min_price is not None:
                product.min_price = _num(item.min_price) or "0"
            if item.net_price is not None:
                product.net_price = _num(item.net_price) or "0"
            if item.vat is not None:
                product.vat = _num(item.vat) or "0"
            product.currency_code = item.currency_code
            result.updated = True
        results.append(result)
    session.flush()
    return results


def _price_error(item: P.PriceItem, product: Product | None) -> P.ItemError | None:
    if not item.offer_id and not item.product_id:
        return P.ItemError(code="INVALID_ARGUMENT", message="give offer_id or product_id")
    if product is None:
        return P.ItemError(code="PRODUCT_NOT_FOUND", message="product not found")
    if item.price is not None and item.price <= 0:
        return P.ItemError(code="INVALID_PRICE", message="price must be positive")
    price = item.price if item.price is not None else Decimal(product.price or "0")
    if item.old_price and item.old_price <= price:
        return P.ItemError(
            code="INVALID_OLD_PRICE", message="old_price must exceed price (or be 0)"
        )
    if item.vat is not None and item.vat not in P.VAT_RATES:
        return P.ItemError(code="INVALID_VAT", message=f"vat must be one of {P.VAT_HELP}")
    return None
