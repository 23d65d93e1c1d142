"""Promotions as the seller sees them (§11) and as the platform runs them.

An action's *candidates* are the seller's products of its SKU groups (all groups when it
names none) not yet in it; its *products* are those the seller joined, each at an action
price no higher than the action's maximum (``price * (1 - discount_value / 100)``) and, with
a ``stock``, for that many units (buyers pay the ordinary price once they are sold). After
the freeze date a product may only get a lower price and more units, and stays in. Per-item
problems are answered as rejections (HTTP 200, §1.5), never by failing the whole call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from reference_backend.domain_errors import Conflict, InvalidInput, NotFound
from reference_backend.promotions import schemas as P
from reference_backend.tables import Action, ActionProduct, DiscountTask, Product, utcnow

ABOVE_MAX = "action price above the action's maximum"
#: A buyer's discount request is open this long; the seller may change a decision until then.
TASK_LIFETIME = timedelta(days=3)


def money(text: str | None) -> float:
    try:
        return float(Decimal(text or "0"))
    except InvalidOperation:
        return 0.0


def decimal_text(value: float) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def max_action_price(action: Action, price: float) -> float:
    """The highest price a product may take in ``action`` (its discount rule)."""
    if action.discount_value > 0:
        return round(price * (1 - action.discount_value / 100), 2)
    return price


def is_frozen(action: Action, now: datetime) -> bool:
    return action.freeze_date is not None and action.freeze_date <= now


# --------------------------------------------------------------------------- actions


def _visible(seller_id: int) -> Any:
    return or_(Action.seller_id.is_(None), Action.seller_id == seller_id)


def get_action(session: Session, *, seller_id: int, action_id: int) -> Action:
    action = session.execute(
        select(Action).where(Action.id == action_id, _visible(seller_id))).scalar_one_or_none()
    if action is None:
        raise NotFound(f"action {action_id} not found", code="ACTION_NOT_FOUND")
    return action


def _eligible(seller_id: int, action: Action) -> Any:
    """Products of the seller that ``action`` may take (a WHERE clause on products)."""
    clause = (Product.seller_id == seller_id) & Product.archived.is_(False)
    if action.sku_groups:
        clause = clause & Product.sku_group.in_(action.sku_groups)
    return clause


def actions(session: Session, *, seller_id: int) -> list[P.Action]:
    """``GET /v1/actions``: every action the seller can see, with its product counts."""
    rows = session.execute(
        select(Action).where(_visible(seller_id)).order_by(Action.date_start, Action.id)
    ).scalars().all()
    joined = dict(session.execute(
        select(ActionProduct.action_id, func.count()).where(ActionProduct.seller_id == seller_id)
        .group_by(ActionProduct.action_id)).tuples().all())
    by_group = dict(session.execute(
        select(Product.sku_group, func.count()).where(
            Product.seller_id == seller_id, Product.archived.is_(False))
        .group_by(Product.sku_group)).tuples().all())
    out = []
    for a in rows:
        groups = a.sku_groups or list(by_group)
        eligible = sum(by_group.get(g, 0) for g in groups)
        taking = joined.get(a.id, 0)
        out.append(P.Action(
            id=a.id, title=a.title, action_type=a.action_type, description=a.description,
            date_start=a.date_start, date_end=a.date_end,
            freeze_date=P.iso_or_empty(a.freeze_date),
            potential_products_count=max(0, eligible - taking),
            participating_products_count=taking, is_participating=taking > 0,
            is_voucher_action=a.is_voucher_action, with_targeting=a.with_targeting,
            order_amount=a.order_amount, discount_type=a.discount_type,
            discount_value=a.discount_value))
    return out


# --------------------------------------------------------------------------- candidates, products


@dataclass(frozen=True)
class ProductRow:
    """A product in a candidates/products page."""

    product_id: int
    price: float
    max_price: float
    action_price: float
    stock: int
    add_mode: str


@dataclass(frozen=True)
class Page:
    rows: list[ProductRow]
    total: int


def _after(last_id: str | None) -> int:
    text = (last_id or "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise InvalidInput("last_id must be the last product id of the previous page",
                           code="INVALID_PAGE")
    return int(text)


def product_page(
    session: Session, *, seller_id: int, action_id: int, joined: bool, limit: int,
    offset: int = 0, last_id: str | None = None,
) -> Page:
    """Candidates (``joined`` False) or products of an action, by product id.

    ``last_id`` pages after a product id; ``offset`` skips rows. Past the end: no rows.
    """
    action = get_action(session, seller_id=seller_id, action_id=action_id)
    query: Select[Any]
    if joined:
        query = (select(Product.product_id, Product.price, ActionProduct.action_price,
                        ActionProduct.stock, ActionProduct.add_mode)
                 .join(ActionProduct, ActionProduct.product_id == Product.product_id)
                 .where(ActionProduct.action_id == action.id,
                        ActionProduct.seller_id == seller_id))
    else:
        taken = select(ActionProduct.product_id).where(ActionProduct.action_id == action.id)
        query = (select(Product.product_id, Product.price)
                 .where(_eligible(seller_id, action), Product.product_id.not_in(taken)))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    query = query.where(Product.product_id > _after(last_id)).order_by(Product.product_id)
    rows = session.execute(query.offset(offset).limit(limit)).all()
    out = []
    for row in rows:
        price = money(row[1])
        out.append(ProductRow(
            product_id=row[0], price=price, max_price=max_action_price(action, price),
            action_price=money(row[2]) if joined else 0.0,
            stock=row[3] if joined else 0, add_mode=row[4] if joined else "NOT_SET"))
    return Page(out, total)


def v1_product(row: ProductRow) -> P.ActionProduct:
    return P.ActionProduct(
        id=row.product_id, price=row.price, action_price=row.action_price,
        max_action_price=row.max_price, add_mode=row.add_mode, stock=row.stock,
        alert_max_action_price=row.max_price,
        alert_max_action_price_failed=row.action_price > row.max_price)


def v2_product(row: ProductRow, currency: str = "RUB") -> P.ActionProductV2:
    def m(value: float) -> P.Money:
        return P.Money(amount=decimal_text(value), currency=currency)

    return P.ActionProductV2(
        id=row.product_id, price=m(row.price), action_price=m(row.action_price),
        max_action_price=m(row.max_price), alert_max_action_price=m(row.max_price),
        alert_max_action_price_failed=row.action_price > row.max_price, add_mode=row.add_mode,
        stock=row.stock)


# --------------------------------------------------------------------------- joining and leaving


@dataclass
class Change:
    """What a join/leave call did: accepted ids, removed ids and per-product rejections."""

    accepted: list[int]
    removed: list[int]
    rejected: list[P.Rejected]


def join(
    session: Session, *, seller_id: int, action_id: int,
    items: Iterable[tuple[int, float, int]], remove_above_max: bool = False,
) -> Change:
    """Add or re-price ``(product_id, action_price, stock)`` items in an action.

    ``remove_above_max`` (the 2026 ``update`` method): a price above the action's maximum
    takes the product out instead of being rejected.
    """
    action = get_action(session, seller_id=seller_id, action_id=action_id)
    now = utcnow()
    change = Change([], [], [])
    items = list(items)
    if action.date_end <= now:
        change.rejected = [P.Rejected(product_id=pid, reason="the action has ended")
                           for pid, _, _ in items]
        return change
    ids = [pid for pid, _, _ in items]
    eligible = dict(session.execute(
        select(Product.product_id, Product.price)
        .where(_eligible(seller_id, action), Product.product_id.in_(ids))).tuples().all())
    present = {ap.product_id: ap for ap in session.execute(
        select(ActionProduct).where(ActionProduct.action_id == action.id,
                                    ActionProduct.product_id.in_(ids))).scalars()}
    frozen = is_frozen(action, now)
    for pid, price, stock in items:
        reason = _join_refusal(action, eligible, present.get(pid), pid, price, stock, frozen)
        if reason.startswith(ABOVE_MAX) and remove_above_max and pid in present and not frozen:
            session.delete(present.pop(pid))
            change.removed.append(pid)
            continue
        if reason:
            change.rejected.append(P.Rejected(product_id=pid, reason=reason))
            continue
        row = present.get(pid)
        if row is None:
            row = present[pid] = ActionProduct(action_id=action.id, seller_id=seller_id,
                                               product_id=pid, add_mode="MANUAL")
            session.add(row)
        row.action_price, row.stock = decimal_text(price), stock
        change.accepted.append(pid)
    session.flush()
    return change


def _join_refusal(action: Action, eligible: dict[int, str], row: ActionProduct | None,
                  pid: int, price: float, stock: int, frozen: bool) -> str:
    if pid not in eligible:
        return "the product is not a candidate of this action"
    if price <= 0:
        return "action_price must be above zero"
    highest = max_action_price(action, money(eligible[pid]))
    if price > highest:
        return f"{ABOVE_MAX} {highest:g}"
    if row is not None and 0 < stock < row.sold:
        return f"stock below the {row.sold} units already sold at the action price"
    if frozen and row is None:
        return "the action is frozen: no new products"
    if frozen and row is not None and (price > money(row.action_price) or stock < row.stock):
        return "the action is frozen: the price may only go down and the stock only up"
    return ""


def leave(session: Session, *, seller_id: int, action_id: int, product_ids: list[int]) -> Change:
    """Take products out of an action (refused per product after the freeze date)."""
    action = get_action(session, seller_id=seller_id, action_id=action_id)
    present = set(session.execute(
        select(ActionProduct.product_id).where(
            ActionProduct.action_id == action.id, ActionProduct.seller_id == seller_id,
            ActionProduct.product_id.in_(product_ids))).scalars())
    change = Change([], [], [])
    frozen = is_frozen(action, utcnow())
    for pid in dict.fromkeys(product_ids):
        if pid not in present:
            change.rejected.append(P.Rejected(product_id=pid,
                                              reason="the product is not in this action"))
        elif frozen:
            change.rejected.append(P.Rejected(
                product_id=pid, reason="the action is frozen: products cannot be removed"))
        else:
            change.removed.append(pid)
    if change.removed:
        session.execute(delete(ActionProduct).where(
            ActionProduct.action_id == action.id, ActionProduct.product_id.in_(change.removed)))
    return change


# --------------------------------------------------------------------------- platform


def create_action(session: Session, *, seller_id: int | None, title: str,
                  date_start: datetime, date_end: datetime, **fields: Any) -> Action:
    """A new platform action (``seller_id`` None: open to every seller)."""
    if date_end <= date_start:
        raise InvalidInput("date_end must be after date_start", code="INVALID_DATES")
    freeze = fields.get("freeze_date")
    if freeze is not None and not date_start <= freeze <= date_end:
        raise InvalidInput("freeze_date must lie between date_start and date_end",
                           code="INVALID_DATES")
    action = Action(seller_id=seller_id, title=title, date_start=date_start, date_end=date_end,
                    **fields)
    session.add(action)
    session.flush()
    return action


def seed_calendar(session: Session, *, seller_id: int, scenario: Any) -> list[Action]:
    """The scenario's promotions (``demand.peaks`` naming ``sku_groups``) as the seller's
    actions: same name, dates, groups and demand multiplier; the seller joins products."""
    # the scenario's clock runs in the platform's zone (clock.time_zone, Moscow by default)
    start = datetime.fromisoformat(scenario.clock.start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=ZoneInfo(scenario.clock.time_zone)).astimezone(UTC)
    out = []
    for peak in scenario.demand.peaks:
        if not peak.sku_groups:
            continue  # a demand peak for everything, not a promotion
        out.append(create_action(
            session, seller_id=seller_id, title=peak.name,
            description=(f"{', '.join(peak.sku_groups)}: demand x{peak.multiplier:g} "
                         f"(scenario {scenario.name})"),
            date_start=start + timedelta(hours=peak.start_hour),
            date_end=start + timedelta(hours=peak.start_hour + peak.duration_hours),
            sku_groups=list(peak.sku_groups), demand_multiplier=float(peak.multiplier)))
    return out


# --------------------------------------------------------------------------- discount requests


def request_discount(
    session: Session, *, seller_id: int, sku: int, requested_price: float, quantity_min: int,
    quantity_max: int, customer_name: str = "", comment: str = "",
) -> DiscountTask:
    """A buyer asks the seller for a lower price on ``sku`` (status ``NEW``)."""
    product = session.execute(select(Product).where(
        Product.seller_id == seller_id, Product.sku == sku)).scalar_one_or_none()
    if product is None:
        raise NotFound(f"SKU {sku} not found for this seller", code="UNKNOWN_SKU")
    price = money(product.price)
    if not 0 < requested_price < price:
        raise InvalidInput(f"requested_price must be above 0 and below the price {price:g}",
                           code="INVALID_PRICE")
    if quantity_max < quantity_min:
        raise InvalidInput("quantity_max must not be below quantity_min")
    now = utcnow()
    task = DiscountTask(
        seller_id=seller_id, product_id=product.product_id, sku=sku, offer_id=product.offer_id,
        status="NEW", customer_name=customer_name, user_comment=comment,
        original_price=product.price, requested_price=decimal_text(requested_price),
        requested_quantity_min=quantity_min, requested_quantity_max=quantity_max,
        created_at=now, end_at=now + TASK_LIFETIME, edited_till=now + TASK_LIFETIME)
    session.add(task)
    session.flush()
    return task


def tasks(session: Session, *, seller_id: int, statuses: tuple[str, ...] | None,
          after_id: int, offset: int, limit: int) -> list[DiscountTask]:
    query = select(DiscountTask).where(DiscountTask.seller_id == seller_id,
                                       DiscountTask.id > after_id)
    if statuses:
        query = query.where(DiscountTask.status.in_(statuses))
    return list(session.execute(
        query.order_by(DiscountTask.id).offset(offset).limit(limit)).scalars())


def mark_seen(session: Session, tasks_read: list[DiscountTask]) -> None:
    """The seller has read these requests: ``NEW`` ones become ``SEEN`` (the list answers
    them as they were when read). Ozon documents the status, not when it is set: our
    reading."""
    ids = [t.id for t in tasks_read if t.status == "NEW"]
    if ids:
        session.execute(update(DiscountTask).where(DiscountTask.id.in_(ids),
                                                   DiscountTask.status == "NEW")
                        .values(status="SEEN"))


#: A decided request the buyer can still buy with (once).
BUYABLE = ("APPROVED", "PARTLY_APPROVED")


def purchase(session: Session, *, task_id: int, region: str, quantity: int) -> dict[str, Any]:
    """The buyer of an approved request orders its SKU at the approved price: within the
    approved quantities, until the request's ``end_at``, once (then ``PURCHASED``).

    The order is placed in this transaction like any other (stock, postings, events); the
    answer is the order's. 404 unknown request; 409 not approved, already bought or expired;
    400 a quantity outside the approved range.
    """
    from reference_backend.orders.service import place_order_in  # (orders import pricing)

    task = session.execute(select(DiscountTask).where(DiscountTask.id == task_id)
                           .with_for_update()).scalar_one_or_none()
    if task is None:
        raise NotFound(f"discount request {task_id} not found", code="DISCOUNT_REQUEST_NOT_FOUND")
    if task.status not in BUYABLE:
        raise Conflict(f"discount request {task_id} is {task.status}: only an approved request "
                       "can be bought with, once", code="DISCOUNT_NOT_APPROVED")
    if task.end_at <= utcnow():
        raise Conflict(f"discount request {task_id} expired at {task.end_at.isoformat()}",
                       code="DISCOUNT_EXPIRED")
    if not task.approved_quantity_min <= quantity <= task.approved_quantity_max:
        raise InvalidInput(f"quantity must be {task.approved_quantity_min}.."
                           f"{task.approved_quantity_max} (the approved quantities)",
                           code="QUANTITY_NOT_APPROVED")
    assert task.approved_price is not None
    body = place_order_in(session, seller_id=task.seller_id, region=region,
                          lines=[(task.sku, quantity)], prices={task.sku: task.approved_price})
    task.status = "PURCHASED"
    session.flush()
    return body


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole > 0 else 0.0


def task_v1(t: DiscountTask) -> P.Task:
    original, requested = money(t.original_price), money(t.requested_price)
    approved = money(t.approved_price)
    return P.Task(
        id=t.id, status=t.status, sku=t.sku, offer_id=t.offer_id,
        customer_name=t.customer_name, user_comment=t.user_comment,
        seller_comment=t.seller_comment, created_at=t.created_at, end_at=t.end_at,
        edited_till=t.edited_till, moderated_at=t.moderated_at, requested_price=requested,
        approved_price=approved, original_price=original, base_price=original,
        discount=round(original - requested, 2), discount_percent=_pct(original - requested,
                                                                       original),
        approved_discount=round(original - approved, 2) if approved else 0.0,
        approved_discount_percent=_pct(original - approved, original) if approved else 0.0,
        requested_price_with_fee=requested, approved_price_with_fee=approved,
        is_purchased=t.status == "PURCHASED",
        requested_quantity_min=t.requested_quantity_min,
        requested_quantity_max=t.requested_quantity_max,
        approved_quantity_min=t.approved_quantity_min,
        approved_quantity_max=t.approved_quantity_max)


def task_v2(t: DiscountTask, name: str, now: datetime) -> P.TaskV2:
    v1 = task_v1(t)
    return P.TaskV2(
        id=t.id, sku=t.sku, name=name, status=t.status, created_at=t.created_at,
        end_at=t.end_at, edited_till=t.edited_till, moderated_at=t.moderated_at,
        edited_till_duration=max(0, int((t.edited_till - now).total_seconds())),
        end_at_duration=max(0, int((t.end_at - now).total_seconds())),
        requested_price=v1.requested_price, requested_discount=v1.discount,
        requested_quantity_max=t.requested_quantity_max, approved_price=v1.approved_price,
        approved_discount=v1.approved_discount, approved_quantity_max=t.approved_quantity_max,
        original_price=v1.original_price)


def decide(
    session: Session, *, seller_id: int, decisions: list[P.ApproveItem | P.DeclineItem],
) -> P.DecisionResult:
    """Approve (``ApproveItem``) or decline tasks in ``NEW``/``SEEN``; failures per task."""
    ids = [d.id for d in decisions]
    found = {t.id: t for t in session.execute(select(DiscountTask).where(
        DiscountTask.seller_id == seller_id, DiscountTask.id.in_(ids))).scalars()}
    now = utcnow()
    result = P.DecisionResult()
    for d in decisions:
        task = found.get(d.id)
        error = _decision_refusal(task, d, now)
        if error:
            result.fail_details.append(P.FailDetail(task_id=d.id, error_for_user=error))
            continue
        assert task is not None
        if isinstance(d, P.ApproveItem):
            partly = (d.approved_quantity_max < task.requested_quantity_max
                      or d.approved_price > money(task.requested_price))
            task.status = "PARTLY_APPROVED" if partly else "APPROVED"
            task.approved_price = decimal_text(d.approved_price)
            task.approved_quantity_min = d.approved_quantity_min
            task.approved_quantity_max = d.approved_quantity_max
        else:
            task.status = "DECLINED"
        task.seller_comment, task.moderated_at = d.seller_comment, now
        result.success_count += 1
    result.fail_count = len(result.fail_details)
    session.flush()
    return result


def _decision_refusal(task: DiscountTask | None, d: P.ApproveItem | P.DeclineItem,
                      now: datetime) -> str:
    if task is None:
        return "discount request not found"
    if task.status not in ("NEW", "SEEN"):
        return f"the request is {task.status}: only NEW or SEEN requests can be decided"
    if task.end_at <= now:
        return "the request has expired"
    if isinstance(d, P.ApproveItem):
        if not 0 < d.approved_price < money(task.original_price):
            return "approved_price must be above 0 and below the product's price"
        if not 1 <= d.approved_quantity_min <= d.approved_quantity_max:
            return "approved quantities must satisfy 1 <= min <= max"
    return ""
