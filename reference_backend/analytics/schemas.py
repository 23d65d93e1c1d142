"""Analytics data and stock on warehouses (§8.1, §8.2)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from reference_backend.schemas import (
    Count,
    FlexDate,
    Id64,
    LooseStr,
    OzonRequest,
    OzonResponse,
    ci_enum,
)

#: Dimensions this server can group by; others are a 400.
#: ``warehouse``, ``status`` (posting status) and ``action`` (the promotion a line sold in,
#: ``0`` for none) are Peakline additions.
DIMENSIONS = (
    "unknownDimension",
    "sku",
    "spu",
    "day",
    "week",
    "month",
    "year",
    "warehouse",
    "status",
    "action",
)
#: Metrics this server computes; the Premium-only ones not modelled answer 0; ``postings``
#: (distinct postings) is a Peakline addition.
METRICS = (
    "revenue",
    "ordered_units",
    "unknown_metric",
    "hits_view_search",
    "hits_view_pdp",
    "hits_view",
    "hits_tocart_search",
    "hits_tocart_pdp",
    "hits_tocart",
    "session_view_search",
    "session_view_pdp",
    "session_view",
    "conv_tocart_search",
    "conv_tocart_pdp",
    "conv_tocart",
    "returns",
    "cancellations",
    "delivered_units",
    "position_category",
    "postings",
)
Dimension = ci_enum(*DIMENSIONS)
Metric = ci_enum(*METRICS)
MAX_METRICS = 14


class AnalyticsFilter(OzonRequest):
    key: str
    op: ci_enum("EQ", "GT", "GTE", "LT", "LTE") = "EQ"  # type: ignore[valid-type]
    value: LooseStr


class AnalyticsSort(OzonRequest):
    key: str
    order: ci_enum("ASC", "DESC") = "ASC"  # type: ignore[valid-type]


class AnalyticsDataRequest(OzonRequest):
    date_from: FlexDate
    date_to: FlexDate
    dimension: list[Dimension] = Field(default_factory=list, max_length=8)  # type: ignore[valid-type]
    metrics: list[Metric] = Field(min_length=1, max_length=MAX_METRICS)  # type: ignore[valid-type]
    filters: list[AnalyticsFilter] = Field(default_factory=list, max_length=50)
    sort: list[AnalyticsSort] = Field(default_factory=list, max_length=20)
    limit: Annotated[Count, Field(ge=1, le=1000)] = 1000
    offset: Count = 0


class DimensionValue(OzonResponse):
    id: str
    name: str


class AnalyticsRow(OzonResponse):
    dimensions: list[DimensionValue] = Field(default_factory=list)
    metrics: list[float] = Field(default_factory=list)


class AnalyticsResult(OzonResponse):
    data: list[AnalyticsRow] = Field(default_factory=list)
    totals: list[float] = Field(default_factory=list)


class AnalyticsDataResponse(OzonResponse):
    result: AnalyticsResult
    timestamp: str


class StockOnWarehousesRequest(OzonRequest):
    limit: Annotated[Count, Field(ge=1, le=1000)] = 100
    offset: Count = 0
    warehouse_type: ci_enum("ALL", "EXPRESS_DARK_STORE", "NOT_EXPRESS_DARK_STORE") = "ALL"  # type: ignore[valid-type]


class StockRow(OzonResponse):
    sku: int
    item_code: str
    item_name: str
    free_to_sell_amount: int
    promised_amount: int
    reserved_amount: int
    warehouse_name: str


class StockRows(OzonResponse):
    rows: list[StockRow] = Field(default_factory=list)


class StockOnWarehousesResponse(OzonResponse):
    result: StockRows


# --- /v1/analytics/stocks (beta replacement of stock_on_warehouses) ------------------------

TurnoverGrade = ci_enum(
    "TURNOVER_GRADE_NONE",
    "DEFICIT",
    "POPULAR",
    "ACTUAL",
    "SURPLUS",
    "NO_SALES",
    "WAS_NO_SALES",
    "RESTRICTED_NO_SALES",
    "COLLECTING_DATA",
    "WAITING_FOR_SUPPLY",
    "WAS_DEFICIT",
    "WAS_POPULAR",
)


class AnalyticsStocksRequest(OzonRequest):
    skus: list[Id64] = Field(min_length=1, max_length=100)
    cluster_ids: list[Id64] = Field(default_factory=list, max_length=100)
    macrolocal_cluster_ids: list[Id64] = Field(default_factory=list, max_length=100)
    warehouse_ids: list[Id64] = Field(default_factory=list, max_length=100)
    item_tags: list[str] = Field(default_factory=list, max_length=20)
    turnover_grades: list[TurnoverGrade] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]


class AnalyticsStocksItem(OzonResponse):
    sku: int
    offer_id: str
    name: str
    warehouse_id: int
    warehouse_name: str
    cluster_id: int = 0
    cluster_name: str = ""
    ads: float = 0
    ads_cluster: float = 0
    idc: float = 0
    idc_cluster: float = 0
    days_without_sales: int = 0
    days_without_sales_cluster: int = 0
    turnover_grade: str = "NO_SALES"
    turnover_grade_cluster: str = "NO_SALES"
    item_tags: list[str] = Field(default_factory=list)
    available_stock_count: int = 0
    valid_stock_count: int = 0
    requested_stock_count: int = 0
    transit_stock_count: int = 0
    excess_stock_count: int = 0
    expiring_stock_count: int = 0
    other_stock_count: int = 0
    return_from_customer_stock_count: int = 0
    return_to_seller_stock_count: int = 0
    stock_defect_stock_count: int = 0
    transit_defect_stock_count: int = 0
    waiting_docs_stock_count: int = 0


class AnalyticsStocksResponse(OzonResponse):
    items: list[AnalyticsStocksItem] = Field(default_factory=list)
