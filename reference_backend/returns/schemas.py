"""Returns list ``/v1/returns/list`` and the legacy ``/v2/returns/company/fbs`` (§7)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler

from reference_backend.schemas import (
    Count,
    FlexDatetime,
    Id64,
    LooseStr,
    OptOutDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

MAX_RETURNS_LIMIT = 500


class TimeWindow(OzonRequest):
    time_from: FlexDatetime | None = None
    time_to: FlexDatetime | None = None


class ReturnsFilter(OzonRequest):
    logistic_return_date: TimeWindow | None = None
    storage_tariffication_start_date: TimeWindow | None = None
    visual_status_change_moment: TimeWindow | None = None
    order_id: Id64 | None = None
    posting_numbers: list[LooseStr] = Field(default_factory=list, max_length=50)
    product_name: str | None = None
    offer_id: LooseStr | None = None
    barcode: LooseStr | None = None
    visual_status_name: str | None = None
    warehouse_id: Id64 | None = None
    return_schema: ci_enum("FBS", "FBO") | None = None  # type: ignore[valid-type]
    compensation_status_id: Count | None = None


class ReturnsListRequest(OzonRequest):
    filter: ReturnsFilter = Field(default_factory=ReturnsFilter)
    limit: Annotated[Count, Field(ge=1, le=500)] = MAX_RETURNS_LIMIT
    last_id: Count = 0


class Money(OzonResponse):
    price: float = 0
    currency_code: str = "RUB"


class Place(OzonResponse):
    id: int = 0
    name: str = ""
    address: str = ""


class ReturnProduct(OzonResponse):
    sku: int
    offer_id: str
    name: str
    quantity: int
    commission_percent: float = 0
    price: Money = Field(default_factory=Money)
    price_without_commission: Money = Field(default_factory=Money)
    commission: Money = Field(default_factory=Money)


class Logistic(OzonResponse):
    technical_return_moment: OptOutDatetime = None
    final_moment: OptOutDatetime = None
    cancelled_with_compensation_moment: OptOutDatetime = None
    return_date: OptOutDatetime = None
    barcode: str = ""


class VisualStatus(OzonResponse):
    id: int
    display_name: str
    sys_name: str


class Visual(OzonResponse):
    status: VisualStatus
    change_moment: OptOutDatetime = None


class Storage(OzonResponse):
    sum: Money = Field(default_factory=Money)
    tariffication_first_date: OptOutDatetime = None
    tariffication_start_date: OptOutDatetime = None
    arrived_moment: OptOutDatetime = None
    days: int = 0
    utilization_sum: Money = Field(default_factory=Money)
    utilization_forecast_date: OptOutDatetime = None


class AdditionalInfo(OzonResponse):
    is_opened: bool = False
    is_super_econom: bool = False


class Exemplar(OzonResponse):
    id: int


class CompensationStatus(OzonResponse):
    status: VisualStatus
    change_moment: OptOutDatetime = None


class ReturnItem(OzonResponse):
    id: int
    company_id: int = 0
    posting_number: str
    order_id: int
    order_number: str
    return_reason_name: str = ""
    type: str = "ClientReturn"  # Cancellation | FullReturn | PartialReturn | ClientReturn | Unknown
    schema_: str = Field(default="FBS", alias="schema", serialization_alias="schema")
    source_id: int = 0
    clearing_id: int = 0
    return_clearing_id: int = 0
    exemplars: list[Exemplar] = Field(default_factory=list)
    place: Place = Field(default_factory=Place)
    target_place: Place = Field(default_factory=Place)
    product: ReturnProduct
    logistic: Logistic = Field(default_factory=Logistic)
    visual: Visual
    storage: Storage = Field(default_factory=Storage)
    additional_info: AdditionalInfo = Field(default_factory=AdditionalInfo)
    compensation_status: CompensationStatus | None = None


class ReturnsListResponse(OzonResponse):
    returns: list[ReturnItem] = Field(default_factory=list)
    has_next: bool = False


def _one_or_many(value: Any) -> Any:
    """A single value where the legacy method's clients send a list (or the reverse)."""
    return [value] if value is not None and not isinstance(value, list) else value


class _OrOne:
    """Last in a list type that takes a single item too: the document says so."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        many = handler(core_schema)
        meta = {k: many.pop(k) for k in ("title", "description", "default") if k in many}
        return {"anyOf": [many, many["items"]], **meta}


class LegacyReturnsFilter(OzonRequest):
    """The legacy filter as clients send it: ``posting_number`` and the time ranges are lists
    (a single value is taken too)."""

    accepted_from_customer_moment: Annotated[
        list[TimeWindow], BeforeValidator(_one_or_many), _OrOne()] = Field(default_factory=list)
    last_free_waiting_day: Annotated[
        list[TimeWindow], BeforeValidator(_one_or_many), _OrOne()] = Field(default_factory=list)
    order_id: Id64 | None = None
    posting_number: Annotated[list[LooseStr], BeforeValidator(_one_or_many), _OrOne()] = Field(
        default_factory=list, max_length=1000)
    product_name: str | None = None
    product_offer_id: LooseStr | None = None
    status: str | None = None


class LegacyReturnsRequest(OzonRequest):
    filter: LegacyReturnsFilter = Field(default_factory=LegacyReturnsFilter)
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000
    offset: Count = 0


class LegacyReturn(OzonResponse):
    """Every key the legacy method's clients read (Peakline keeps no storage charges, return
    places or clearing ids: those are zero)."""

    id: int
    clearing_id: int = 0
    posting_number: str
    order_id: int
    product_id: int
    sku: int
    product_name: str
    quantity: int
    price: float
    price_without_commission: float
    commission: float = 0
    commission_percent: float = 0
    picking_amount: float = 0
    status: str
    is_moving: bool
    is_opened: bool = False
    place_id: int
    moving_to_place_name: str
    return_reason_name: str = ""
    return_date: OutDatetime
    accepted_from_customer_moment: OutDatetime
    last_free_waiting_day: OptOutDatetime = None
    waiting_for_seller_date_time: OptOutDatetime = None
    waiting_for_seller_days: int = 0
    returned_to_seller_date_time: OptOutDatetime = None
    returns_keeping_cost: float = 0


class LegacyReturnsResult(OzonResponse):
    returns: list[LegacyReturn] = Field(default_factory=list)
    count: int = 0


class LegacyReturnsResponse(OzonResponse):
    result: LegacyReturnsResult
