"""``/peakline/v1``: seller extras the Seller API lacks (seller keys, permission-checked).

Warning lines per (SKU, warehouse) and the alerts under them, replenishment suggestions from
the seller's policy, and returns processing (receive, write off, refund, exchange).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field

from reference_backend.auth import DbDep, SellerIdentity, require
from reference_backend.domain_errors import DomainError
from reference_backend.marketplace.schemas import (
    ERRORS,
    ExchangeIn,
    ExchangeOut,
    ReplenishmentOut,
    ReturnOut,
    ReturnsOut,
    StockLevelsOut,
    WarningLevelsIn,
    WarningLevelsResultOut,
)
from reference_backend.permissions import Action, RouteGroup
from reference_backend.returns import processing as returns
from reference_backend.stock import replenishment
from reference_backend.stock import rows as stock
from reference_backend.tables import Return

router = APIRouter(prefix="/peakline/v1", tags=["peakline"], responses=ERRORS)

PlanningRead = Annotated[SellerIdentity, require(RouteGroup.PLANNING, Action.READ)]
PlanningWrite = Annotated[SellerIdentity, require(RouteGroup.PLANNING, Action.WRITE)]
ReturnsRead = Annotated[SellerIdentity, require(RouteGroup.RETURNS, Action.READ)]
ReturnsWrite = Annotated[SellerIdentity, require(RouteGroup.RETURNS, Action.WRITE)]
Int64 = Annotated[int, Field(ge=1, le=2**63 - 1)]
Skus = Annotated[list[Int64], Query(description="filter by SKU (repeat the parameter)")]
Warehouses = Annotated[list[Int64], Query(description="filter by warehouse id")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
ReturnId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _level_view(level: stock.StockLevel) -> dict:
    return {
        "sku": level.sku, "offer_id": level.offer_id, "warehouse_id": level.warehouse_id,
        "warehouse_name": level.warehouse_name, "present": level.present,
        "reserved": level.reserved, "available": level.available,
        "warning_level": level.warning_level,
        "shortfall": max(0, level.warning_level - level.available),
    }


def _levels(db, seller: SellerIdentity, sku, warehouse_id, limit, offset, alerts) -> StockLevelsOut:  # type: ignore[no-untyped-def]
    with db.read_session() as session:
        rows = stock.levels(session, seller_id=seller.seller_id, skus=sku or None,
                            warehouse_ids=warehouse_id or None, only_alerts=alerts,
                            limit=limit, offset=offset)
    return StockLevelsOut.model_validate({"items": [_level_view(r) for r in rows]})


@router.get("/warning-levels", response_model=StockLevelsOut)
def warning_levels(
    seller: PlanningRead, db: DbDep, sku: Skus = [], warehouse_id: Warehouses = [],  # noqa: B006
    limit: Limit = 1000, offset: Offset = 0,
) -> StockLevelsOut:
    """Stock and the low-stock warning line of each (SKU, warehouse)."""
    return _levels(db, seller, sku, warehouse_id, limit, offset, alerts=False)


@router.put("/warning-levels", response_model=WarningLevelsResultOut)
def set_warning_levels(
    body: WarningLevelsIn, seller: PlanningWrite, db: DbDep
) -> WarningLevelsResultOut:
    """Set warning lines; a bad item is reported in its result and never fails the batch."""
    results = []
    with db.session() as session:
        for item in body.items:
            try:
                with session.begin_nested():
                    stock.set_warning_level(session, seller_id=seller.seller_id, sku=item.sku,
                                            warehouse_id=item.warehouse_id,
                                            warning_level=item.warning_level)
                errors = []
            except DomainError as exc:
                errors = [{"code": exc.code, "message": exc.message}]
            results.append({"sku": item.sku, "warehouse_id": item.warehouse_id,
                            "updated": not errors, "errors": errors})
    return WarningLevelsResultOut.model_validate({"result": results})


@router.get("/alerts", response_model=StockLevelsOut)
def alerts(
    seller: PlanningRead, db: DbDep, sku: Skus = [], warehouse_id: Warehouses = [],  # noqa: B006
    limit: Limit = 1000, offset: Offset = 0,
) -> StockLevelsOut:
    """Every (SKU, warehouse) whose available stock is under its warning line."""
    return _levels(db, seller, sku, warehouse_id, limit, offset, alerts=True)


@router.get("/replenishment", response_model=ReplenishmentOut)
def replenishment_suggestions(
    request: Request, seller: PlanningRead, db: DbDep,
    sku: Skus = [], warehouse_id: Warehouses = [],  # noqa: B006
    days: Annotated[int | None, Query(ge=1, le=365, description="sales history window")] = None,
    only_positive: bool = False, limit: Limit = 1000, offset: Offset = 0,
) -> ReplenishmentOut:
    """Order quantity per (SKU, warehouse) from the seller's replenishment policy."""
    history = days or request.app.state.settings.replenishment_history_days
    with db.read_session() as session:
        out = replenishment.suggestions(
            session, seller_id=seller.seller_id, skus=sku or None,
            warehouse_ids=warehouse_id or None, history_days=history,
            only_positive=only_positive, limit=limit, offset=offset)
    return ReplenishmentOut.model_validate(out)


@router.get("/returns", response_model=ReturnsOut)
def list_returns(
    seller: ReturnsRead, db: DbDep,
    status: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100, offset: Offset = 0,
) -> ReturnsOut:
    """The seller's returns, newest first (optionally by status, e.g. MovingToSeller)."""
    from sqlalchemy import select

    query = select(Return).where(Return.seller_id == seller.seller_id)
    if status:
        query = query.where(Return.status == status)
    query = query.order_by(Return.id.desc()).limit(limit).offset(offset)
    with db.read_session() as session:
        rows = [returns.return_view(r) for r in session.scalars(query)]
    return ReturnsOut.model_validate({"returns": rows})


@router.get("/returns/{return_id}", response_model=ReturnOut)
def get_return(return_id: ReturnId, seller: ReturnsRead, db: DbDep) -> ReturnOut:
    """One return with its refund amount once processed."""
    with db.read_session() as session:
        row = returns.get_return(session, seller_id=seller.seller_id, return_id=return_id)
        return ReturnOut.model_validate(returns.return_view(row))


def _process(db, seller: SellerIdentity, return_id: int, disposition: str) -> ReturnOut:  # type: ignore[no-untyped-def]
    with db.session() as session:
        row = returns.process_return(session, seller_id=seller.seller_id, return_id=return_id,
                                     disposition=disposition)
        return ReturnOut.model_validate(returns.return_view(row))


@router.post("/returns/{return_id}/receive", response_model=ReturnOut)
def receive_return(return_id: ReturnId, seller: ReturnsWrite, db: DbDep) -> ReturnOut:
    """Receive the returned units back into stock; refund = price x quantity."""
    return _process(db, seller, return_id, returns.Disposition.RESTOCK)


@router.post("/returns/{return_id}/write-off", response_model=ReturnOut)
def write_off_return(return_id: ReturnId, seller: ReturnsWrite, db: DbDep) -> ReturnOut:
    """Write the returned units off (not back into stock); refund = price x quantity."""
    return _process(db, seller, return_id, returns.Disposition.WRITE_OFF)


@router.post("/returns/{return_id}/exchange", response_model=ExchangeOut)
def exchange_return(
    return_id: ReturnId, request: Request, seller: ReturnsWrite, db: DbDep,
    body: ExchangeIn | None = None,
) -> ExchangeOut:
    """Settle the return (no refund) and post a replacement of the same units."""
    body = body or ExchangeIn()
    with db.session() as session:
        row, order = returns.exchange(
            session, seller_id=seller.seller_id, return_id=return_id,
            disposition=body.disposition,
            shipment_deadline_hours=request.app.state.settings.shipment_deadline_hours)
        out = {"returned": returns.return_view(row), "replacement": order}
    return ExchangeOut.model_validate(out)
