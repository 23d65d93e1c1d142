"""Stock methods of the Ozon-compatible API: per-item stock updates and the stock views
(``/v4/product/info/stocks``, stocks by warehouse v1/v2, stock on warehouses)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from reference_backend import pagination
from reference_backend.analytics import schemas as A
from reference_backend.catalog import schemas as P
from reference_backend.catalog.service import lock_seller, match_products, product_page
from reference_backend.domain_errors import DomainError
from reference_backend.stock import rows as stock_service
from reference_backend.tables import Posting, PostingItem, Product, Stock, Warehouse


def item_error(code: str, message: str) -> P.ItemError:
    return P.ItemError(code=code, message=message)


def update_stocks(
    session: Session, *, seller_id: int, items: Sequence[P.StockItem],
    too_soon: Collection[int] = (),
) -> list[P.StockUpdateResult]:
    """Set available units per (product, warehouse); a bad item gets ``errors``, never a 4xx.

    ``offer_id`` wins over ``product_id``. Each item runs in its own savepoint, so a failed
    item leaves nothing behind and the rest of the batch still applies. Items at the indexes
    ``too_soon`` (their pair was set too recently: Ozon's rate limits) are refused with
    ``TOO_MANY_REQUESTS``.
    """
    lock_seller(session, seller_id)  # a first stock row of a pair is an insert
    matched = list(zip(items, match_products(session, seller_id, items), strict=True))
    results: list[P.StockUpdateResult | None] = [None] * len(matched)
    # Rows are locked in (warehouse, sku) order, the order buyer orders lock them in, so a
    # stock update and an order never wait on each other in a cycle.
    for index in sorted(range(len(matched)), key=lambda i: _lock_key(*matched[i])):
        item, product = matched[index]
        result = P.StockUpdateResult(
            warehouse_id=item.warehouse_id,
            product_id=product.product_id if product else item.product_id,
            offer_id=product.offer_id if product else item.offer_id,
        )
        if product is None:
            code = "OFFER_ID_NOT_FOUND" if item.offer_id else "PRODUCT_NOT_FOUND"
            if not item.offer_id and not item.product_id:
                code = "INVALID_ARGUMENT"
            result.errors = [item_error(code, "product not found (give offer_id or product_id)")]
        elif product.archived:
            result.errors = [item_error("PRODUCT_IS_ARCHIVED", "product is archived")]
        elif index in too_soon:
            result.errors = [item_error(
                "TOO_MANY_REQUESTS", "this product's stock at this warehouse was set too "
                "recently")]
        else:
            try:
                with session.begin_nested():
                    stock_service.set_available(
                        session,
                        seller_id=seller_id,
                        product_id=product.product_id,
                        warehouse_id=item.warehouse_id,
                        available=item.stock,
                    )
                result.updated = True
            except DomainError as exc:
                result.errors = [item_error(exc.code, exc.message)]
        results[index] = result
    return [r for r in results if r is not None]


def _lock_key(item: P.StockItem, product: Product | None) -> tuple[int, int]:
    return (item.warehouse_id or 0, product.sku if product else 0)


def info_stocks(
    session: Session, *, seller_id: int, req: P.InfoStocksRequest, limit: int
) -> P.InfoStocksResponse:
    """``/v4/product/info/stocks``: per product, its FBS stock summed over warehouses."""
    page, total = product_page(
        session, seller_id=seller_id, f=req.filter, cursor=req.cursor, limit=limit
    )
    stocks: dict[int, list[Stock]] = {p.product_id: [] for p in page.items}
    if stocks:
        for s in session.scalars(
            select(Stock).where(Stock.product_id.in_(list(stocks))).order_by(Stock.warehouse_id)
        ):
            stocks[s.product_id].append(s)
    items = []
    for p in page.items:
        rows_ = stocks[p.product_id]
        items.append(
            P.InfoStocksItem(
                offer_id=p.offer_id,
                product_id=p.product_id,
                stocks=[
                    P.InfoStock(
                        type="fbs",
                        present=sum(s.present for s in rows_),
                        reserved=sum(s.reserved for s in rows_),
                        sku=p.sku,
                        warehouse_ids=[s.warehouse_id for s in rows_],
                    )
                ],
            )
        )
    return P.InfoStocksResponse(cursor=page.cursor, total=total, items=items)


def _warehouse_rows_query(
    seller_id: int, skus: Sequence[int], offer_ids: Sequence[str]
) -> Select[tuple[Stock, str, str]]:
    query = (
        select(Stock, Product.offer_id, Warehouse.name)
        .join(Product, Product.product_id == Stock.product_id)
        .join(Warehouse, Warehouse.warehouse_id == Stock.warehouse_id)
        .where(Stock.seller_id == seller_id)
    )
    if skus and offer_ids:
        query = query.where(Stock.sku.in_(skus) | Product.offer_id.in_(offer_ids))
    elif skus:
        query = query.where(Stock.sku.in_(skus))
    elif offer_ids:
        query = query.where(Product.offer_id.in_(offer_ids))
    return query


def _row(s: Stock, offer_id: str, warehouse_name: str) -> dict[str, Any]:
    return {
        "sku": s.sku,
        "product_id": s.product_id,
        "offer_id": offer_id,
        "present": s.present,
        "reserved": s.reserved,
        "warehouse_id": s.warehouse_id,
        "warehouse_name": warehouse_name,
    }


def by_warehouse_v1(
    session: Session, *, seller_id: int, req: P.StocksByWarehouseV1Request
) -> list[P.WarehouseStockRow]:
    query = _warehouse_rows_query(seller_id, req.sku, req.offer_id).order_by(Stock.id).limit(5000)
    return [P.WarehouseStockRow(**_row(*r)) for r in session.execute(query)]


def by_warehouse_v2(
    session: Session, *, seller_id: int, req: P.StocksByWarehouseV2Request, limit: int
) -> P.StocksByWarehouseV2Response:
    after = pagination.decode_cursor(req.cursor)
    query = _warehouse_rows_query(seller_id, req.sku, req.offer_id)
    if after is not None:
        query = query.where(Stock.id > after)
    rows = list(session.execute(query.order_by(Stock.id).limit(limit + 1)))
    page = pagination.cursor_page(rows, limit, lambda r: r[0].id, after)
    return P.StocksByWarehouseV2Response(
        products=[
            P.WarehouseStockRowV2(**_row(*r), free_stock=r[0].present - r[0].reserved)
            for r in page.items
        ],
        cursor=page.cursor,
        has_next=page.has_next,
    )


def stock_on_warehouses(
    session: Session, *, seller_id: int, limit: int, offset: int, warehouse_type: str
) -> list[A.StockRow]:
    """``/v2/analytics/stock_on_warehouses`` rows (``limit + 1`` fetched by the caller's page)."""
    query = (
        select(Stock, Product.offer_id, Product.name, Warehouse.name)
        .join(Product, Product.product_id == Stock.product_id)
        .join(Warehouse, Warehouse.warehouse_id == Stock.warehouse_id)
        .where(Stock.seller_id == seller_id)
    )
    if warehouse_type == "EXPRESS_DARK_STORE":
        query = query.where(Warehouse.is_express.is_(True))
    elif warehouse_type == "NOT_EXPRESS_DARK_STORE":
        query = query.where(Warehouse.is_express.is_(False))
    query = query.order_by(Stock.id).offset(offset).limit(limit)
    return [
        A.StockRow(
            sku=s.sku,
            item_code=offer_id,
            item_name=name,
            free_to_sell_amount=s.present - s.reserved,
            promised_amount=0,
            reserved_amount=s.reserved,
            warehouse_name=wh_name,
        )
        for s, offer_id, name, wh_name in session.execute(query)
    ]


#: Days of sales behind ``ads`` (average daily sales) in ``/v1/analytics/stocks``.
ADS_WINDOW_DAYS = 28


def turnover_grade(ads: float, idc: float) -> str:
    """Ozon-like grade from days of cover: no sales, deficit (< 14 d), actual (<= 60 d), surplus."""
    if ads <= 0:
        return "NO_SALES"
    if idc < 14:
        return "DEFICIT"
    return "ACTUAL" if idc <= 60 else "SURPLUS"


def stock_analytics(
    session: Session, *, seller_id: int, req: A.AnalyticsStocksRequest, now: datetime | None = None
) -> list[A.AnalyticsStocksItem]:
    """Per (SKU, warehouse): available units, average daily sales over the last 28 days,
    days of cover (``idc``), days since the last sale and a turnover grade."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=ADS_WINDOW_DAYS)
    query = (
        select(Stock, Product.offer_id, Product.name, Warehouse.name, Warehouse.city)
        .join(Product, Product.product_id == Stock.product_id)
        .join(Warehouse, Warehouse.warehouse_id == Stock.warehouse_id)
        .where(Stock.seller_id == seller_id, Stock.sku.in_(req.skus))
        .order_by(Stock.sku, Stock.warehouse_id)
    )
    if req.warehouse_ids:
        query = query.where(Stock.warehouse_id.in_(req.warehouse_ids))
    rows = session.execute(query).all()
    sales = {
        (sku, wh): (int(units or 0), last)
        for sku, wh, units, last in session.execute(
            select(
                PostingItem.sku,
                Posting.warehouse_id,
                func.sum(PostingItem.quantity),
                func.max(Posting.in_process_at),
            )
            .join(Posting, Posting.id == PostingItem.posting_id)
            .where(
                Posting.seller_id == seller_id,
                PostingItem.sku.in_(req.skus),
                Posting.status != "cancelled",
                Posting.in_process_at >= since,
            )
            .group_by(PostingItem.sku, Posting.warehouse_id)
        )
    }
    items = []
    for stock, offer_id, name, wh_name, city in rows:
        units, last = sales.get((stock.sku, stock.warehouse_id), (0, None))
        available = stock.present - stock.reserved
        ads = round(units / ADS_WINDOW_DAYS, 3)
        idc = round(available / ads, 1) if ads > 0 else 0.0
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        idle = (now - last).days if last is not None else ADS_WINDOW_DAYS
        grade = turnover_grade(ads, idc)
        if req.turnover_grades and grade not in req.turnover_grades:
            continue
        items.append(
            A.AnalyticsStocksItem(
                sku=stock.sku,
                offer_id=offer_id,
                name=name,
                warehouse_id=stock.warehouse_id,
                warehouse_name=wh_name,
                cluster_name=city,
                ads=ads,
                ads_cluster=ads,
                idc=idc,
                idc_cluster=idc,
                days_without_sales=idle,
                days_without_sales_cluster=idle,
                turnover_grade=grade,
                turnover_grade_cluster=grade,
                available_stock_count=available,
                valid_stock_count=stock.present,
            )
        )
    return items
