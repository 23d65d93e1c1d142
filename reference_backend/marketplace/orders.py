"""``/marketplace/v1``: buyer cancellations, return requests, logistics events.

Authenticated by a platform key (``Authorization: Bearer``); the marketplace acts for
buyers, sorting centres and carriers of every seller. Placing an order, the hottest route,
is :mod:`.order_route` (a router of its own, matched first).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from reference_backend.auth import DbDep, PlatformAuth
from reference_backend.marketplace.schemas import (
    ERRORS,
    CancelIn,
    CancelOut,
    LogisticsEventIn,
    LogisticsEventOut,
    ReturnRequestIn,
    ReturnsOut,
)
from reference_backend.postings import buyer
from reference_backend.returns.processing import return_view

router = APIRouter(prefix="/marketplace/v1", tags=["marketplace"], responses=ERRORS)

@router.post("/orders/{order_number}/cancel", response_model=CancelOut)
def cancel_order(
    order_number: Annotated[str, Path(max_length=40)],
    platform: PlatformAuth,
    db: DbDep,
    body: CancelIn | None = None,
) -> CancelOut:
    """Buyer cancellation before shipment; releases the reservations (409 once shipped)."""
    with db.session() as session:
        postings = buyer.cancel_order(session, order_number=order_number,
                                      reason=body.reason if body else "")
        states = [{"posting_number": p.posting_number, "status": p.status,
                   "substatus": p.substatus} for p in postings]
    return CancelOut.model_validate({"order_number": order_number, "postings": states})


@router.post("/postings/{posting_number}/return", status_code=201, response_model=ReturnsOut)
def request_return(
    posting_number: Annotated[str, Path(max_length=40)],
    platform: PlatformAuth,
    db: DbDep,
    body: ReturnRequestIn | None = None,
) -> ReturnsOut:
    """Buyer return request for a delivered posting (all units unless ``lines`` given)."""
    body = body or ReturnRequestIn()
    lines = [(line.sku, line.quantity) for line in body.lines] if body.lines else None
    with db.session() as session:
        rows = buyer.request_return(session, posting_number=posting_number, lines=lines,
                                    reason=body.reason)
        returns = [return_view(row) for row in rows]
    return ReturnsOut.model_validate({"returns": returns})


@router.post("/logistics/events", response_model=LogisticsEventOut)
def logistics_event(body: LogisticsEventIn, platform: PlatformAuth, db: DbDep) -> LogisticsEventOut:
    """A sorting centre accepts or refuses a posting, or the last mile delivers it."""
    with db.session() as session:
        posting = buyer.apply_logistics_event(
            session, posting_number=body.posting_number, event=body.event)
        out = {"posting_number": posting.posting_number, "status": posting.status,
               "substatus": posting.substatus, "event": body.event}
    return LogisticsEventOut.model_validate(out)


