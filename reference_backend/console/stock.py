"""Stock: levels per SKU and warehouse with their warning lines (editable), the alerts under
them, the replenishment suggestion, and a ``peakline plan-stock`` plan next to today's
levels (uploaded as its ``stock_plan.csv``, and applied as warning lines).

Edits call what the API calls: ``/v2/products/stocks`` (:func:`update_stocks`, stocks
permission) and ``PUT /peakline/v1/warning-levels`` (:func:`set_warning_level`, planning).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.catalog import schemas as P
from reference_backend.console.refusals import in_language, refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    _l,
    database,
    flash,
    may,
    person,
    redirect,
    render,
    seller_warehouses,
    translate,
    whole_number,
)
from reference_backend.domain_errors import DomainError
from reference_backend.permissions import Action, RouteGroup
from reference_backend.stock import replenishment
from reference_backend.stock import rows as stock
from reference_backend.stock.service import update_stocks
from reference_backend.tables import Warehouse

pages = APIRouter()
PAGE_SIZE = 50
PLAN_ROWS_MAX = 100_000
NOT_UNITS = _l("Enter a whole number of units, 0 or more.")


def _levels_page(request: Request, *, alerts: bool, sku: int | None, warehouse_id: int | None,
                 page: int) -> Response:
    caller = person(request, RouteGroup.PLANNING if alerts else RouteGroup.STOCKS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        rows = stock.levels(session, seller_id=seller_id, skus=[sku] if sku else None,
                            warehouse_ids=[warehouse_id] if warehouse_id else None,
                            only_alerts=alerts, limit=PAGE_SIZE + 1,
                            offset=(page - 1) * PAGE_SIZE)
    return render(request, "stock.html", {
        "rows": rows[:PAGE_SIZE], "has_next": len(rows) > PAGE_SIZE, "page": page,
        "alerts": alerts, "sku": sku or "", "warehouse_id": warehouse_id,
        "warehouses": seller_warehouses(request, seller_id),
        "may_stock": may(caller, RouteGroup.STOCKS, Action.WRITE),
        "may_plan": may(caller, RouteGroup.PLANNING, Action.WRITE),
        "may_plan_read": may(caller, RouteGroup.PLANNING, Action.READ)})


Sku = Annotated[str, Query(max_length=20)]
WarehouseId = Annotated[str, Query(max_length=20)]
Page = Annotated[int, Query(ge=1, le=100_000)]


@pages.get("/stock")
def levels(request: Request, sku: Sku = "", warehouse_id: WarehouseId = "",
           page: Page = 1) -> Response:
    return _levels_page(request, alerts=False, sku=whole_number(sku),
                        warehouse_id=whole_number(warehouse_id), page=page)


@pages.get("/stock/alerts")
def alerts(request: Request, sku: Sku = "", warehouse_id: WarehouseId = "",
           page: Page = 1) -> Response:
    return _levels_page(request, alerts=True, sku=whole_number(sku),
                        warehouse_id=whole_number(warehouse_id), page=page)


def _back(form_next: object) -> str:
    target = str(form_next or "")
    return target if target.startswith(("/stock", "/products/")) else "/stock"


@dataclass(frozen=True)
class PairEdit:
    """A posted number of units for one (SKU, warehouse), and where to go back to."""

    sku: int
    warehouse_id: int
    units: int
    back: str


class BadUnits(Exception):
    """A stock form's number is not a whole number, 0 or more (``back``: where it came from)."""

    def __init__(self, back: str) -> None:
        self.back = back


async def pair_edit(request: Request, group: RouteGroup, field: str) -> tuple[int, PairEdit]:
    """The seller and the edit a stock form posts; :class:`BadUnits` when a number is not a
    whole number, 0 or more (CSRF and the permission are checked first)."""
    form = await checked_form(request)
    caller = person(request, group, Action.WRITE)
    sku, warehouse_id, units = (whole_number(form.get(k)) for k in ("sku", "warehouse_id", field))
    back = _back(form.get("next"))
    if sku is None or warehouse_id is None or units is None:
        raise BadUnits(back)
    return caller.identity.seller_id, PairEdit(sku, warehouse_id, units, back)


@pages.post("/stock/available")
async def set_available(request: Request) -> Response:
    """Set the units available for sale at one warehouse (``/v2/products/stocks``)."""
    try:
        seller_id, edit = await pair_edit(request, RouteGroup.STOCKS, "available")
    except BadUnits as exc:
        return flash(redirect(exc.back), translate(request, NOT_UNITS), "error")
    sku, warehouse_id, units, back = edit.sku, edit.warehouse_id, edit.units, edit.back
    with database(request).read_session() as session:
        row = stock.get_row(session, seller_id=seller_id, sku=sku, warehouse_id=warehouse_id)
    item = P.StockItem(product_id=row.product_id, warehouse_id=warehouse_id, stock=units)
    with database(request).session() as session:
        [result] = update_stocks(session, seller_id=seller_id, items=[item])
    if result.errors:
        return flash(redirect(back), "; ".join(in_language(request, e.message)
                                               for e in result.errors), "error")
    return flash(redirect(back), translate(request, "Stock of SKU {sku} set to {units}.").format(
        sku=sku, units=units))


@pages.post("/stock/warning-level")
async def set_warning_level(request: Request) -> Response:
    """Set the low-stock warning line of one (SKU, warehouse)."""
    try:
        seller_id, edit = await pair_edit(request, RouteGroup.PLANNING, "warning_level")
    except BadUnits as exc:
        return flash(redirect(exc.back), translate(request, NOT_UNITS), "error")
    sku, level, back = edit.sku, edit.units, edit.back
    try:
        with database(request).session() as session:
            stock.set_warning_level(session, seller_id=seller_id, sku=sku,
                                    warehouse_id=edit.warehouse_id, warning_level=level)
    except DomainError as exc:
        return flash(redirect(back), refusal(request, exc), "error")
    return flash(redirect(back), translate(
        request, "Warning line of SKU {sku} set to {units}.").format(sku=sku, units=level))


@pages.get("/stock/replenishment")
def replenishment_page(request: Request, page: Page = 1,
                       only_positive: bool = True) -> Response:
    caller = person(request, RouteGroup.PLANNING, Action.READ)
    history = request.app.state.settings.replenishment_history_days
    with database(request).read_session() as session:
        out = replenishment.suggestions(
            session, seller_id=caller.identity.seller_id, history_days=history,
            only_positive=only_positive, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    items = out["items"]
    return render(request, "replenishment.html", {
        "policy": out["policy"], "history_days": out["history_days"],
        "items": items[:PAGE_SIZE], "has_next": len(items) > PAGE_SIZE, "page": page,
        "only_positive": only_positive,
        "names": {w.warehouse_id: w.name
                  for w in seller_warehouses(request, caller.identity.seller_id)}})


# --- a plan-stock plan next to today's levels -----------------------------------------------


@dataclass(frozen=True)
class PlanLine:
    """One planned pair of ``stock_plan.csv`` matched to the seller's stock row."""

    offer_id: str
    warehouse: str
    reorder_point: int
    order_up_to: int
    level: stock.StockLevel | None  # None: the seller has no such SKU at that warehouse


class PlanFileError(ValueError):
    pass


def read_plan(text: str) -> list[tuple[str, str, int, int]]:
    """(offer_id, warehouse code, reorder point, order-up-to) of each row of a plan CSV."""
    reader = csv.DictReader(io.StringIO(text))
    need = {"offer_id", "warehouse", "reorder_point", "order_up_to"}
    missing = need - set(reader.fieldnames or [])
    if missing:
        raise PlanFileError(", ".join(sorted(missing)))
    out = []
    for number, row in enumerate(reader, start=2):
        if number > PLAN_ROWS_MAX:
            break
        try:
            out.append((row["offer_id"].strip(), row["warehouse"].strip(),
                        int(float(row["reorder_point"])), int(float(row["order_up_to"]))))
        except (TypeError, ValueError):
            raise PlanFileError(f"line {number}") from None
    return out


def match_plan(request: Request, seller_id: int,
               rows: list[tuple[str, str, int, int]]) -> list[PlanLine]:
    with database(request).read_session() as session:
        codes = {w.code: w.warehouse_id for w in session.scalars(
            select(Warehouse).where(Warehouse.seller_id == seller_id))}
        today = {(lv.offer_id, lv.warehouse_id): lv for lv in stock.levels(
            session, seller_id=seller_id, limit=PLAN_ROWS_MAX)}
    return [PlanLine(offer, code, s, big_s, today.get((offer, codes.get(code, 0))))
            for offer, code, s, big_s in rows]


@pages.get("/stock/plan")
def plan_page(request: Request) -> Response:
    person(request, RouteGroup.PLANNING, Action.READ)
    return render(request, "plan.html", {})


@pages.post("/stock/plan")
async def plan_upload(request: Request) -> Response:
    """Show an uploaded plan next to today's levels; with ``apply``, its reorder points
    become the warning lines (as ``peakline plan-stock --apply`` sets them)."""
    form = await checked_form(request)
    apply = form.get("do") == "apply"
    caller = person(request, RouteGroup.PLANNING, Action.WRITE if apply else Action.READ)
    upload = form.get("plan")
    raw = await upload.read() if isinstance(upload, UploadFile) else str(form.get("text", ""))
    text = raw.decode("utf-8-sig", "replace") if isinstance(raw, bytes) else raw
    try:
        lines = match_plan(request, caller.identity.seller_id, read_plan(text))
    except PlanFileError as exc:
        message = translate(request, "Not a plan-stock CSV ({problem}).").format(
            problem=in_language(request, str(exc)))
        return render(request, "plan.html", {"error": message}, status=400)
    applied = 0
    if apply:
        try:
            with database(request).session() as session:
                for line in lines:
                    if line.level is not None:
                        stock.set_warning_level(
                            session, seller_id=caller.identity.seller_id, sku=line.level.sku,
                            warehouse_id=line.level.warehouse_id,
                            warning_level=line.reorder_point)
                        applied += 1
        except DomainError as exc:
            return render(request, "plan.html", {"error": refusal(request, exc)}, status=400)
        lines = match_plan(request, caller.identity.seller_id, read_plan(text))
    return render(request, "plan.html", {
        "lines": lines[:1000], "count": len(lines), "text": text, "applied": applied,
        "unmatched": sum(1 for line in lines if line.level is None), "did_apply": apply,
        "may_apply": may(caller, RouteGroup.PLANNING, Action.WRITE)})
