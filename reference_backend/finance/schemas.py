"""Wire shapes of the finance reports (§15): amounts are JSON numbers, dates strings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from reference_backend.schemas import (
    Count,
    FlexDatetime,
    LooseStr,
    OzonRequest,
    OzonResponse,
    blank_is_absent,
    ci_enum_or_blank,
)

TRANSACTION_TYPES = ("all", "orders", "returns", "services", "compensation", "transferDelivery",
                     "other")


TransactionType = ci_enum_or_blank(*TRANSACTION_TYPES)
PostingNumber = Annotated[LooseStr | None, BeforeValidator(blank_is_absent)]


class Period(OzonRequest):
    from_: FlexDatetime | None = Field(default=None, alias="from")
    to: FlexDatetime | None = None


class TransactionFilter(OzonRequest):
    date: Period = Field(default_factory=Period)
    operation_type: list[str] = Field(default_factory=list)
    posting_number: PostingNumber = None
    transaction_type: TransactionType = None


class TransactionListRequest(OzonRequest):
    filter: TransactionFilter = Field(default_factory=TransactionFilter)
    page: Annotated[Count, Field(ge=1)]
    page_size: Annotated[Count, Field(ge=1, le=1000)]


class OperationPosting(OzonResponse):
    delivery_schema: str = ""
    order_date: str = ""
    posting_number: str = ""
    warehouse_id: int = 0


class OperationItem(OzonResponse):
    name: str
    sku: int


class OperationService(OzonResponse):
    name: str
    price: float


class Operation(OzonResponse):
    operation_id: int
    operation_type: str
    operation_date: str
    operation_type_name: str
    delivery_charge: float = 0
    return_delivery_charge: float = 0
    accruals_for_sale: float
    sale_commission: float
    amount: float
    type: str
    posting: OperationPosting
    items: list[OperationItem] = Field(default_factory=list)
    services: list[OperationService] = Field(default_factory=list)


class TransactionListResult(OzonResponse):
    operations: list[Operation] = Field(default_factory=list)
    page_count: int = 0
    row_count: int = 0


class TransactionListResponse(OzonResponse):
    result: TransactionListResult


class TotalsRequest(OzonRequest):
    date: Period = Field(default_factory=Period)
    posting_number: PostingNumber = None
    transaction_type: TransactionType = None


class Totals(OzonResponse):
    accruals_for_sale: float = 0
    sale_commission: float = 0
    processing_and_delivery: float = 0
    refunds_and_cancellations: float = 0
    services_amount: float = 0
    compensation_amount: float = 0
    money_transfer: float = 0
    others_amount: float = 0


class TotalsResponse(OzonResponse):
    result: Totals


class RealizationRequest(OzonRequest):
    month: Annotated[Count, Field(ge=1, le=12)]
    year: Annotated[Count, Field(ge=2000, le=9000)]


class RealizationHeader(OzonResponse):
    number: str
    doc_date: str
    start_date: str
    stop_date: str
    contract_number: str
    contract_date: str
    currency_sys_name: str
    payer_inn: str = "7704217370"
    payer_kpp: str = "997750001"
    payer_name: str = 'ООО "Интернет Решения"'
    receiver_inn: str = ""
    receiver_kpp: str = ""
    receiver_name: str


class RealizationItem(OzonResponse):
    name: str
    offer_id: str
    barcode: str = ""
    sku: int


class RealizationSide(OzonResponse):
    """One side of a row: what was sold (``delivery_commission``) or returned."""

    amount: float
    bonus: float = 0
    commission: float
    compensation: float = 0
    price_per_instance: float
    quantity: int
    standard_fee: float
    bank_coinvestment: float = 0
    stars: float = 0
    pick_up_point_coinvestment: float = 0
    total: float


class RealizationRow(OzonResponse):
    rowNumber: int  # noqa: N815 - the wire name (camelCase here, §15.3)
    item: RealizationItem
    commission_ratio: float
    seller_price_per_instance: float
    delivery_commission: RealizationSide | None = None
    return_commission: RealizationSide | None = None


class RealizationResult(OzonResponse):
    header: RealizationHeader
    rows: list[RealizationRow] = Field(default_factory=list)


class RealizationResponse(OzonResponse):
    result: RealizationResult
