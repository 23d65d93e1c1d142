"""What buyers and Ozon's logistics do to postings: cancel, return, sorting and delivery events.

All in the caller's transaction; every status change goes through
:func:`reference_backend.postings.transitions.change_status` (so through the lifecycle).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend import ids
from reference_backend.domain_errors import (
    Conflict,
    IllegalStatusChange,
    InvalidInput,
    NotFound,
)
from reference_backend.postings.transitions import (
    CancelReason,
    change_status,
    items_of,
)
from reference_backend.returns.units import returned_units
from reference_backend.tables import Order, Posting, Return, utcnow
from simulator.lifecycle import PostingStatus

S = PostingStatus
BUYER_CANCEL_REASON_ID = 680  # "Покупатель отменил заказ" (seeded by migration 0001)
NOT_YET_SHIPPED = (S.AWAITING_PACKAGING, S.AWAITING_DELIVER)


class LogisticsEvent(StrEnum):
    """Events a sorting centre or the last mile reports for a posting."""

    SORTING_ACCEPTED = "sorting_accepted"  # scanned in at the sorting centre: in delivery
    SORTING_REFUSED = "sorting_refused"  # refused at the sorting centre: not_accepted
    DELIVERED = "delivered"  # handed to the buyer


def _postings_of_order(session: Session, order_number: str) -> tuple[Order, list[Posting]]:
    order_id = ids.order_id_from_number(order_number)
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None:
        raise NotFound(f"order {order_number} not found", code="ORDER_NOT_FOUND",
                       details=[{"order_number": order_number}])
    postings = list(session.scalars(
        select(Posting).where(Posting.order_id == order.id).order_by(Posting.id).with_for_update()
    ))
    return order, postings


def cancel_order(
    session: Session, *, order_number: str, reason: str = "", now: datetime | None = None
) -> list[Posting]:
    """Buyer cancellation before shipment: every open posting cancelled, reservations released.

    Refused (:class:`Conflict` ``ALREADY_SHIPPED``, nothing changed) when any posting has
    already left the warehouse. Cancelling an already cancelled order is a no-op.
    """
    now = now or utcnow()
    _, postings = _postings_of_order(session, order_number)
    shipped = [p.posting_number for p in postings
               if p.shipped_at is not None or S(p.status) not in (*NOT_YET_SHIPPED, S.CANCELLED)]
    if shipped:
        raise Conflict(
            f"order {order_number} can no longer be cancelled: posting(s) already shipped",
            code="ALREADY_SHIPPED", details=[{"posting_number": n} for n in shipped])
    cause = CancelReason(id=BUYER_CANCEL_REASON_ID, message=reason or "Покупатель отменил заказ",
                         cancellation_type="client", initiator="Покупатель")
    for posting in postings:
        if posting.status != S.CANCELLED.value:
            change_status(session, posting, S.CANCELLED, reason=cause, now=now)
    return postings


def request_return(
    session: Session,
    *,
    posting_number: str,
    lines: list[tuple[int, int]] | None = None,
    reason: str = "",
    seller_id: int | None = None,
    now: datetime | None = None,
) -> list[Return]:
    """A buyer returns delivered units (all of them when ``lines`` is None).

    The posting must be ``delivered`` (:class:`IllegalStatusChange` otherwise), and no more
    units can come back than were delivered, counting those asked back by return requests.
    """
    now = now or utcnow()
    query = select(Posting).where(Posting.posting_number == posting_number).with_for_update()
    if seller_id is not None:
        query = query.where(Posting.seller_id == seller_id)
    posting = session.scalar(query)
    if posting is None:
        raise NotFound(f"posting {posting_number} not found", code="POSTING_NOT_FOUND",
                       details=[{"posting_number": posting_number}])
    if posting.status != S.DELIVERED.value:
        raise IllegalStatusChange(
            f"posting {posting_number} is {posting.status}: only delivered postings can be "
            "returned", code="NOT_DELIVERED",
            details=[{"posting_number": posting_number, "status": posting.status}])
    items = {item.sku: item for item in items_of(session, posting.id)}
    done = returned_units(session, posting.id)  # this route's returns and return requests
    wanted = lines if lines is not None else [
        (sku, item.quantity - done.get(sku, 0)) for sku, item in items.items()]
    wanted = [(sku, q) for sku, q in wanted if q > 0 or lines is not None]
    if not wanted:
        raise Conflict(f"every unit of posting {posting_number} has already been returned",
                       code="ALREADY_RETURNED")
    merged: dict[int, int] = {}
    for sku, quantity in wanted:
        if quantity <= 0:
            raise InvalidInput("return quantities must be positive")
        merged[sku] = merged.get(sku, 0) + quantity
    created = []
    for sku, quantity in merged.items():
        item = items.get(sku)
        if item is None:
            raise InvalidInput(f"SKU {sku} is not in posting {posting_number}",
                               code="UNKNOWN_SKU", details=[{"sku": sku}])
        left = item.quantity - done.get(sku, 0)
        if quantity > left:
            raise Conflict(f"only {left} unit(s) of SKU {sku} can still be returned",
                           code="RETURN_EXCEEDS_DELIVERED",
                           details=[{"sku": sku, "requested": quantity, "returnable": left}])
        row = Return(
            seller_id=posting.seller_id, posting_id=posting.id,
            posting_number=posting.posting_number, order_id=posting.order_id,
            order_number=posting.order_number, product_id=item.product_id, sku=sku,
            offer_id=item.offer_id, name=item.name, quantity=quantity, price=item.price,
            currency_code=item.currency_code, type="ClientReturn", reason=reason,
            status="MovingToSeller", warehouse_id=posting.warehouse_id,
            created_at=now, status_changed_at=now,
        )
        session.add(row)
        created.append(row)
    session.flush()
    for row in created:
        row.barcode = f"RET{row.id:012d}"
    session.flush()
    return created


#: event -> the status moves it makes, in order, from each status it accepts.
_EVENT_MOVES: dict[LogisticsEvent, dict[PostingStatus, tuple[PostingStatus, ...]]] = {
    LogisticsEvent.SORTING_ACCEPTED: {S.AWAITING_DELIVER: (S.DELIVERING,)},
    LogisticsEvent.SORTING_REFUSED: {
        S.AWAITING_DELIVER: (S.DELIVERING, S.NOT_ACCEPTED),
        S.DELIVERING: (S.NOT_ACCEPTED,),
    },
    LogisticsEvent.DELIVERED: {S.DELIVERING: (S.DELIVERED,), S.ARBITRATION: (S.DELIVERED,)},
}
_EVENT_SUBSTATUS = {
    LogisticsEvent.SORTING_ACCEPTED: "posting_on_way_to_city",
    LogisticsEvent.SORTING_REFUSED: "posting_not_in_sort_center",
    LogisticsEvent.DELIVERED: "posting_delivered",
}


def apply_logistics_event(
    session: Session, *, posting_number: str, event: LogisticsEvent | str,
    now: datetime | None = None,
) -> Posting:
    """Move a posting as the sorting centre or last mile reports.

    ``sorting_accepted``: handed over and scanned in (``awaiting_deliver`` -> ``delivering``);
    ``sorting_refused``: refused at the sorting centre (-> ``not_accepted``, via
    ``delivering`` when it was just handed over); ``delivered``: ``delivering`` ->
    ``delivered``. Any other starting status is an :class:`IllegalStatusChange`.
    """
    posting = session.scalar(
        select(Posting).where(Posting.posting_number == posting_number).with_for_update())
    if posting is None:
        raise NotFound(f"posting {posting_number} not found", code="POSTING_NOT_FOUND",
                       details=[{"posting_number": posting_number}])
    return move_on_logistics_event(session, posting, event, now=now)


def move_on_logistics_event(session: Session, posting: Posting, event: LogisticsEvent | str,
                            *, now: datetime | None = None) -> Posting:
    """:func:`apply_logistics_event` for a posting already read (and locked)."""
    event = LogisticsEvent(event)
    moves = _EVENT_MOVES[event].get(S(posting.status))
    if moves is None:
        raise IllegalStatusChange(
            f"event {event.value} does not apply to posting {posting.posting_number} in "
            f"status {posting.status}",
            details=[{"posting_number": posting.posting_number, "status": posting.status,
                      "event": event.value}])
    for target in moves:
        substatus = _EVENT_SUBSTATUS[event] if target is moves[-1] else None
        change_status(session, posting, target, substatus=substatus, now=now or utcnow())
    return posting
