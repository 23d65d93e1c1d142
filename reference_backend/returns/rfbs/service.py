"""Return requests: what a buyer files and how the seller decides, as a small state machine.
Keyword-only functions over a SQLAlchemy session; no HTTP here.

States (Ozon leaves the codes to the server, §13) and the actions each allows::

    NewRequest   --verify(1)--> ItemOnTheWay --receive(3)--> ItemReceived
    NewRequest   --return money(2)--> MoneyReturned        (the buyer keeps the item)
    NewRequest   --compensate(1020)--> Compensated         (part of the price; item kept)
    NewRequest   --reject(-1)--> Rejected
    ItemReceived --return money(2)--> MoneyReturned        (item restocked or written off)
    ItemReceived --reject after the check(-10)--> Rejected (item goes back to the buyer)

Anything else is a :class:`Conflict` (409) and changes nothing. The refund is the posting's
price of the returned units, plus the buyer's shipping (``return_for_back_way``) when the
reason is a defect; a received item goes back to stock, or is written off when defective.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum, StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend.domain_errors import Conflict, IllegalStatusChange, InvalidInput, NotFound
from reference_backend.postings.transitions import items_of
from reference_backend.returns.units import returned_units
from reference_backend.stock import rows as stock
from reference_backend.tables import Posting, ReturnRequest, Warehouse, utcnow
from simulator.lifecycle import PostingStatus


class State(StrEnum):
    NEW = "NewRequest"
    ON_THE_WAY = "ItemOnTheWay"
    RECEIVED = "ItemReceived"
    MONEY_RETURNED = "MoneyReturned"
    COMPENSATED = "Compensated"
    REJECTED = "Rejected"


#: state -> (group_state, state_name, money_return_state_name)
STATE_INFO = {
    State.NEW: ("New", "Новая заявка", ""),
    State.ON_THE_WAY: ("Delivering", "Товар едет к продавцу", ""),
    State.RECEIVED: ("Checkout", "Товар получен, идёт проверка", ""),
    State.MONEY_RETURNED: ("Approved", "Деньги возвращены", "Деньги возвращены"),
    State.COMPENSATED: ("Approved", "Компенсирована часть стоимости", "Компенсация выплачена"),
    State.REJECTED: ("Rejected", "Заявка отклонена", ""),
}
GROUP_STATES = ("All", "New", "Delivering", "Checkout", "Arbitration", "Approved", "Rejected")


class Action(IntEnum):
    """Decision ids of ``available_actions`` (and of ``/v1/returns/rfbs/action/set``)."""

    VERIFY = 1
    RETURN_MONEY = 2
    RECEIVE = 3
    REJECT = -1
    REJECT_AFTER_CHECK = -10
    COMPENSATE = 1020


ACTION_NAMES = {
    Action.VERIFY: "Одобрить и получить товар на проверку",
    Action.RETURN_MONEY: "Вернуть деньги",
    Action.RECEIVE: "Подтвердить получение товара",
    Action.REJECT: "Отклонить",
    Action.REJECT_AFTER_CHECK: "Отклонить после проверки",
    Action.COMPENSATE: "Компенсировать часть стоимости",
}
ALLOWED: dict[State, tuple[Action, ...]] = {
    State.NEW: (Action.VERIFY, Action.RETURN_MONEY, Action.COMPENSATE, Action.REJECT),
    State.ON_THE_WAY: (Action.RECEIVE,),
    State.RECEIVED: (Action.RETURN_MONEY, Action.REJECT_AFTER_CHECK),
}
REJECTIONS = (Action.REJECT, Action.REJECT_AFTER_CHECK)


@dataclass(frozen=True)
class Reason:
    id: int
    name: str
    flag: bool  # a return reason: is it a defect; a rejection reason: is a comment required
    hint: str = ""


RETURN_REASONS = {r.id: r for r in (
    Reason(1, "Брак", True), Reason(2, "Не соответствует описанию", True),
    Reason(3, "Не подошёл", False), Reason(4, "Передумал", False))}
REJECTION_REASONS = {r.id: r for r in (
    Reason(5, "Товар был в употреблении", True, "опишите следы использования"),
    Reason(6, "Дефект не подтвердился", False),
    Reason(7, "Неполная комплектация", True, "перечислите, чего не хватает"),
    Reason(8, "Срок возврата истёк", False))}
RETURN_METHODS = {1: "Почтой России", 2: "Курьером продавца", 3: "Самостоятельно в магазин"}


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def full_price(request: ReturnRequest) -> Decimal:
    return money(Decimal(request.price) * request.quantity)


def available_actions(request: ReturnRequest) -> tuple[Action, ...]:
    return ALLOWED.get(State(request.state), ())


# --------------------------------------------------------------------------- the buyer


def file_request(
    session: Session, *, posting_number: str, sku: int, quantity: int | None = None,
    reason_id: int, comment: str = "", return_method_id: int = 1, now: datetime | None = None,
) -> ReturnRequest:
    """A buyer's request to return ``quantity`` units (all left) of a delivered rFBS posting
    line (409 ``NOT_RFBS`` for a posting of an FBS warehouse)."""
    now = now or utcnow()
    if reason_id not in RETURN_REASONS:
        raise InvalidInput(f"reason_id must be one of {sorted(RETURN_REASONS)}",
                           code="UNKNOWN_REASON")
    if return_method_id not in RETURN_METHODS:
        raise InvalidInput(f"return_method_id must be one of {sorted(RETURN_METHODS)}",
                           code="UNKNOWN_RETURN_METHOD")
    posting = session.scalar(select(Posting).where(Posting.posting_number == posting_number)
                             .with_for_update())
    if posting is None:
        raise NotFound(f"posting {posting_number} not found", code="POSTING_NOT_FOUND")
    if posting.status != PostingStatus.DELIVERED.value:
        raise IllegalStatusChange(
            f"posting {posting_number} is {posting.status}: only delivered postings can be "
            "returned", code="NOT_DELIVERED")
    if not session.scalar(select(Warehouse.is_rfbs).where(
            Warehouse.warehouse_id == posting.warehouse_id)):
        raise IllegalStatusChange(
            f"posting {posting_number} was shipped from an FBS warehouse: return requests are "
            "for rFBS postings (§13); its return goes through Ozon", code="NOT_RFBS")
    item = next((i for i in items_of(session, posting.id) if i.sku == sku), None)
    if item is None:
        raise InvalidInput(f"SKU {sku} is not in posting {posting_number}", code="UNKNOWN_SKU")
    left = item.quantity - returned_units(session, posting.id).get(sku, 0)
    quantity = left if quantity is None else quantity
    if quantity <= 0 or quantity > left:
        raise Conflict(f"only {max(left, 0)} unit(s) of SKU {sku} can still be returned",
                       code="RETURN_EXCEEDS_DELIVERED")
    request = ReturnRequest(
        seller_id=posting.seller_id, posting_id=posting.id, posting_number=posting_number,
        order_number=posting.order_number, warehouse_id=posting.warehouse_id,
        product_id=item.product_id, sku=sku, offer_id=item.offer_id, name=item.name,
        quantity=quantity, price=item.price, currency_code=item.currency_code,
        reason_id=reason_id, return_method_id=return_method_id, comment=comment,
        state=State.NEW.value, created_at=now, updated_at=now)
    session.add(request)
    session.flush()
    return request


def return_number(request: ReturnRequest) -> str:
    return f"{request.posting_number}-R{request.id}"


# --------------------------------------------------------------------------- the seller


def get_request(session: Session, *, seller_id: int, return_id: int,
                lock: bool = False) -> ReturnRequest:
    query = select(ReturnRequest).where(ReturnRequest.id == return_id,
                                        ReturnRequest.seller_id == seller_id)
    request = session.scalar(query.with_for_update() if lock else query)
    if request is None:
        raise NotFound(f"return request {return_id} not found", code="RETURN_NOT_FOUND")
    return request


def list_requests(
    session: Session, *, seller_id: int, last_id: int, limit: int, group_states: list[str],
    since: datetime | None = None, until: datetime | None = None, offer_id: str | None = None,
    posting_number: str | None = None,
) -> list[ReturnRequest]:
    """Requests after ``last_id`` in id order, filtered by group state, date, offer, posting."""
    query = select(ReturnRequest).where(ReturnRequest.seller_id == seller_id,
                                        ReturnRequest.id > last_id)
    groups = {g for g in group_states if g != "All"}
    if groups:
        states = [s.value for s, info in STATE_INFO.items() if info[0] in groups]
        query = query.where(ReturnRequest.state.in_(states))
    if since is not None:
        query = query.where(ReturnRequest.created_at >= since)
    if until is not None:
        query = query.where(ReturnRequest.created_at <= until)
    if offer_id:
        query = query.where(ReturnRequest.offer_id == offer_id)
    if posting_number:
        query = query.where(ReturnRequest.posting_number == posting_number)
    return list(session.scalars(query.order_by(ReturnRequest.id).limit(limit)))


def decide(
    session: Session, *, seller_id: int, return_id: int, action: Action | None = None,
    reject: bool = False, comment: str = "", rejection_reason_id: int | None = None,
    compensation_amount: Decimal | None = None, back_way: Decimal | None = None,
    method_description: str = "", now: datetime | None = None,
) -> ReturnRequest:
    """Perform ``action`` on a request (``reject=True``: whichever rejection the state
    allows, as the v2 reject method means). 409 when the state does not allow it."""
    now = now or utcnow()
    request = get_request(session, seller_id=seller_id, return_id=return_id, lock=True)
    allowed = available_actions(request)
    if reject:
        action = next((a for a in allowed if a in REJECTIONS), Action.REJECT)
    if action not in allowed:
        names = ", ".join(f"{a.value}" for a in allowed) or "none"
        raise Conflict(f"return request {return_id} is {request.state}: action {action} is not "
                       f"available (available: {names})", code="ACTION_NOT_AVAILABLE")
    assert action is not None
    if action is Action.VERIFY:
        request.state = State.ON_THE_WAY.value
        request.return_method_description = method_description
    elif action is Action.RECEIVE:
        request.state = State.RECEIVED.value
    elif action is Action.RETURN_MONEY:
        _return_money(session, request, back_way, now)
    elif action is Action.COMPENSATE:
        _compensate(request, compensation_amount, now)
    else:
        _reject(request, rejection_reason_id, comment, now)
    request.updated_at = now
    session.flush()
    return request


def _return_money(session: Session, request: ReturnRequest, back_way: Decimal | None,
                  now: datetime) -> None:
    defect = RETURN_REASONS[request.reason_id].flag
    if request.state == State.RECEIVED.value:  # the seller keeps the item
        if defect:
            request.disposition = "write_off"
        else:
            stock.receive(session, [(request.sku, request.warehouse_id, request.quantity)])
            request.disposition = "restock"
    request.refund_amount = str(full_price(request))
    request.back_way_amount = str(money(max(back_way or Decimal(0), Decimal(0)))
                                  if defect else Decimal("0.00"))
    request.state = State.MONEY_RETURNED.value
    request.decided_at = now


def _compensate(request: ReturnRequest, amount: Decimal | None, now: datetime) -> None:
    price = full_price(request)
    if amount is None or not Decimal(0) < amount < price:
        raise InvalidInput(f"compensation_amount must be above 0 and below the price {price}",
                           code="INVALID_COMPENSATION")
    request.refund_amount = str(money(amount))
    request.back_way_amount = "0.00"
    request.state = State.COMPENSATED.value
    request.decided_at = now


def _reject(request: ReturnRequest, reason_id: int | None, comment: str, now: datetime) -> None:
    reason = REJECTION_REASONS.get(reason_id or 0)
    if reason is None:
        raise InvalidInput(f"rejection_reason_id must be one of {sorted(REJECTION_REASONS)}",
                           code="UNKNOWN_REJECTION_REASON")
    if reason.flag and not comment.strip():
        raise InvalidInput(f"rejection reason {reason.id} ({reason.name}) needs a comment",
                           code="COMMENT_REQUIRED")
    request.rejection_reason_id = reason.id
    request.rejection_comment = comment
    request.state = State.REJECTED.value
    request.decided_at = now
