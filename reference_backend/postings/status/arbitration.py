"""Arbitration and awaiting-delivery (§2.4, §5.10): all the given postings move, or none."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.deps import DbDep, PostingsWrite
from reference_backend.postings.status import schemas as C
from reference_backend.postings.status import service

router = APIRouter(tags=["Ozon: FBS arbitration"])


@router.post("/v2/posting/fbs/arbitration", response_model=C.BoolResult)
def posting_arbitration(
    body: C.PostingNumbersRequest, seller: PostingsWrite, db: DbDep
) -> C.BoolResult:
    """Open a dispute on postings handed over but not scanned in (409, nothing changed, if
    one is in another status)."""
    with db.session() as session:
        service.open_disputes(session, seller_id=seller.seller_id, numbers=body.posting_number)
    return C.BoolResult(result=True)


@router.post("/v2/posting/fbs/awaiting-delivery", response_model=C.BoolResult)
def posting_awaiting_delivery(
    body: C.PostingNumbersRequest, seller: PostingsWrite, db: DbDep
) -> C.BoolResult:
    """Move disputed postings back to ``awaiting_deliver`` (409, nothing changed, if one is
    not in arbitration)."""
    with db.session() as session:
        service.end_disputes(session, seller_id=seller.seller_id, numbers=body.posting_number)
    return C.BoolResult(result=True)
