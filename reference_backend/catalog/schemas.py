"""Products, prices and stocks (§4)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from reference_backend.schemas import (
    Bool,
    Count,
    Id64,
    Int64,
    LooseStr,
    OptOutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

CURRENCIES = ("RUB", "BYN", "KZT", "EUR", "USD", "CNY")
Currency = ci_enum(*CURRENCIES)
VAT_RATES = tuple(Decimal(v) for v in ("0", "0.05", "0.07", "0.1", "0.2", "0.22"))


def _decimal_text(value: Any) -> Any:
    """A price or rate: a decimal string (a number is accepted too); '' means absent."""
    if isinstance(value, bool):
        raise ValueError("expected a decimal string")
    if isinstance(value, int | float):
        value = repr(value)
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        if text == "":
            return None
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError('expected a decimal number as a string, e.g. "279.00"') from exc
        if not number.is_finite() or number < 0 or number > Decimal("1e12"):
            raise ValueError("must be a finite non-negative amount below 1e12")
        return number
    return value


#: Money/rate in a request: ``"279.00"``, ``"279"``, ``279`` -> Decimal (``""`` -> None).
DecimalText = Annotated[Decimal | None, BeforeValidator(_decimal_text), WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^\s*\+?(?:\d{1,12}(?:[.,]\d*)?|[.,]\d+)?\s*$",
     "description": 'a decimal number, e.g. "279.00" (blank: absent)'},
    {"type": "number", "minimum": 0, "maximum": 1e12}, {"type": "null"}]})]

Visibility = ci_enum(
    "ALL",
    "VISIBLE",
    "INVISIBLE",
    "EMPTY_STOCK",
    "NOT_MODERATED",
    "MODERATED",
    "DISABLED",
    "STATE_FAILED",
    "READY_TO_SUPPLY",
    "VALIDATION_STATE_PENDING",
    "VALIDATION_STATE_FAIL",
    "VALIDATION_STATE_SUCCESS",
    "TO_SUPPLY",
    "IN_SALE",
    "REMOVED_FROM_SALE",
    "BANNED",
    "OVERPRICED",
    "CRITICALLY_OVERPRICED",
    "EMPTY_BARCODE",
    "BARCODE_EXISTS",
    "QUARANTINE",
    "ARCHIVED",
    "OVERPRICED_WITH_STOCK",
    "PARTIAL_APPROVED",
    "AUTO_ARCHIVED",
    "MANUAL_ARCHIVED",
    "SEASONAL_AUTO_ARCHIVED",
    "VISIBLE_WITH_FBO_STOCK",
)

# --- /v3/product/import -----------------------------------------------------------------


class AttributeValue(OzonRequest):
    dictionary_value_id: Int64 = 0
    value: LooseStr = ""


class Attribute(OzonRequest):
    id: Int64 = 0
    complex_id: Int64 = 0
    values: list[AttributeValue] = Field(default_factory=list)


class ComplexAttribute(OzonRequest):
    """``{attributes: [...]}``; a flat attribute ``{id, complex_id, values}`` is wrapped (§4.1)."""

    attributes: list[Attribute] = Field(default_factory=list)


def _wrap_flat_attribute(data: Any) -> Any:
    if isinstance(data, dict) and "attributes" not in data and "id" in data:
        return {"attributes": [data]}
    return data


ComplexAttributeIn = Annotated[ComplexAttribute, BeforeValidator(_wrap_flat_attribute)]


class ImportItem(OzonRequest):
    offer_id: LooseStr = Field(min_length=1, max_length=50)
    name: str = Field(default="", max_length=500)
    description_category_id: Int64 = 0
    new_description_category_id: Int64 | None = None
    type_id: Int64 = 0
    price: DecimalText = None
    old_price: DecimalText = None
    currency_code: Currency = "RUB"  # type: ignore[valid-type]
    vat: DecimalText = None
    depth: Count = 0
    height: Count = 0
    width: Count = 0
    dimension_unit: ci_enum("mm", "cm", "in") = "mm"  # type: ignore[valid-type]
    weight: Count = 0
    weight_unit: ci_enum("g", "kg", "lb") = "g"  # type: ignore[valid-type]
    barcode: LooseStr = ""
    images: list[str] = Field(default_factory=list)
    primary_image: str = ""
    color_image: str = ""
    images360: list[str] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    complex_attributes: list[ComplexAttributeIn] = Field(default_factory=list)
    geo_names: list[str] = Field(default_factory=list)


class ProductImportRequest(OzonRequest):
    items: list[ImportItem] = Field(min_length=1, max_length=100)


class TaskId(OzonResponse):
    task_id: int


class ProductImportResponse(OzonResponse):
    result: TaskId


class ProductImportInfoRequest(OzonRequest):
    task_id: Id64


class ImportError_(OzonResponse):
    code: str = ""
    message: str = ""
    state: str = ""
    level: str = "error"
    description: str = ""
    field: str = ""
    attribute_id: int = 0
    attribute_name: str = ""


class ImportInfoItem(OzonResponse):
    offer_id: str
    product_id: int
    status: str  # pending | imported | failed | skipped
    errors: list[ImportError_] = Field(default_factory=list)


class ImportInfoResult(OzonResponse):
    items: list[ImportInfoItem] = Field(default_factory=list)
    total: int = 0


class ProductImportInfoResponse(OzonResponse):
    result: ImportInfoResult


# --- /v3/product/list -------------------------------------------------------------------


class ProductListFilter(OzonRequest):
    offer_id: list[LooseStr] = Field(default_factory=list, max_length=1000)
    product_id: list[Id64] = Field(default_factory=list, max_length=1000)
    visibility: Visibility = "ALL"  # type: ignore[valid-type]


class ProductListRequest(OzonRequest):
    filter: ProductListFilter = Field(default_factory=ProductListFilter)
    last_id: LooseStr = ""
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000


class Quant(OzonResponse):
    quant_code: str = ""
    quant_size: int = 1


class ProductListItem(OzonResponse):
    product_id: int
    offer_id: str
    archived: bool = False
    has_fbo_stocks: bool = False
    has_fbs_stocks: bool = False
    is_discounted: bool = False
    quants: list[Quant] = Field(default_factory=list)
    sku: int = 0


class ProductListResult(OzonResponse):
    items: list[ProductListItem] = Field(default_factory=list)
    total: int = 0
    last_id: str = ""


class ProductListResponse(OzonResponse):
    result: ProductListResult


# --- /v3/product/info/list (Appendix B) --------------------------------------------------


class ProductInfoListRequest(OzonRequest):
    offer_id: list[LooseStr] = Field(default_factory=list, max_length=1000)
    product_id: list[Id64] = Field(default_factory=list, max_length=1000)
    sku: list[Id64] = Field(default_factory=list, max_length=1000)


class ModelInfo(OzonResponse):
    model_id: int = 0
    count: int = 1


class IndexData(OzonResponse):
    minimal_price: str | None = None
    minimal_price_currency: str | None = None
    price_index_value: float = 0


class PriceIndexes(OzonResponse):
    color_index: str = "COLOR_INDEX_WITHOUT_INDEX"
    external_index_data: IndexData | None = Field(default_factory=IndexData)
    ozon_index_data: IndexData | None = Field(default_factory=IndexData)
    self_marketplaces_index_data: IndexData | None = Field(default_factory=IndexData)


class ProductStatuses(OzonResponse):
    status: str = "price_sent"
    status_failed: str = ""
    moderate_status: str = "approved"
    validation_status: str = "success"
    status_name: str = "Готов к продаже"
    status_description: str = ""
    is_created: bool = True
    status_tooltip: str = ""
    status_updated_at: OptOutDatetime = None


class ProductStockEntry(OzonResponse):
    present: int = 0
    reserved: int = 0
    sku: int = 0
    source: str = "fbs"


class ProductStocks(OzonResponse):
    has_stock: bool = False
    stocks: list[ProductStockEntry] = Field(default_factory=list)


class VisibilityDetails(OzonResponse):
    has_price: bool = True
    has_stock: bool = False


class ProductSource(OzonResponse):
    sku: int = 0
    source: str = "FBS"
    created_at: OptOutDatetime = None
    quant_code: str = ""
    shipment_type: str = "SHIPMENT_TYPE_GENERAL"


class Commission(OzonResponse):
    delivery_amount: float | None = 0
    percent: float = 0
    return_amount: float | None = 0
    sale_schema: str = "FBS"
    value: float = 0
    currency_code: str | None = "RUB"


class ProductInfo(OzonResponse):
    id: int
    name: str
    offer_id: str
    created_at: OptOutDatetime
    updated_at: OptOutDatetime
    is_archived: bool = False
    is_autoarchived: bool = False
    is_discounted: bool = False
    is_kgt: bool = False
    is_super: bool = False
    model_info: ModelInfo = Field(default_factory=ModelInfo)
    price_indexes: PriceIndexes = Field(default_factory=PriceIndexes)
    statuses: ProductStatuses = Field(default_factory=ProductStatuses)
    stocks: ProductStocks = Field(default_factory=ProductStocks)
    visibility_details: VisibilityDetails = Field(default_factory=VisibilityDetails)
    sources: list[ProductSource] | None = Field(default_factory=list)
    barcodes: list[str] | None = Field(default_factory=list)
    images: list[str] | None = Field(default_factory=list)
    images360: list[str] | None = Field(default_factory=list)
    color_image: list[str] | None = Field(default_factory=list)
    primary_image: list[str] | None = Field(default_factory=list)
    commissions: list[Commission] | None = Field(default_factory=list)
    errors: list[dict[str, Any]] | None = Field(default_factory=list)
    price: str | None = None
    old_price: str | None = None
    min_price: str | None = None
    marketing_price: str | None = None
    currency_code: str | None = "RUB"
    vat: str | None = None
    description_category_id: int | None = None
    type_id: int | None = None
    discounted_fbo_stocks: int | None = 0
    has_discounted_fbo_item: bool | None = False
    is_prepayment_allowed: bool | None = True
    volume_weight: float | None = None
    # misplaced top-level keys some clients require (values may be null)
    color_index: str | None = None
    external_index_data: IndexData | None = None
    ozon_index_data: IndexData | None = None
    self_marketplaces_index_data: IndexData | None = None
    quant_code: str | None = None
    shipment_type: str | None = None
    sku: int | None = None
    source: str | None = None
    is_created: bool | None = None
    moderate_status: str | None = None
    status: str | None = None
    status_description: str | None = None
    status_failed: str | None = None
    status_name: str | None = None
    status_tooltip: str | None = None
    status_updated_at: str | None = None
    validation_status: str | None = None


class ProductInfoListResponse(OzonResponse):
    items: list[ProductInfo] = Field(default_factory=list)


# --- /v1/product/import/prices ------------------------------------------------------------

Toggle = ci_enum("ENABLED", "DISABLED", "UNKNOWN")


class PriceItem(OzonRequest):
    offer_id: LooseStr = ""
    product_id: Id64 = 0
    price: DecimalText = None
    old_price: DecimalText = None
    min_price: DecimalText = None
    net_price: DecimalText = None
    currency_code: Currency = "RUB"  # type: ignore[valid-type]
    vat: DecimalText = None
    auto_action_enabled: Toggle = "UNKNOWN"  # type: ignore[valid-type]
    auto_add_to_ozon_actions_list_enabled: Toggle = "UNKNOWN"  # type: ignore[valid-type]
    price_strategy_enabled: Toggle = "UNKNOWN"  # type: ignore[valid-type]
    min_price_for_auto_actions_enabled: Bool = False
    manage_elastic_boosting_through_price: Bool = False
    quant_size: Count = 1


class PricesImportRequest(OzonRequest):
    prices: list[PriceItem] = Field(min_length=1, max_length=1000)


class ItemError(OzonResponse):
    code: str
    message: str


class PriceUpdateResult(OzonResponse):
    product_id: int = 0
    offer_id: str = ""
    updated: bool = False
    errors: list[ItemError] = Field(default_factory=list)


class PricesImportResponse(OzonResponse):
    result: list[PriceUpdateResult] = Field(default_factory=list)


# --- /v2/products/stocks ------------------------------------------------------------------


class StockItem(OzonRequest):
    offer_id: LooseStr = ""
    product_id: Id64 = 0
    stock: Count
    warehouse_id: Id64


class StocksUpdateRequest(OzonRequest):
    stocks: list[StockItem] = Field(min_length=1, max_length=100)


class StockUpdateResult(OzonResponse):
    warehouse_id: int = 0
    product_id: int = 0
    offer_id: str = ""
    updated: bool = False
    errors: list[ItemError] = Field(default_factory=list)


class StocksUpdateResponse(OzonResponse):
    result: list[StockUpdateResult] = Field(default_factory=list)


# --- /v4/product/info/stocks ----------------------------------------------------------------


class WithQuant(OzonRequest):
    created: Bool = False
    exists: Bool = False


class InfoStocksFilter(ProductListFilter):
    with_quant: WithQuant | None = None


class InfoStocksRequest(OzonRequest):
    filter: InfoStocksFilter = Field(default_factory=InfoStocksFilter)
    cursor: str = ""
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000


class InfoStock(OzonResponse):
    type: str = "fbs"
    present: int = 0
    reserved: int = 0
    sku: int = 0
    shipment_type: str = "SHIPMENT_TYPE_GENERAL"
    warehouse_ids: list[int] = Field(default_factory=list)


class InfoStocksItem(OzonResponse):
    offer_id: str
    product_id: int
    stocks: list[InfoStock] = Field(default_factory=list)


class InfoStocksResponse(OzonResponse):
    cursor: str
    total: int
    items: list[InfoStocksItem] = Field(default_factory=list)


# --- stocks by warehouse v1/v2 ------------------------------------------------------------


class StocksByWarehouseV1Request(OzonRequest):
    sku: list[Id64] = Field(default_factory=list, max_length=500)
    offer_id: list[LooseStr] = Field(default_factory=list, max_length=500)


class StocksByWarehouseV2Request(StocksByWarehouseV1Request):
    limit: Annotated[Count, Field(ge=1, le=1000)] = 100
    cursor: str = ""


class WarehouseStockRow(OzonResponse):
    sku: int
    product_id: int
    offer_id: str
    present: int
    reserved: int
    warehouse_id: int
    warehouse_name: str


class WarehouseStockRowV2(WarehouseStockRow):
    free_stock: int


class StocksByWarehouseV1Response(OzonResponse):
    result: list[WarehouseStockRow] = Field(default_factory=list)


class StocksByWarehouseV2Response(OzonResponse):
    products: list[WarehouseStockRowV2] = Field(default_factory=list)
    cursor: str = ""
    has_next: bool = False


VAT_HELP = ", ".join(str(v) for v in VAT_RATES)
