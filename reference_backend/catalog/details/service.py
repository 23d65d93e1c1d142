"""A product's stored attributes and its price information in Ozon's shapes, a cursor page
at a time. Keyword-only functions over a SQLAlchemy session; no HTTP here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reference_backend import pagination
from reference_backend.catalog.details import schemas as D
from reference_backend.catalog.service import product_query
from reference_backend.finance.tariffs import Tariffs
from reference_backend.tables import Product


def page_of_products(session: Session, *, seller_id: int, offer_ids: list[str],
                     product_ids: list[int], skus: list[int], visibility: str, cursor: str,
                     limit: int) -> tuple[pagination.CursorPage[Product], int]:
    """Products by ``product_id`` after the cursor, and how many match in all."""
    after = pagination.decode_cursor(cursor)
    base = product_query(seller_id, offer_ids=offer_ids, product_ids=product_ids, skus=skus,
                         visibility=visibility)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    query = base if after is None else base.where(Product.product_id > after)
    rows = list(session.scalars(query.order_by(Product.product_id).limit(limit + 1)))
    return pagination.cursor_page(rows, limit, lambda p: p.product_id, after), int(total)


def _values(values: list[dict[str, Any]]) -> list[D.AttributeValue]:
    return [D.AttributeValue(dictionary_value_id=v.get("dictionary_value_id") or 0,
                             value=v.get("value") or "") for v in values]


def attributes_item(product: Product) -> D.AttributesItem:
    stored = product.attributes or {}
    complex_ = [D.ComplexAttribute(
        id=a["id"], complex_id=a.get("complex_id") or 0,
        values=[D.ComplexValue(dictionary_value_id=v.dictionary_value_id,
                               dictionaryValueId=v.dictionary_value_id, value=v.value)
                for v in _values(a.get("values") or [])])
        for group in stored.get("complex_attributes") or [] for a in group.get("attributes", [])]
    images = list(product.images or [])
    return D.AttributesItem(
        id=product.product_id, offer_id=product.offer_id, name=product.name,
        sku=str(product.sku), description_category_id=product.description_category_id or 0,
        type_id=product.type_id or 0, barcode=product.barcode,
        barcodes=[product.barcode] if product.barcode else [], height=product.height,
        depth=product.depth, width=product.width, dimension_unit=product.dimension_unit,
        weight=product.weight, weight_unit=product.weight_unit, images=images,
        primary_image=stored.get("primary_image") or (images[0] if images else ""),
        model_info=D.ModelInfo(model_id=product.product_id),
        attributes=[D.Attribute(id=a["id"], complex_id=a.get("complex_id") or 0,
                                values=_values(a.get("values") or []))
                    for a in stored.get("attributes") or []],
        complex_attributes=complex_)


#: litres in a cubic unit of each ``dimension_unit``
LITRES_PER_UNIT3 = {"mm": 1e-6, "cm": 1e-3, "in": 0.016387064}


def _number(text: str | None) -> float:
    return float(Decimal(text or "0"))


def price_item(product: Product, tariffs: Tariffs) -> D.PriceItem:
    """Prices as ``/v1/product/import/prices`` set them, with the tariffs finance applies."""
    litres = product.depth * product.height * product.width * LITRES_PER_UNIT3.get(
        product.dimension_unit, 0.0)
    return D.PriceItem(
        product_id=product.product_id, offer_id=product.offer_id,
        volume_weight=round(litres / 5, 3),  # kg: Ozon's volumetric weight, litres / 5
        commissions=D.Commissions(
            fbs_deliv_to_customer_amount=float(tariffs.last_mile),
            fbs_direct_flow_trans_min_amount=float(tariffs.direct_flow_logistics),
            fbs_direct_flow_trans_max_amount=float(tariffs.direct_flow_logistics),
            fbs_return_flow_amount=float(tariffs.return_flow_logistics),
            sales_percent_fbs=float(tariffs.sales_percent_fbs),
            sales_percent_rfbs=float(tariffs.sales_percent_rfbs)),
        price=D.Price(
            currency_code=product.currency_code, price=_number(product.price),
            old_price=_number(product.old_price), min_price=_number(product.min_price),
            marketing_seller_price=_number(product.price), net_price=_number(product.net_price),
            vat=_number(product.vat)),
    )
