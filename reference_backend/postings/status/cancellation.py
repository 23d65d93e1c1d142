"""Cancellation (§5.9): cancel a posting or some of its items, and the cancel reasons."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsRead, PostingsWrite
from reference_backend.postings.status import schemas as C
from reference_backend.postings.status import service

router = APIRouter(tags=["Ozon: FBS cancellation"])


@router.post("/v2/posting/fbs/cancel", response_model=C.BoolResult)
def posting_cancel(body: C.CancelRequest, seller: PostingsWrite, db: DbDep) -> C.BoolResult:
    """Cancel a posting with a seller reason (the lifecycle decides; 409 when it refuses)."""
    with db.session() as session:
        service.cancel(session, seller_id=seller.seller_id, req=body)
    return C.BoolResult(result=True)


@router.post("/v2/posting/fbs/product/cancel", response_model=C.StringResult)
def posting_product_cancel(
    body: C.ProductCancelRequest, seller: PostingsWrite, db: DbDep
) -> C.StringResult:
    """Cancel some units of a posting (all of them cancels the posting)."""
    with db.session() as session:
        number = service.cancel_products(session, seller_id=seller.seller_id, req=body)
    return C.StringResult(result=number)


@router.post("/v2/posting/fbs/cancel-reason/list", response_model=C.CancelReasonListResponse)
def cancel_reason_list(seller: PostingsRead, db: DbDep) -> C.CancelReasonListResponse:
    """Every FBS/rFBS cancel reason (``is_available_for_cancellation``: the seller may use it)."""
    with db.read_session() as session:
        reasons = service.all_reasons(session)
        return C.CancelReasonListResponse(
            result=[C.CancelReason.model_validate(r, from_attributes=True) for r in reasons]
        )


@router.post("/v1/posting/fbs/cancel-reason", response_model=C.CancelReasonsForPostingsResponse)
def cancel_reasons_for_postings(
    body: C.CancelReasonsForPostingsRequest, seller: PostingsRead, db: DbDep
) -> C.CancelReasonsForPostingsResponse:
    """The reasons a seller may use for each given posting."""
    with db.read_session() as session:
        result = service.reasons_for(
            session, seller_id=seller.seller_id, numbers=body.related_posting_numbers
        )
    return C.CancelReasonsForPostingsResponse(result=result)


def _generic(db: Database) -> C.GenericReasonListResponse:
    with db.read_session() as session:
        reasons = [
            C.GenericReason(id=r.id, name=r.title, title=r.title, type_id=r.type_id)
            for r in service.seller_reasons(session)
        ]
    return C.GenericReasonListResponse(reasons=reasons, result=reasons)


@router.post("/v1/cancel-reason/list", response_model=C.GenericReasonListResponse)
def generic_reason_list(seller: PostingsRead, db: DbDep) -> C.GenericReasonListResponse:
    """Newer generic reason list (shape unconfirmed: both ``reasons`` and ``result``)."""
    return _generic(db)


@router.post("/v1/cancel-reason/list-by-order", response_model=C.GenericReasonListResponse)
def generic_reason_list_by_order(
    body: C.GenericReasonRequest, seller: PostingsRead, db: DbDep
) -> C.GenericReasonListResponse:
    """Seller cancel reasons for an order (same list for every order)."""
    return _generic(db)


@router.post("/v1/cancel-reason/list-by-posting", response_model=C.GenericReasonListResponse)
def generic_reason_list_by_posting(
    body: C.GenericReasonRequest, seller: PostingsRead, db: DbDep
) -> C.GenericReasonListResponse:
    """Seller cancel reasons for a posting (same list for every posting)."""
    return _generic(db)
