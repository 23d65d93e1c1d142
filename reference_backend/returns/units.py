"""Units of a posting already on their way back, whichever route the buyer took: the older
buyer-return route (``ClientReturn`` returns) and return requests (§13) not rejected. Both
routes cap what can still come back by this, so a unit is never returned twice."""

from __future__ import annotations

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from reference_backend.tables import Return, ReturnRequest

#: A rejected request gives its units back to what the buyer may still return.
REJECTED = "Rejected"


def returned_units(session: Session, posting_id: int) -> dict[int, int]:
    """Units per SKU of the posting returned or asked back (one query)."""
    returns = select(Return.sku, Return.quantity).where(
        Return.posting_id == posting_id, Return.type == "ClientReturn")
    requests = select(ReturnRequest.sku, ReturnRequest.quantity).where(
        ReturnRequest.posting_id == posting_id, ReturnRequest.state != REJECTED)
    both = union_all(returns, requests).subquery()
    return {sku: int(units) for sku, units in session.execute(
        select(both.c.sku, func.sum(both.c.quantity)).group_by(both.c.sku)).all()}
