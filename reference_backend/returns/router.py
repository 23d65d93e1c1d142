"""Returns (§7): ``/v1/returns/list`` and the legacy ``/v2/returns/company/fbs``."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend import pagination
from reference_backend.deps import DbDep, ReturnsRead
from reference_backend.returns import schemas as R
from reference_backend.returns import service

router = APIRouter(tags=["Ozon: returns"])


@router.post("/v1/returns/list", response_model=R.ReturnsListResponse)
def returns_list(
    body: R.ReturnsListRequest, seller: ReturnsRead, db: DbDep
) -> R.ReturnsListResponse:
    """FBS returns, oldest first, after ``last_id`` (``has_next`` when more remain)."""
    limit = pagination.resolve_limit(body.limit, default=500, maximum=R.MAX_RETURNS_LIMIT)
    with db.read_session() as session:
        return service.returns_list(session, seller_id=seller.seller_id, req=body, limit=limit)


@router.post("/v2/returns/company/fbs", response_model=R.LegacyReturnsResponse)
def returns_company_fbs(
    body: R.LegacyReturnsRequest, seller: ReturnsRead, db: DbDep
) -> R.LegacyReturnsResponse:
    """Legacy FBS returns list as clients call it (``filter.posting_number`` a list; offset
    paging, ``count`` of all that match)."""
    limit = pagination.resolve_limit(body.limit, default=1000, maximum=1000)
    with db.read_session() as session:
        result = service.legacy_returns(
            session, seller_id=seller.seller_id, req=body, limit=limit
        )
    return R.LegacyReturnsResponse(result=result)
