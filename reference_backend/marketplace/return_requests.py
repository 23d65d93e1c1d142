"""``/marketplace/v1/postings/{posting_number}/return-requests``: a buyer files a return
request that the seller decides (Ozon's rFBS returns, §13: only for delivered postings of
the seller's rFBS warehouses). Platform key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from reference_backend.auth import DbDep, PlatformAuth
from reference_backend.marketplace.schemas import ERRORS, Body, Sku
from reference_backend.returns.rfbs import service

router = APIRouter(prefix="/marketplace/v1", tags=["marketplace"], responses=ERRORS)


class ReturnRequestFiling(Body):
    """What the buyer returns and why (``reason_id``: 1 defect, 2 not as described, 3 did
    not fit, 4 changed mind; ``return_method_id``: 1 post, 2 seller's courier, 3 in person)."""

    sku: Sku
    quantity: int | None = Field(default=None, ge=1, le=100_000,
                                 description="units to return (all still returnable if absent)")
    reason_id: int = Field(ge=1, le=2**31 - 1)
    return_method_id: int = Field(default=1, ge=1, le=2**31 - 1)
    comment: str = Field(default="", max_length=1000)


class ReturnRequestFiled(BaseModel):
    return_id: int
    return_number: str
    posting_number: str
    sku: int
    quantity: int
    state: str


@router.post("/postings/{posting_number}/return-requests", status_code=201,
             response_model=ReturnRequestFiled)
def file_return_request(
    posting_number: Annotated[str, Path(max_length=40)], body: ReturnRequestFiling,
    platform: PlatformAuth, db: DbDep,
) -> ReturnRequestFiled:
    """A buyer's return request for a delivered rFBS posting line; the seller decides it."""
    with db.session() as session:
        request = service.file_request(
            session, posting_number=posting_number, sku=body.sku, quantity=body.quantity,
            reason_id=body.reason_id, comment=body.comment,
            return_method_id=body.return_method_id)
        return ReturnRequestFiled(
            return_id=request.id, return_number=service.return_number(request),
            posting_number=request.posting_number, sku=request.sku,
            quantity=request.quantity, state=request.state)
