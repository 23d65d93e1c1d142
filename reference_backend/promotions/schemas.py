"""Wire schemas of the promotions methods (§11): actions, their candidates and products,
joining and leaving (v1 and the 2026 methods), buyers' discount requests (v1 and v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field

from reference_backend.schemas import (
    Count,
    Id64,
    LooseStr,
    OptOutDatetime,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    StandardBounds,
    ci_enum,
    iso_utc,
    not_a_boolean,
)

MAX_ITEMS = 1000
#: A money amount in a request: a non-negative number (or a numeric string).
Amount = Annotated[float, BeforeValidator(not_a_boolean), Field(ge=0, le=1e12),
                 StandardBounds()]

# --------------------------------------------------------------------------- actions


class Action(OzonResponse):
    id: int
    title: str
    action_type: str
    description: str
    date_start: OutDatetime
    date_end: OutDatetime
    freeze_date: str  # "" when not frozen
    potential_products_count: int
    participating_products_count: int
    is_participating: bool
    is_voucher_action: bool
    banned_products_count: int = 0
    with_targeting: bool
    order_amount: float
    discount_type: str
    discount_value: float
    auto_add_dates: list[str] = Field(default_factory=list)


class ActionsResponse(OzonResponse):
    result: list[Action]


class ProductsPageRequest(OzonRequest):
    """v1 candidates/products: ``offset`` (what clients send) or ``last_id`` (the docs)."""

    action_id: Id64
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None
    offset: Count | None = None
    last_id: LooseStr | None = None


class ProductsPageV2Request(OzonRequest):
    action_id: Id64
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None
    last_id: LooseStr | None = None


class ActionProduct(OzonResponse):
    id: int
    price: float
    action_price: float
    max_action_price: float
    add_mode: str
    min_stock: int = 0
    stock: int = 0
    alert_max_action_price: float
    alert_max_action_price_failed: bool


class ProductsPage(OzonResponse):
    products: list[ActionProduct]
    total: int
    last_id: int = 0


class ProductsPageResponse(OzonResponse):
    result: ProductsPage


class Money(OzonResponse):
    amount: str
    currency: str


class ActionProductV2(OzonResponse):
    id: int
    price: Money
    action_price: Money
    max_action_price: Money
    alert_max_action_price: Money
    alert_max_action_price_failed: bool
    add_mode: str
    stock: int = 0
    min_stock: int = 0
    recommended_stock: int = 0
    is_quarantined: bool = False


class ProductsPageV2Response(OzonResponse):
    products: list[ActionProductV2]
    total: int
    last_id: str


# --------------------------------------------------------------------------- joining and leaving


class ActivateItem(OzonRequest):
    product_id: Id64
    action_price: Amount
    stock: Count = 0


class ActivateRequest(OzonRequest):
    action_id: Id64
    products: list[ActivateItem] = Field(min_length=1, max_length=MAX_ITEMS)


class DeactivateRequest(OzonRequest):
    action_id: Id64
    product_ids: list[Id64] = Field(min_length=1, max_length=MAX_ITEMS)


class Rejected(OzonResponse):
    product_id: int
    reason: str


class ChangeResult(OzonResponse):
    product_ids: list[int] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)


class ChangeResponse(OzonResponse):
    result: ChangeResult


class MoneyIn(OzonRequest):
    amount: Annotated[float, Field(ge=0, le=1e12)]
    currency: str = "RUB"


class UpdateItem(OzonRequest):
    product_id: Id64
    action_price: MoneyIn
    stock: Count = 0


class UpdateRequest(OzonRequest):
    action_id: Id64
    products: list[UpdateItem] = Field(min_length=1, max_length=MAX_ITEMS)


class UpdateResponse(OzonResponse):
    active_product_ids: list[str] = Field(default_factory=list)
    deactivated_product_ids: list[str] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    warnings: list[Rejected] = Field(default_factory=list)


class DeactivateV2Response(OzonResponse):
    product_ids: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- discount requests

TASK_STATUSES = ("NEW", "SEEN", "APPROVED", "PARTLY_APPROVED", "DECLINED", "AUTO_DECLINED",
                 "DECLINED_BY_USER", "COUPON", "PURCHASED")
MAX_TASKS_LIMIT = 50


class TasksRequest(OzonRequest):
    """v1: ``UNKNOWN`` (the docs' default, sent by some clients) means every status."""

    status: ci_enum("UNKNOWN", *TASK_STATUSES) = "UNKNOWN"  # type: ignore[valid-type]
    page: Count = 1
    limit: Annotated[Count, Field(ge=1, le=1000)] = MAX_TASKS_LIMIT


class TasksV2Request(OzonRequest):
    status: ci_enum("ALL", "NEW", "APPROVED", "DECLINED") = "ALL"  # type: ignore[valid-type]
    limit: Count = MAX_TASKS_LIMIT
    last_id: Id64 = 0


class Task(OzonResponse):
    id: int
    status: str
    sku: int
    offer_id: str
    customer_name: str
    user_comment: str
    seller_comment: str
    created_at: OptOutDatetime
    end_at: OptOutDatetime
    edited_till: OptOutDatetime
    moderated_at: OptOutDatetime
    requested_price: float
    approved_price: float
    original_price: float
    base_price: float
    min_auto_price: float = 0
    discount: float
    discount_percent: float
    approved_discount: float
    approved_discount_percent: float
    requested_price_with_fee: float
    approved_price_with_fee: float
    approved_price_fee_percent: float = 0
    prev_task_id: int = 0
    requested_quantity_min: int
    requested_quantity_max: int
    approved_quantity_min: int
    approved_quantity_max: int
    is_damaged: bool = False
    is_purchased: bool = False
    is_auto_moderated: bool = False
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    patronymic: str = ""


class TasksResponse(OzonResponse):
    result: list[Task]


class TaskV2(OzonResponse):
    id: int
    sku: int
    name: str
    status: str
    created_at: OptOutDatetime
    end_at: OptOutDatetime
    edited_till: OptOutDatetime
    moderated_at: OptOutDatetime
    edited_till_duration: int
    end_at_duration: int
    requested_price: float
    requested_discount: float
    requested_quantity_max: int
    approved_price: float
    approved_discount: float
    approved_quantity_max: int
    original_price: float
    min_auto_price: float = 0
    reduction_factor: float = 0
    is_auto_moderated: bool = False
    first_name: str = ""
    last_name: str = ""
    patronymic: str = ""


class TasksV2Response(OzonResponse):
    tasks: list[TaskV2]


class ApproveItem(OzonRequest):
    id: Id64
    approved_price: Amount
    approved_quantity_min: Count
    approved_quantity_max: Count
    seller_comment: Annotated[str, Field(max_length=1000)] = ""


class ApproveRequest(OzonRequest):
    tasks: list[ApproveItem] = Field(min_length=1, max_length=MAX_ITEMS)


class DeclineItem(OzonRequest):
    """Some clients send the approve fields too: ignored."""

    id: Id64
    seller_comment: Annotated[str, Field(max_length=1000)] = ""


class DeclineRequest(OzonRequest):
    tasks: list[DeclineItem] = Field(min_length=1, max_length=MAX_ITEMS)


class FailDetail(OzonResponse):
    task_id: int
    error_for_user: str


class DecisionResult(OzonResponse):
    success_count: int = 0
    fail_count: int = 0
    fail_details: list[FailDetail] = Field(default_factory=list)


class DecisionResponse(OzonResponse):
    result: DecisionResult


def iso_or_empty(at: datetime | None) -> str:
    """A response datetime, or ``""`` (Ozon's "not set" for ``freeze_date``)."""
    return iso_utc(at) or ""
