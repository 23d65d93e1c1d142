"""Products: the list with search and paging, a product's page (price, and stock per
warehouse), and an import from a CSV file with a result per row.

Writes call the catalogue services of ``/v1/product/import/prices``, ``/v2/products/stocks``
and ``/v3/product/import`` with their request models, so a row is accepted or refused
exactly as the API would.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError
from sqlalchemy import func, or_, select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.catalog import schemas as P
from reference_backend.catalog import service as catalog
from reference_backend.console.refusals import field_error, in_language
from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    database,
    flash,
    may,
    person,
    redirect,
    render,
    translate,
)
from reference_backend.domain_errors import NotFound
from reference_backend.permissions import Action, RouteGroup
from reference_backend.stock import rows as stock
from reference_backend.tables import Product

pages = APIRouter()
ProductId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PAGE_SIZE = 50
#: Items per import call (the API's maximum per ``/v3/product/import``).
IMPORT_BATCH = 100
IMPORT_ROWS_MAX = 10_000
#: CSV columns an import reads (``offer_id``, ``name`` and ``price`` are needed).
IMPORT_COLUMNS = ("offer_id", "name", "price", "old_price", "vat", "barcode", "weight",
                  "depth", "height", "width")


def _search(seller_id: int, text: str):  # noqa: ANN202 - a SQLAlchemy select
    query = catalog.product_query(seller_id)
    text = text.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions = [Product.name.ilike(pattern, escape="\\"),
                      Product.offer_id.ilike(pattern, escape="\\")]
        if text.isascii() and text.isdigit() and len(text) < 19:
            conditions.append(Product.sku == int(text))
        query = query.where(or_(*conditions))
    return query


@pages.get("/products")
def product_list(request: Request, q: Annotated[str, Query(max_length=200)] = "",
                 page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    caller = person(request, RouteGroup.PRODUCTS, Action.READ)
    query = _search(caller.identity.seller_id, q)
    with database(request).read_session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.order_by(Product.product_id)
                                    .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return render(request, "products.html", {
        "products": rows, "total": total, "q": q, "page": page,
        "has_next": page * PAGE_SIZE < total,
        "may_write": may(caller, RouteGroup.PRODUCTS, Action.WRITE)})


@pages.get("/products/import")
def import_page(request: Request) -> Response:
    person(request, RouteGroup.PRODUCTS, Action.WRITE)
    return render(request, "product_import.html", {})


@pages.get("/products/{product_id}")
def product_page(request: Request, product_id: ProductId) -> Response:
    caller = person(request, RouteGroup.PRODUCTS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        product = session.scalar(select(Product).where(
            Product.seller_id == seller_id, Product.product_id == product_id))
        if product is None:
            raise NotFound(f"product {product_id} not found")
        levels = stock.levels(session, seller_id=seller_id, skus=[product.sku])
    return render(request, "product.html", {
        "product": product, "levels": levels,
        "may_write": may(caller, RouteGroup.PRODUCTS, Action.WRITE),
        "may_stock": may(caller, RouteGroup.STOCKS, Action.WRITE),
        "may_stock_read": may(caller, RouteGroup.STOCKS, Action.READ)})


@pages.post("/products/{product_id}/price")
async def set_price(request: Request, product_id: ProductId) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.PRODUCTS, Action.WRITE)
    back = f"/products/{product_id}"
    try:
        item = P.PriceItem.model_validate({
            "product_id": product_id, "price": str(form.get("price", "")).strip(),
            "old_price": str(form.get("old_price", "")).strip() or "0"})
    except ValidationError:
        message = translate(request, "Enter prices as numbers, e.g. 1290.50.")
        return flash(redirect(back), message, "error")
    with database(request).session() as session:
        [result] = catalog.import_prices(session, seller_id=caller.identity.seller_id,
                                         prices=[item])
    if result.errors:
        return flash(redirect(back), "; ".join(in_language(request, e.message)
                                               for e in result.errors), "error")
    return flash(redirect(back), translate(request, "The price is saved."))


# --- import from CSV ------------------------------------------------------------------------


def read_import(request: Request, text: str) -> tuple[list[P.ImportItem | None], list[dict]]:
    """Each CSV row as an import item (None when the row itself is malformed) and the
    row's result so far (its line number, offer id and, for a malformed row, why, in the
    request's language)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"offer_id", "name", "price"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(", ".join(sorted(missing)))
    items: list[P.ImportItem | None] = []
    results: list[dict] = []
    for line, row in enumerate(reader, start=2):
        if len(items) >= IMPORT_ROWS_MAX:
            break
        values = {k: v for k in IMPORT_COLUMNS if (v := (row.get(k) or "").strip())}
        result = {"line": line, "offer_id": values.get("offer_id", ""), "status": "", "errors": []}
        try:
            items.append(P.ImportItem.model_validate(values))
        except ValidationError as exc:
            items.append(None)
            result["status"] = "failed"
            result["errors"] = [field_error(request, e) for e in exc.errors()]
        results.append(result)
    return items, results


@pages.post("/products/import")
async def import_csv(request: Request) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.PRODUCTS, Action.WRITE)
    upload = form.get("file")
    raw = await upload.read() if isinstance(upload, UploadFile) else b""
    try:
        items, results = read_import(request, raw.decode("utf-8-sig", "replace"))
    except ValueError as exc:
        message = translate(request, "Not a product CSV: the columns {columns} are missing.")
        return render(request, "product_import.html",
                      {"error": message.format(columns=exc)}, status=400)
    valid = [(i, item) for i, item in enumerate(items) if item is not None]
    seller_id = caller.identity.seller_id
    for start in range(0, len(valid), IMPORT_BATCH):
        batch = valid[start:start + IMPORT_BATCH]
        with database(request).session() as session:
            task_id = catalog.import_products(session, seller_id=seller_id,
                                              items=[item for _, item in batch])
            info = catalog.import_info(session, seller_id=seller_id, task_id=task_id)
        for (index, _), answer in zip(batch, info.items, strict=True):
            results[index]["status"] = answer.status
            results[index]["errors"] = [
                f"{e.field}: {in_language(request, e.message)}" if e.field
                else in_language(request, e.message) for e in answer.errors]
    counts = {s: sum(1 for r in results if r["status"] == s)
              for s in ("imported", "skipped", "failed")}
    return render(request, "product_import.html", {"results": results, "counts": counts})

