"""Delivery-status updates of seller-delivered (rFBS) postings (§6)."""

from __future__ import annotations

from pydantic import Field

from reference_backend.schemas import LooseStr, OzonRequest, OzonResponse

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
