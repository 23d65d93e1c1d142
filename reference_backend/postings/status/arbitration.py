"""Arbitration and awaiting-delivery (§5.10): all the given postings move, or none."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.db import Database
from reference_backend.deps import DbDep, PostingsWrite
from reference_backend.postings.status import schemas as C
from reference_backend.postings.status import service
from simulator.lifecycle import PostingStatus

router = APIRouter(tags=["Ozon: FBS arbitration"])


def _move_all(
    body: C.PostingNumbersRequest, seller_id: int, db: Database, target: PostingStatus
) -> C.BoolResult:
    with db.session() as session:
        service.move_all(session, seller_id=seller_id, numbers=body.posting_number, target=target)
    return C.BoolResult(result=True)


@router.post("/v2/posting/fbs/arbitration", response_model=C.BoolResult)
def posting_arbitration(
    body: C.PostingNumbersRequest, seller: PostingsWrite, db: DbDep
) -> C.BoolResult:
    """Open a dispute on every given posting (409 and nothing changed if one may not)."""
    return _move_all(body, seller.seller_id, db, PostingStatus.ARBITRATION)


@router.post("/v2/posting/fbs/awaiting-delivery", response_model=C.BoolResult)
def posting_awaiting_delivery(
    body: C.PostingNumbersRequest, seller: PostingsWrite, db: DbDep
) -> C.BoolResult:
    """Move every given posting to ``awaiting_deliver`` where the lifecycle allows it."""
    return _move_all(body, seller.seller_id, db, PostingStatus.AWAITING_DELIVER)
