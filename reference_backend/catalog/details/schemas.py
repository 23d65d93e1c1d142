"""Wire shapes of ``/v4/product/info/attributes`` and ``/v5/product/info/prices`` (§16.4-5)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from reference_backend.catalog.schemas import Visibility
from reference_backend.schemas import (
    Count,
    Id64,
    LooseStr,
    OptOutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
    ci_enum_or_blank,
)


def _one_of_list(value: Any) -> Any:
    """``visibility`` as a string or (one client) a one-element array."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError("give one visibility")
        return value[0]
    return value


OneVisibility = Annotated[Visibility, BeforeValidator(_one_of_list)]  # type: ignore[valid-type]


class ProductFilter(OzonRequest):
    offer_id: list[LooseStr] = Field(default_factory=list, max_length=1000)
    product_id: list[Id64] = Field(default_factory=list, max_length=1000)
    sku: list[Id64] = Field(default_factory=list, max_length=1000)
    visibility: OneVisibility = "ALL"


class AttributesRequest(OzonRequest):
    filter: ProductFilter = Field(default_factory=ProductFilter)
    last_id: LooseStr = ""
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000
    sort_by: ci_enum_or_blank("sku", "offer_id", "id", "title") = None  # type: ignore[valid-type]
    sort_dir: ci_enum("asc", "desc") | None = None  # type: ignore[valid-type]


class AttributeValue(OzonResponse):
    dictionary_value_id: int = 0
    value: str = ""


class ComplexValue(AttributeValue):
    dictionaryValueId: int = 0  # noqa: N815 - the spec's spelling, emitted beside the other


class Attribute(OzonResponse):
    id: int
    complex_id: int = 0
    values: list[AttributeValue] = Field(default_factory=list)


class ComplexAttribute(OzonResponse):
    id: int
    complex_id: int = 0
    values: list[ComplexValue] = Field(default_factory=list)


class ModelInfo(OzonResponse):
    model_id: int
    count: int = 1


class AttributesItem(OzonResponse):
    id: int
    offer_id: str
    name: str
    sku: str
    description_category_id: int
    type_id: int
    barcode: str = ""
    barcodes: list[str] = Field(default_factory=list)
    height: int
    depth: int
    width: int
    dimension_unit: str
    weight: int
    weight_unit: str
    images: list[str] = Field(default_factory=list)
    primary_image: str = ""
    color_image: str = ""
    model_info: ModelInfo
    pdf_list: list[Any] = Field(default_factory=list)
    attributes: list[Attribute] = Field(default_factory=list)
    complex_attributes: list[ComplexAttribute] = Field(default_factory=list)
    attributes_with_defaults: list[int] = Field(default_factory=list)


class AttributesResponse(OzonResponse):
    result: list[AttributesItem] = Field(default_factory=list)
    last_id: str
    total: int


class PricesFilter(OzonRequest):
    offer_id: list[LooseStr] = Field(default_factory=list, max_length=1000)
    product_id: list[Id64] = Field(default_factory=list, max_length=1000)
    visibility: OneVisibility = "ALL"


class PricesRequest(OzonRequest):
    filter: PricesFilter
    cursor: LooseStr = ""
    limit: Annotated[Count, Field(ge=1, le=1000)]


class Commissions(OzonResponse):
    fbo_deliv_to_customer_amount: float = 0
    fbo_direct_flow_trans_min_amount: float = 0
    fbo_direct_flow_trans_max_amount: float = 0
    fbo_return_flow_amount: float = 0
    fbs_deliv_to_customer_amount: float
    fbs_direct_flow_trans_min_amount: float
    fbs_direct_flow_trans_max_amount: float
    fbs_first_mile_min_amount: float = 0
    fbs_first_mile_max_amount: float = 0
    fbs_return_flow_amount: float
    sales_percent_fbo: float = 0
    sales_percent_fbs: float
    sales_percent_fbp: float = 0
    sales_percent_rfbs: float


class MarketingActions(OzonResponse):
    actions: list[Any] = Field(default_factory=list)
    current_period_from: OptOutDatetime = None
    current_period_to: OptOutDatetime = None
    ozon_actions_exist: bool = False


class Price(OzonResponse):
    auto_action_enabled: bool = False
    auto_add_to_ozon_actions_list_enabled: bool = False
    currency_code: str
    price: float
    old_price: float
    min_price: float
    marketing_seller_price: float
    net_price: float
    retail_price: float = 0
    vat: float


class IndexData(OzonResponse):
    min_price: float = 0
    min_price_currency: str = "RUB"
    price_index_value: float = 0


class PriceIndexes(OzonResponse):
    color_index: str = "WITHOUT_INDEX"
    external_index_data: IndexData = Field(default_factory=IndexData)
    ozon_index_data: IndexData = Field(default_factory=IndexData)
    self_marketplaces_index_data: IndexData = Field(default_factory=IndexData)


class PriceItem(OzonResponse):
    product_id: int
    offer_id: str
    acquiring: float = 0
    volume_weight: float
    commissions: Commissions
    marketing_actions: MarketingActions = Field(default_factory=MarketingActions)
    price: Price
    price_indexes: PriceIndexes = Field(default_factory=PriceIndexes)


class PricesResponse(OzonResponse):
    items: list[PriceItem] = Field(default_factory=list)
    cursor: str
    total: int
    total_items: int
