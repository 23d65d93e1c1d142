"""Bodies of Peakline's own endpoints (``/marketplace/v1`` and ``/peakline/v1``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

INT64_MAX = 2**63 - 1


def _text_id(value: Any) -> Any:
    """Client ids may come as numbers; they are numeric strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ClientId = Annotated[str, Field(pattern=r"^\d{1,19}$"), BeforeValidator(_text_id)]
Sku = Annotated[int, Field(ge=1, le=INT64_MAX)]
WarehouseId = Annotated[int, Field(ge=1, le=INT64_MAX)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OrderLineIn(Body):
    sku: Sku
    quantity: int = Field(ge=1, le=100_000)


class OrderIn(Body):
    """A buyer order: the seller (client id), the buyer's region and the lines."""

    client_id: ClientId
    region: str = Field(min_length=1, max_length=100, description="scenario region id")
    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)


class ProductOut(BaseModel):
    sku: int
    offer_id: str
    name: str
    quantity: int
    price: str
    currency_code: str


class PostingOut(BaseModel):
    posting_number: str
    warehouse_id: int
    status: str
    shipment_date: str
    products: list[ProductOut]


class OrderOut(BaseModel):
    order_id: int
    order_number: str
    region: str
    created_at: str
    postings: list[PostingOut]


class CancelIn(Body):
    reason: str = Field(default="", max_length=500)


class PostingStateOut(BaseModel):
    posting_number: str
    status: str
    substatus: str


class CancelOut(BaseModel):
    order_number: str
    postings: list[PostingStateOut]


class ReturnLineIn(Body):
    sku: Sku
    quantity: int = Field(ge=1, le=100_000)


class ReturnRequestIn(Body):
    """A buyer's return of a delivered posting: all its units unless ``lines`` are given."""

    lines: list[ReturnLineIn] | None = Field(default=None, max_length=100)
    reason: str = Field(default="", max_length=500)


class ReturnOut(BaseModel):
    id: int
    posting_number: str
    order_number: str
    sku: int
    offer_id: str
    name: str
    quantity: int
    price: str
    currency_code: str
    type: str
    reason: str
    status: str
    warehouse_id: int
    disposition: str | None
    refund_amount: str | None
    exchange_posting_number: str | None
    barcode: str
    created_at: str | None
    processed_at: str | None


class ReturnsOut(BaseModel):
    returns: list[ReturnOut]


class LogisticsEventIn(Body):
    posting_number: str = Field(min_length=1, max_length=40)
    event: Literal["sorting_accepted", "sorting_refused", "delivered"]


class LogisticsEventOut(PostingStateOut):
    event: str


class ErrorOut(BaseModel):
    """Peakline error body."""

    code: str
    message: str
    details: list[dict[str, Any]] = []


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 422, 503)
}


# ----------------------------------------------------------------------------- seller extras


class WarningLevelIn(Body):
    sku: Sku
    warehouse_id: WarehouseId
    warning_level: int = Field(ge=0, le=2**31 - 1, strict=True)  # (not a boolean)


class WarningLevelsIn(Body):
    items: list[WarningLevelIn] = Field(min_length=1, max_length=1000)


class StockLevelOut(BaseModel):
    sku: int
    offer_id: str
    warehouse_id: int
    warehouse_name: str
    present: int
    reserved: int
    available: int
    warning_level: int
    shortfall: int = Field(description="warning_level - available when positive, else 0")


class StockLevelsOut(BaseModel):
    items: list[StockLevelOut]


class ItemResultOut(BaseModel):
    sku: int
    warehouse_id: int
    updated: bool
    errors: list[dict[str, Any]]


class WarningLevelsResultOut(BaseModel):
    result: list[ItemResultOut]


class ReplenishmentItemOut(BaseModel):
    sku: int
    offer_id: str
    warehouse_id: int
    present: int
    reserved: int
    available: int
    on_order: int
    inventory_position: int
    warning_level: int
    mean_daily_demand: float
    sd_daily_demand: float
    suggested_quantity: int


class ReplenishmentOut(BaseModel):
    policy: dict[str, Any]
    history_days: int
    items: list[ReplenishmentItemOut]


class ExchangeIn(Body):
    disposition: Literal["restock", "write_off"] = "restock"


class ExchangeOut(BaseModel):
    returned: ReturnOut
    replacement: OrderOut
