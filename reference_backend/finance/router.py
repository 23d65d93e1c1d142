"""Finance reports (§15): transactions and their totals, the monthly realization report."""

from __future__ import annotations

from fastapi import APIRouter

from reference_backend.deps import DbDep, FinanceRead
from reference_backend.finance import schemas as F
from reference_backend.finance import service
from reference_backend.finance.tariffs import tariffs

router = APIRouter(tags=["Ozon: finance"])


@router.post("/v3/finance/transaction/list", response_model=F.TransactionListResponse)
def transaction_list(body: F.TransactionListRequest, seller: FinanceRead, db: DbDep
                     ) -> F.TransactionListResponse:
    """Accruals derived from the postings (sales, commissions, logistics, refunds), one row per
    operation, paged by ``page``/``page_size``, at most one month per request (400 otherwise;
    no period only with a ``posting_number``)."""
    with db.read_session() as session:
        result = service.transaction_list(session, seller_id=seller.seller_id, req=body,
                                          tariffs=tariffs())
    return F.TransactionListResponse(result=result)


@router.post("/v3/finance/transaction/totals", response_model=F.TotalsResponse)
def transaction_totals(body: F.TotalsRequest, seller: FinanceRead, db: DbDep) -> F.TotalsResponse:
    """The period's operations (at most one month) summed into Ozon's buckets (their mapping is
    undocumented; ours is in the service)."""
    with db.read_session() as session:
        result = service.totals(session, seller_id=seller.seller_id, req=body, tariffs=tariffs())
    return F.TotalsResponse(result=result)


@router.post("/v2/finance/realization", response_model=F.RealizationResponse)
def realization(body: F.RealizationRequest, seller: FinanceRead, db: DbDep
                ) -> F.RealizationResponse:
    """Sales and refunds of a month per SKU; the current month shows it so far, a later month is
    a 404."""
    with db.read_session() as session:
        result = service.realization(session, seller_id=seller.seller_id, month=body.month,
                                     year=body.year, tariffs=tariffs())
    return F.RealizationResponse(result=result)
