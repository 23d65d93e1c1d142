"""Wire shapes of the return requests (§13)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from reference_backend.catalog.schemas import DecimalText
from reference_backend.schemas import (
    Count,
    Id64,
    Int64,
    LooseStr,
    OptFlexDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

GroupState = ci_enum("All", "New", "Delivering", "Checkout", "Arbitration", "Approved",
                     "Rejected")


def _signed_money(value: Any) -> Any:
    """``return_for_back_way``: a number or a numeric string; negative values count as 0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return 0
    if isinstance(value, str) and value.strip().startswith("-"):
        return "0"
    return value


BackWay = Annotated[DecimalText, BeforeValidator(_signed_money)]


class CreatedAt(OzonRequest):
    from_: OptFlexDatetime = Field(default=None, alias="from")
    to: OptFlexDatetime = None


class ListFilter(OzonRequest):
    group_state: list[GroupState] = Field(default_factory=list)  # type: ignore[valid-type]
    created_at: CreatedAt = Field(default_factory=CreatedAt)
    offer_id: LooseStr | None = None
    posting_number: LooseStr | None = None


class ListRequest(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=1000)]
    last_id: Count = 0
    filter: ListFilter = Field(default_factory=ListFilter)


class Product(OzonResponse):
    name: str
    offer_id: str
    currency_code: str
    price: str  # a numeric string (one client parses it as an integer, §13.1)
    sku: int


class ListState(OzonResponse):
    group_state: str
    state: str
    state_name: str
    money_return_state_name: str = ""


class ListItem(OzonResponse):
    return_id: int
    return_number: str
    posting_number: str
    order_number: str
    client_name: str = ""
    created_at: OutDatetime
    product: Product
    state: ListState


class ListResponse(OzonResponse):
    returns: list[ListItem] = Field(default_factory=list)


class ReturnIdRequest(OzonRequest):
    return_id: Id64


class Named(OzonResponse):
    id: int
    name: str


class RejectionReason(Named):
    hint: str = ""
    is_comment_required: bool


class ReturnReason(Named):
    is_defect: bool


class State(OzonResponse):
    state: str
    state_name: str


class Detail(OzonResponse):
    return_number: str
    posting_number: str
    order_number: str
    client_name: str = ""
    created_at: OutDatetime
    product: Product
    state: State
    available_actions: list[Named] = Field(default_factory=list)
    rejection_reason: list[RejectionReason] = Field(default_factory=list)
    return_reason: ReturnReason
    client_return_method_type: Named
    client_photo: list[str] = Field(default_factory=list)
    comment: str = ""
    rejection_comment: str = ""
    ru_post_tracking_number: str = ""
    return_method_description: str = ""
    warehouse_id: int


class GetResponse(OzonResponse):
    returns: Detail


class VerifyRequest(ReturnIdRequest):
    return_method_description: str = Field(default="", max_length=500)


class ReturnMoneyRequest(ReturnIdRequest):
    return_for_back_way: BackWay = None


class CompensateRequest(ReturnIdRequest):
    compensation_amount: DecimalText = None


class RejectRequest(ReturnIdRequest):
    rejection_reason_id: Id64
    comment: str = Field(default="", max_length=1000)


class ActionSetRequest(ReturnIdRequest):
    id: Int64
    comment: str = Field(default="", max_length=1000)
    rejection_reason_id: Id64 | None = None
    compensation_amount: DecimalText = None
    return_for_back_way: BackWay = None


class Empty(OzonResponse):
    pass
