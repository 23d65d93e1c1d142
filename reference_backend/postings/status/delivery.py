"""Seller-delivered (rFBS) status updates (§6): per-posting outcomes, never a 4xx per item."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsWrite
from reference_backend.postings.status import schemas as D
from reference_backend.postings.status import service

router = APIRouter(tags=["Ozon: rFBS delivery statuses"])


@router.post("/v2/fbs/posting/tracking-number/set", response_model=D.DeliveryStatusResponse)
def tracking_number_set(
    body: D.TrackingNumberSetRequest, seller: PostingsWrite, db: DbDep
) -> D.DeliveryStatusResponse:
    """Set tracking numbers (up to 20)."""
    with db.session() as session:
        result = service.set_tracking_numbers(
            session, seller_id=seller.seller_id, pairs=body.tracking_numbers
        )
    return D.DeliveryStatusResponse(result=result)


def _step(
    body: D.DeliveryStatusRequest, seller_id: int, db: Database, step: str
) -> D.DeliveryStatusResponse:
    with db.session() as session:
        result = service.set_delivery_status(
            session, seller_id=seller_id, numbers=body.posting_number, step=step
        )
    return D.DeliveryStatusResponse(result=result)


@router.post("/v2/fbs/posting/delivering", response_model=D.DeliveryStatusResponse)
def posting_delivering(
    body: D.DeliveryStatusRequest, seller: PostingsWrite, db: DbDep
) -> D.DeliveryStatusResponse:
    """Postings handed to the seller's delivery -> ``delivering``."""
    return _step(body, seller.seller_id, db, "delivering")


@router.post("/v2/fbs/posting/last-mile", response_model=D.DeliveryStatusResponse)
def posting_last_mile(
    body: D.DeliveryStatusRequest, seller: PostingsWrite, db: DbDep
) -> D.DeliveryStatusResponse:
    """Courier on the way: stays ``delivering``, substatus ``posting_in_courier_service``."""
    return _step(body, seller.seller_id, db, "last-mile")


@router.post("/v2/fbs/posting/delivered", response_model=D.DeliveryStatusResponse)
def posting_delivered(
    body: D.DeliveryStatusRequest, seller: PostingsWrite, db: DbDep
) -> D.DeliveryStatusResponse:
    """Postings delivered by the seller -> ``delivered``."""
    return _step(body, seller.seller_id, db, "delivered")
