"""``/marketplace/v1``: the platform runs promotions and passes on buyers' discount requests.

Platform key (``Authorization: Bearer``). An action names a seller (``client_id``) or none
(open to every seller); its ``sku_groups`` (none: all) say which products may join it.
``GET /actions`` answers with the promotion calendar as the simulator describes it (groups
and demand multiplier), for calibration. A buyer whose discount request the seller approved
orders at the approved price through ``/discount-requests/{id}/orders``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from reference_backend.auth import DbDep, PlatformAuth
from reference_backend.domain_errors import NotFound
from reference_backend.marketplace.schemas import ERRORS, Body, ClientId, OrderOut, Sku
from reference_backend.promotions import service
from reference_backend.schemas import FlexDatetime, iso_utc
from reference_backend.tables import Action, Seller

router = APIRouter(prefix="/marketplace/v1", tags=["marketplace"], responses=ERRORS)

Text = Annotated[str, Field(max_length=1000)]


class ActionIn(Body):
    """A promotion: its dates and its discount rule (at most ``discount_value`` % off)."""

    title: str = Field(min_length=1, max_length=300)
    description: Text = ""
    client_id: ClientId | None = Field(default=None, description="one seller's; none: all")
    date_start: FlexDatetime
    date_end: FlexDatetime
    freeze_date: FlexDatetime | None = None
    action_type: str = Field(default="DISCOUNT", max_length=40)
    discount_type: str = Field(default="PERCENT", max_length=40)
    discount_value: float = Field(default=0, ge=0, lt=100)
    order_amount: float = Field(default=0, ge=0)
    is_voucher_action: bool = False
    with_targeting: bool = False
    sku_groups: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list,
                                                                    max_length=100)
    demand_multiplier: float = Field(default=1.0, gt=0, le=1000)


class ActionOut(BaseModel):
    id: int
    client_id: str | None
    title: str
    description: str
    date_start: str
    date_end: str
    freeze_date: str | None
    action_type: str
    discount_type: str
    discount_value: float
    sku_groups: list[str]
    demand_multiplier: float


class ActionsOut(BaseModel):
    actions: list[ActionOut]


class DiscountRequestIn(Body):
    """A buyer asks for a lower price on a seller's SKU."""

    client_id: ClientId
    sku: Sku
    requested_price: float = Field(gt=0, le=1e12)
    quantity_min: int = Field(default=1, ge=1, le=100_000)
    quantity_max: int = Field(default=1, ge=1, le=100_000)
    customer_name: str = Field(default="", max_length=200)
    comment: Text = ""


class DiscountRequestOut(BaseModel):
    id: int
    status: str
    sku: int
    requested_price: str


class DiscountOrderIn(Body):
    """The buyer's order at the approved price: the region and how many units."""

    region: str = Field(min_length=1, max_length=100, description="scenario region id")
    quantity: int = Field(ge=1, le=100_000)


def _seller_id(session: Session, client_id: str) -> int:
    seller_id = session.execute(
        select(Seller.id).where(Seller.client_id == client_id)).scalar_one_or_none()
    if seller_id is None:
        raise NotFound(f"seller with client_id {client_id} not found", code="SELLER_NOT_FOUND")
    return seller_id


def _view(action: Action, client_id: str | None) -> ActionOut:
    def at(value: datetime | None) -> str | None:
        return iso_utc(value)

    return ActionOut(
        id=action.id, client_id=client_id, title=action.title, description=action.description,
        date_start=at(action.date_start) or "", date_end=at(action.date_end) or "",
        freeze_date=at(action.freeze_date), action_type=action.action_type,
        discount_type=action.discount_type, discount_value=action.discount_value,
        sku_groups=list(action.sku_groups), demand_multiplier=action.demand_multiplier)


@router.post("/actions", status_code=201, response_model=ActionOut)
def create_action(body: ActionIn, platform: PlatformAuth, db: DbDep) -> ActionOut:
    """Create a promotion (for one seller, or open to all)."""
    fields = body.model_dump(exclude={"client_id", "title", "date_start", "date_end"})
    with db.session() as session:
        seller_id = _seller_id(session, body.client_id) if body.client_id else None
        action = service.create_action(session, seller_id=seller_id, title=body.title,
                                       date_start=body.date_start, date_end=body.date_end,
                                       **fields)
        return _view(action, body.client_id)


@router.get("/actions", response_model=ActionsOut)
def list_actions(
    platform: PlatformAuth, db: DbDep,
    client_id: Annotated[str | None, Query(pattern=r"^\d{1,19}$")] = None,
) -> ActionsOut:
    """The promotion calendar: every action, or those a seller (``client_id``) can join."""
    with db.read_session() as session:
        query = select(Action, Seller.client_id).outerjoin(Seller, Seller.id == Action.seller_id)
        if client_id:
            seller_id = _seller_id(session, client_id)
            query = query.where(or_(Action.seller_id.is_(None), Action.seller_id == seller_id))
        rows = session.execute(query.order_by(Action.date_start, Action.id)).all()
        return ActionsOut(actions=[_view(a, c) for a, c in rows])


@router.post("/discount-requests", status_code=201, response_model=DiscountRequestOut)
def request_discount(body: DiscountRequestIn, platform: PlatformAuth, db: DbDep
                     ) -> DiscountRequestOut:
    """A buyer's discount request; the seller approves or declines it (``NEW``)."""
    with db.session() as session:
        task = service.request_discount(
            session, seller_id=_seller_id(session, body.client_id), sku=body.sku,
            requested_price=body.requested_price, quantity_min=body.quantity_min,
            quantity_max=body.quantity_max, customer_name=body.customer_name,
            comment=body.comment)
        return DiscountRequestOut(id=task.id, status=task.status, sku=task.sku,
                                  requested_price=task.requested_price)


@router.post("/discount-requests/{request_id}/orders", status_code=201,
             response_model=OrderOut)
def order_at_approved_price(
    request_id: Annotated[int, Path(ge=1, le=2**63 - 1)], body: DiscountOrderIn,
    platform: PlatformAuth, db: DbDep,
) -> dict:
    """The request's buyer orders its SKU at the approved price (the approved quantities,
    until ``end_at``, once); the answer is the order, as ``/orders`` answers it."""
    with db.session() as session:
        return service.purchase(session, task_id=request_id, region=body.region,
                                quantity=body.quantity)
