"""Cancellation, cancel reasons, arbitration and awaiting-delivery (§5.9, §5.10), and the
delivery-status updates of seller-delivered (rFBS) postings (§6)."""

from __future__ import annotations

from pydantic import Field

from reference_backend.schemas import Id32, Id64, LooseStr, OzonRequest, OzonResponse, Quantity


class CancelRequest(OzonRequest):
    posting_number: LooseStr = Field(min_length=1)
    cancel_reason_id: Id32
    cancel_reason_message: str = Field(default="", max_length=2000)


class CancelItem(OzonRequest):
    sku: Id64
    quantity: Quantity


class ProductCancelRequest(CancelRequest):
    items: list[CancelItem] = Field(min_length=1, max_length=1000)


class CancelReasonsForPostingsRequest(OzonRequest):
    related_posting_numbers: list[LooseStr] = Field(min_length=1, max_length=1000)


class PostingNumbersRequest(OzonRequest):
    """``{"posting_number": [...]}`` of arbitration and awaiting-delivery."""

    posting_number: list[LooseStr] = Field(min_length=1, max_length=100)


class BoolResult(OzonResponse):
    result: bool


class StringResult(OzonResponse):
    result: str


class ReasonRef(OzonResponse):
    id: int
    title: str
    type_id: str  # buyer | seller


class CancelReason(ReasonRef):
    is_available_for_cancellation: bool = True


class CancelReasonListResponse(OzonResponse):
    result: list[CancelReason] = Field(default_factory=list)


class PostingReasons(OzonResponse):
    posting_number: str
    reasons: list[ReasonRef] = Field(default_factory=list)


class CancelReasonsForPostingsResponse(OzonResponse):
    result: list[PostingReasons] = Field(default_factory=list)


class GenericReason(OzonResponse):
    id: int
    name: str
    title: str
    type_id: str


class GenericReasonListResponse(OzonResponse):
    """``/v1/cancel-reason/list*`` (shape unconfirmed): both ``reasons`` and ``result``."""

    reasons: list[GenericReason] = Field(default_factory=list)
    result: list[GenericReason] = Field(default_factory=list)


class GenericReasonRequest(OzonRequest):
    order_number: LooseStr = ""
    posting_number: LooseStr = ""


# --- delivery-status updates of seller-delivered (rFBS) postings (§6) ---------------------

MAX_TRACKING = 20


class TrackingNumber(OzonRequest):
    posting_number: LooseStr = Field(min_length=1)
    tracking_number: LooseStr = Field(min_length=1, max_length=100)


class TrackingNumberSetRequest(OzonRequest):
    tracking_numbers: list[TrackingNumber] = Field(min_length=1, max_length=MAX_TRACKING)


class DeliveryStatusRequest(OzonRequest):
    posting_number: list[LooseStr] = Field(min_length=1, max_length=1000)


class PostingOutcome(OzonResponse):
    posting_number: str
    result: bool
    error: str = ""


class DeliveryStatusResponse(OzonResponse):
    result: list[PostingOutcome] = Field(default_factory=list)
