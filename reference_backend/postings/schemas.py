"""FBS postings: lists, get, get-by-barcode, assembly (§5.1-§5.7, Appendix A)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from reference_backend.schemas import (
    Bool,
    Count,
    FlexDatetime,
    Id64,
    LooseStr,
    OptOutDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    Quantity,
    ci_enum,
)

#: Filter values of the v3/v4 list.
LIST_FILTER_STATUSES = (
    "awaiting_registration",
    "acceptance_in_progress",
    "awaiting_approve",
    "awaiting_packaging",
    "awaiting_deliver",
    "arbitration",
    "client_arbitration",
    "delivering",
    "driver_pickup",
    "delivered",
    "cancelled",
    "not_accepted",
    "sent_by_seller",
)
#: The "open" statuses of the unfulfilled lists.
UNFULFILLED_STATUSES = (
    "acceptance_in_progress",
    "awaiting_approve",
    "awaiting_packaging",
    "awaiting_registration",
    "awaiting_deliver",
    "arbitration",
    "client_arbitration",
    "delivering",
    "driver_pickup",
    "not_accepted",
)
ListStatus = ci_enum(*LIST_FILTER_STATUSES)
OpenStatus = ci_enum(*UNFULFILLED_STATUSES)
SortDir = ci_enum("asc", "desc")
MAX_IDS = 1000

# --- requests -----------------------------------------------------------------------------


class With(OzonRequest):
    analytics_data: Bool = False
    barcodes: Bool = False
    financial_data: Bool = False
    legal_info: Bool = False
    translit: Bool = False
    product_exemplars: Bool = False
    related_postings: Bool = False
    additional_data: Bool = False


class OffsetListRequest(OzonRequest):
    """The v3 list envelope (offset paging); each list names its own ``filter`` type."""

    filter: OzonRequest = Field(default_factory=OzonRequest)
    dir: SortDir = "asc"  # type: ignore[valid-type]
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000
    offset: Count = 0
    with_: With = Field(default_factory=With, alias="with")


class CursorListRequest(OzonRequest):
    """The v4 list envelope (cursor paging); each list names its own ``filter`` type."""

    filter: OzonRequest = Field(default_factory=OzonRequest)
    cursor: str = ""
    limit: Annotated[Count, Field(ge=1, le=1000)] = 100
    sort_dir: SortDir = "asc"  # type: ignore[valid-type]
    translit: Bool = False
    with_: With = Field(default_factory=With, alias="with")


class DateWindow(OzonRequest):
    from_: FlexDatetime | None = Field(default=None, alias="from")
    to: FlexDatetime | None = None


class ListFilterV3(OzonRequest):
    since: FlexDatetime | None = None
    to: FlexDatetime | None = None
    status: ListStatus | None = None  # type: ignore[valid-type]
    warehouse_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    provider_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    delivery_method_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    order_id: Id64 | None = None
    posting_number: LooseStr | None = None
    product_offer_id: LooseStr | None = None
    product_sku: Id64 | None = None
    is_quantum: Bool | None = None
    last_changed_status_date: DateWindow | None = None


class PostingListV3Request(OffsetListRequest):
    filter: ListFilterV3 = Field(default_factory=ListFilterV3)


class ListFilterV4(OzonRequest):
    since: FlexDatetime | None = None
    to: FlexDatetime | None = None
    statuses: list[ListStatus] = Field(default_factory=list, max_length=50)  # type: ignore[valid-type]
    warehouse_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    delivery_method_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    provider_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    order_id: Id64 | None = None
    order_numbers: list[LooseStr] = Field(default_factory=list, max_length=MAX_IDS)
    last_changed_status_date: DateWindow | None = None


class PostingListV4Request(CursorListRequest):
    filter: ListFilterV4 = Field(default_factory=ListFilterV4)


class UnfulfilledFilterV3(OzonRequest):
    cutoff_from: FlexDatetime | None = None
    cutoff_to: FlexDatetime | None = None
    delivering_date_from: FlexDatetime | None = None
    delivering_date_to: FlexDatetime | None = None
    status: OpenStatus | None = None  # type: ignore[valid-type]
    warehouse_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    provider_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    delivery_method_id: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    is_quantum: Bool | None = None
    last_changed_status_date: DateWindow | None = None

    @model_validator(mode="after")
    def _one_window(self) -> UnfulfilledFilterV3:
        if (self.cutoff_from or self.cutoff_to) and (
            self.delivering_date_from or self.delivering_date_to
        ):
            raise ValueError(
                "use either cutoff_from/cutoff_to or delivering_date_from/_to, not both"
            )
        return self


class UnfulfilledListV3Request(OffsetListRequest):
    filter: UnfulfilledFilterV3 = Field(default_factory=UnfulfilledFilterV3)


class UnfulfilledFilterV4(OzonRequest):
    cutoff_from: FlexDatetime | None = None
    cutoff_to: FlexDatetime | None = None
    delivering_date_from: FlexDatetime | None = None
    delivering_date_to: FlexDatetime | None = None
    statuses: list[OpenStatus] = Field(default_factory=list, max_length=50)  # type: ignore[valid-type]
    warehouse_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    delivery_method_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    provider_ids: list[Id64] = Field(default_factory=list, max_length=MAX_IDS)
    last_changed_status_date: DateWindow | None = None


class UnfulfilledListV4Request(CursorListRequest):
    filter: UnfulfilledFilterV4 = Field(default_factory=UnfulfilledFilterV4)


class PostingGetRequest(OzonRequest):
    posting_number: LooseStr = Field(min_length=1)
    with_: With = Field(default_factory=With, alias="with")


class GetByBarcodeRequest(OzonRequest):
    barcode: LooseStr = Field(min_length=1)


class ExemplarInfo(OzonRequest):
    """Legacy ``/v3/posting/fbs/ship`` exemplar data (accepted, ignored)."""

    mandatory_mark: str = Field(default="", max_length=500)
    gtd: str = Field(default="", max_length=500)
    is_gtd_absent: Bool = False


class ShipProduct(OzonRequest):
    product_id: Id64  # the Ozon SKU (docs)
    quantity: Quantity
    exemplar_info: list[ExemplarInfo] = Field(default_factory=list, max_length=1000)


class ShipPackage(OzonRequest):
    products: list[ShipProduct] = Field(min_length=1, max_length=1000)


class ShipRequest(OzonRequest):
    posting_number: LooseStr = Field(min_length=1)
    packages: list[ShipPackage] = Field(min_length=1, max_length=100)
    with_: With = Field(default_factory=With, alias="with")


class ShipPackageProduct(OzonRequest):
    product_id: Id64
    quantity: Quantity
    exemplarsIds: list[Id64] = Field(default_factory=list)  # noqa: N815 - wire name


class ShipPackageRequest(OzonRequest):
    posting_number: LooseStr = Field(min_length=1)
    products: list[ShipPackageProduct] = Field(min_length=1, max_length=1000)


# --- responses: the v3 posting (Appendix A) -----------------------------------------------


class DeliveryMethodRef(OzonResponse):
    id: int
    name: str
    warehouse_id: int
    warehouse: str
    tpl_provider_id: int = 24
    tpl_provider: str = "Ozon Логистика"


class PostingProductV3(OzonResponse):
    name: str
    offer_id: str
    sku: int
    quantity: int
    price: str
    currency_code: str = "RUB"
    is_blr_traceable: bool = False
    is_marketplace_buyout: bool = False
    mandatory_mark: list[str] = Field(default_factory=list)
    imei: list[str] = Field(default_factory=list)


class Dimensions(OzonResponse):
    height: str = "100.00"
    length: str = "200.00"
    weight: str = "500"
    width: str = "150.00"


class PostingProductDetail(PostingProductV3):
    dimensions: Dimensions = Field(default_factory=Dimensions)


class Requirements(OzonResponse):
    products_requiring_change_country: list[str] = Field(default_factory=list)
    products_requiring_gtd: list[str] = Field(default_factory=list)
    products_requiring_country: list[str] = Field(default_factory=list)
    products_requiring_mandatory_mark: list[str] = Field(default_factory=list)
    products_requiring_jw_uin: list[str] = Field(default_factory=list)
    products_requiring_rnpt: list[str] = Field(default_factory=list)
    products_requiring_weight: list[str] = Field(default_factory=list)
    products_requiring_imei: list[str] = Field(default_factory=list)


class Tariffication(OzonResponse):
    current_tariff_rate: float = 0
    current_tariff_type: str = ""
    current_tariff_charge: str = ""
    current_tariff_charge_currency_code: str = ""
    next_tariff_rate: float = 0
    next_tariff_type: str = ""
    next_tariff_charge: str = ""
    next_tariff_charge_currency_code: str = ""
    next_tariff_starts_at: OptOutDatetime = None


class Cancellation(OzonResponse):
    cancel_reason_id: int = 0
    cancel_reason: str = ""
    cancellation_type: str = ""  # seller | client | customer | ozon | system | delivery | ""
    cancelled_after_ship: bool = False
    affect_cancellation_rating: bool = False
    cancellation_initiator: str = ""


class AnalyticsData(OzonResponse):
    city: str = ""
    region: str = ""
    delivery_type: str = "Courier"
    is_legal: bool = False
    is_premium: bool = False
    payment_type_group_name: str = "картой онлайн"
    warehouse_id: int = 0
    warehouse: str = ""
    tpl_provider: str = "Ozon Логистика"
    tpl_provider_id: int = 24
    delivery_date_begin: OptOutDatetime = None
    delivery_date_end: OptOutDatetime = None
    client_delivery_date_begin: OptOutDatetime = None
    client_delivery_date_end: OptOutDatetime = None


class Barcodes(OzonResponse):
    upper_barcode: str
    lower_barcode: str


SERVICE_KEYS = (
    "marketplace_service_item_fulfillment",
    "marketplace_service_item_pickup",
    "marketplace_service_item_dropoff_pvz",
    "marketplace_service_item_dropoff_sc",
    "marketplace_service_item_dropoff_ff",
    "marketplace_service_item_direct_flow_trans",
    "marketplace_service_item_return_flow_trans",
    "marketplace_service_item_deliv_to_customer",
    "marketplace_service_item_return_not_deliv_to_customer",
    "marketplace_service_item_return_part_goods_customer",
    "marketplace_service_item_return_after_deliv_to_customer",
)


def zero_services() -> dict[str, float]:
    return dict.fromkeys(SERVICE_KEYS, 0.0)


class Picking(OzonResponse):
    """A picking charge: Peakline charges none (``amount`` 0, no ``tag``); ``moment``, which
    strict clients require as a datetime, is when the posting went into processing."""

    amount: float = 0
    tag: str = ""
    moment: OutDatetime


class FinancialProduct(OzonResponse):
    actions: list[str] = Field(default_factory=list)
    currency_code: str = "RUB"
    commission_amount: float = 0
    commission_percent: int = 0
    old_price: float = 0
    payout: float = 0
    price: float = 0
    product_id: int = 0
    quantity: int = 0
    total_discount_percent: float = 0
    total_discount_value: float = 0
    client_price: str = ""
    item_services: dict[str, float] = Field(default_factory=zero_services)
    picking: Picking


class FinancialData(OzonResponse):
    posting_services: dict[str, float] = Field(default_factory=zero_services)
    products: list[FinancialProduct] = Field(default_factory=list)
    cluster_from: str = ""
    cluster_to: str = ""


class LegalInfo(OzonResponse):
    company_name: str = ""
    inn: str = ""
    kpp: str = ""


class PostingV3(OzonResponse):
    posting_number: str
    order_id: int
    order_number: str
    status: str
    substatus: str | None = None
    in_process_at: OutDatetime
    shipment_date: OutDatetime
    shipment_date_without_delay: OutDatetime
    delivering_date: OptOutDatetime = None
    delivery_method: DeliveryMethodRef
    tpl_integration_type: str = "non_integrated"
    tracking_number: str = ""
    is_express: bool = False
    is_multibox: bool = False
    multi_box_qty: int = 0
    available_actions: list[str] = Field(default_factory=list)
    products: list[PostingProductV3] = Field(default_factory=list)
    requirements: Requirements = Field(default_factory=Requirements)
    tariffication: Tariffication = Field(default_factory=Tariffication)
    cancellation: Cancellation = Field(default_factory=Cancellation)
    customer: dict[str, Any] | None = None
    addressee: dict[str, Any] | None = None
    analytics_data: AnalyticsData | None = None
    barcodes: Barcodes | None = None
    financial_data: FinancialData | None = None
    legal_info: LegalInfo | None = Field(default_factory=LegalInfo)
    parent_posting_number: str = ""
    quantum_id: int = 0
    prr_option: str = ""
    require_blr_traceable_attrs: bool = False


class PostingDetail(PostingV3):
    """``/v3/posting/fbs/get``: the v3 posting plus the get-only keys."""

    products: list[PostingProductDetail] = Field(default_factory=list)  # type: ignore[assignment]
    additional_data: list[dict[str, str]] | None = Field(default_factory=list)
    courier: dict[str, str] | None = None
    delivery_price: str = ""
    provider_status: str = ""
    product_exemplars: dict[str, Any] | None = None
    related_postings: dict[str, list[str]] | None = None
    prr_option: dict[str, Any] | None = None  # type: ignore[assignment]  # an object in get


class PostingListV3Result(OzonResponse):
    postings: list[PostingV3] = Field(default_factory=list)
    has_next: bool = False


class PostingListV3Response(OzonResponse):
    result: PostingListV3Result


class UnfulfilledV3Result(OzonResponse):
    postings: list[PostingV3] = Field(default_factory=list)
    count: int = 0


class UnfulfilledListV3Response(OzonResponse):
    result: UnfulfilledV3Result


class PostingGetResponse(OzonResponse):
    result: PostingDetail


# --- responses: v4 posting (§5.4) ---------------------------------------------------------


class Amount(OzonResponse):
    amount: str = "0"
    currency: str = "RUB"


class PostingProductV4(OzonResponse):
    name: str
    offer_id: str
    sku: int
    quantity: int
    price: Amount
    product_color: str = ""
    weight: float = 0
    imei: list[str] = Field(default_factory=list)
    is_blr_traceable: bool = False
    is_marketplace_buyout: bool = False
    mandatory_mark: list[str] = Field(default_factory=list)


class TarifficationV4(OzonResponse):
    current_tariff_rate: float = 0
    current_tariff_type: str = ""
    current_tariff_charge: Amount = Field(default_factory=Amount)
    current_tariff_min_charge: Amount = Field(default_factory=Amount)
    next_tariff_rate: float = 0
    next_tariff_type: str = ""
    next_tariff_charge: Amount = Field(default_factory=Amount)
    next_tariff_min_charge: Amount = Field(default_factory=Amount)
    next_tariff_starts_at: OptOutDatetime = None


class PostingV4(OzonResponse):
    posting_number: str
    order_id: int
    order_number: str
    status: str
    substatus: str | None = None
    in_process_at: OutDatetime
    shipment_date: OutDatetime
    shipment_date_without_delay: OutDatetime
    delivering_date: OptOutDatetime = None
    delivery_method: DeliveryMethodRef
    tpl_integration_type: str = "non_integrated"
    integration_type_flow: str = "non_integrated"
    tracking_number: str = ""
    is_express: bool = False
    is_multibox: bool = False
    multi_box_qty: int = 0
    available_actions: list[str] = Field(default_factory=list)
    products: list[PostingProductV4] = Field(default_factory=list)
    requirements: Requirements = Field(default_factory=Requirements)
    tariffication: TarifficationV4 = Field(default_factory=TarifficationV4)
    cancellation: Cancellation = Field(default_factory=Cancellation)
    customer: dict[str, Any] | None = None
    addressee: dict[str, Any] | None = None
    analytics_data: AnalyticsData | None = None
    barcodes: Barcodes | None = None
    financial_data: dict[str, Any] | None = None
    legal_info: LegalInfo | None = Field(default_factory=LegalInfo)
    parent_posting_number: str = ""
    delivery_schema: str = "FBS"
    is_presortable: bool = False
    is_click_and_collect: bool = False
    quantum_id: int = 0
    prr_option: str = ""
    scanit: str = ""


class PostingListV4Response(OzonResponse):
    postings: list[PostingV4] = Field(default_factory=list)
    cursor: str = ""
    has_next: bool = False


class UnfulfilledListV4Response(PostingListV4Response):
    count: int = 0


# --- get-by-barcode (§5.6) ----------------------------------------------------------------


class BarcodeProduct(OzonResponse):
    name: str
    offer_id: str
    price: str
    quantity: int
    sku: int


class BarcodePosting(OzonResponse):
    posting_number: str
    order_id: int
    order_number: str
    status: str
    cancel_reason_id: int = 0
    created_at: OutDatetime
    in_process_at: OutDatetime
    shipment_date: OutDatetime
    barcodes: Barcodes
    products: list[BarcodeProduct] = Field(default_factory=list)
    analytics_data: dict[str, Any] | None = None
    financial_data: dict[str, Any] | None = None


class GetByBarcodeResponse(BarcodePosting):
    """The documented ``result`` object, with its keys repeated at the top level."""

    result: BarcodePosting


# --- assembly (§5.7) ------------------------------------------------------------------------


class ShipAdditionalProduct(OzonResponse):
    name: str
    offer_id: str
    price: str
    quantity: int
    sku: int
    currency_code: str = "RUB"
    mandatory_mark: list[str] = Field(default_factory=list)


class ShipAdditionalData(OzonResponse):
    posting_number: str
    products: list[ShipAdditionalProduct] = Field(default_factory=list)


class ShipResponse(OzonResponse):
    result: list[str] = Field(default_factory=list)
    additional_data: list[ShipAdditionalData] = Field(default_factory=list)


class ShipLegacyResponse(OzonResponse):
    result: list[str] = Field(default_factory=list)


class ShipPackageResponse(OzonResponse):
    result: str
