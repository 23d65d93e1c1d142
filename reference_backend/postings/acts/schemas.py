"""Wire shapes of the hand-over documents (§14)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from reference_backend.schemas import (
    Count,
    FlexDatetime,
    Id64,
    OptFlexDatetime,
    OptOutDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

#: ``act/list`` status filter values (§14.5), with the spellings some clients send.
ACT_STATUSES = (
    "new", "awaiting_retry", "in_process", "success", "error", "sended", "received", "formed",
    "cancelled", "pending", "completion_enqueued", "completion_processing", "completion_failed",
    "cancelation_enqueued", "cancelation_processing", "cancelation_failed", "completed", "closed",
)
_SPELLINGS = {"awaiting-retry": "awaiting_retry", "sent": "sended"}


def _act_status(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        text = _SPELLINGS.get(text, text)
        if text in ACT_STATUSES:
            return text
    raise ValueError(f"must be one of {', '.join(ACT_STATUSES)}")


ActStatus = Annotated[str, BeforeValidator(_act_status)]
IntegrationType = ci_enum("ozon", "aggregator", "3pl_tracking", "non_integrated")


class ActCreateRequest(OzonRequest):
    delivery_method_id: Id64
    departure_date: OptFlexDatetime = None
    containers_count: Count = 0


class ActId(OzonResponse):
    id: int


class ActCreateResponse(OzonResponse):
    result: ActId


class ActIdRequest(OzonRequest):
    id: Id64


class ActStatusResult(OzonResponse):
    status: str = "ready"
    act_type: str = ""
    added_to_act: list[str] = Field(default_factory=list)
    removed_from_act: list[str] = Field(default_factory=list)
    is_partial: bool = False
    has_postings_for_next_carriage: bool = False
    partial_num: int = 0


class ActStatusResponse(OzonResponse):
    result: ActStatusResult


class BarcodeTextResponse(OzonResponse):
    result: str


class DigitalStatusResponse(OzonResponse):
    id: int
    status: str


class DigitalPdfRequest(ActIdRequest):
    doc_type: ci_enum(  # type: ignore[valid-type]
        "act_of_acceptance", "act_of_mismatch", "act_of_excess", "waybill"
    ) = "act_of_acceptance"


class ActListFilter(OzonRequest):
    date_from: FlexDatetime
    date_to: FlexDatetime
    integration_type: IntegrationType | None = None  # type: ignore[valid-type]
    status: list[ActStatus] = Field(default_factory=list)


class ActListRequest(OzonRequest):
    filter: ActListFilter
    limit: Annotated[Count, Field(ge=1, le=1000)] = 50


class RelatedDoc(OzonResponse):
    created_at: OutDatetime
    document_status: str


class RelatedDocs(OzonResponse):
    act_of_acceptance: RelatedDoc | None = None
    act_of_mismatch: RelatedDoc | None = None
    act_of_excess: RelatedDoc | None = None


class ActListItem(OzonResponse):
    id: int
    delivery_method_id: int
    delivery_method_name: str
    integration_type: str
    containers_count: int
    status: str
    departure_date: str
    created_at: OutDatetime
    updated_at: OutDatetime
    act_type: str = ""
    is_partial: bool = False
    has_postings_for_next_carriage: bool = False
    partial_num: int = 0
    related_docs: RelatedDocs


class ActListResponse(OzonResponse):
    result: list[ActListItem] = Field(default_factory=list)


class ActProduct(OzonResponse):
    name: str
    offer_id: str
    price: str
    quantity: int
    sku: int


class ActPostingItem(OzonResponse):
    id: int
    posting_number: str
    status: str
    multi_box_qty: int
    seller_error: str = ""
    created_at: OutDatetime
    updated_at: OptOutDatetime
    products: list[ActProduct] = Field(default_factory=list)


class ActPostingsResponse(OzonResponse):
    result: list[ActPostingItem] = Field(default_factory=list)
