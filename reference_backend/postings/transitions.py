"""Posting status changes: every one through ``simulator.lifecycle.check_transition``.

A change locks the posting row, checks the move, applies its stock effect and writes the
push notification to the outbox, all in the caller's transaction:

* to ``delivering`` (units leave the warehouse): the reservation is consumed;
* to ``cancelled`` before shipment: the reservation is released; after shipment the units
  come back as a ``Cancellation`` return (``cancelled_after_ship``);
* to ``not_accepted`` (refused at a sorting centre): the units come back as a return;
* to ``delivered`` from arbitration before shipment: the reservation is consumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend import outbox, payloads
from reference_backend.domain_errors import IllegalStatusChange, InvalidInput, NotFound
from reference_backend.stock import rows as stock
from reference_backend.tables import Posting, PostingItem, Return, utcnow
from simulator.lifecycle import IllegalTransition, PostingStatus, check_transition

S = PostingStatus

#: Default substatus of each status (Ozon push-state names, spec §2.2).
SUBSTATUS: dict[PostingStatus, str] = dict(payloads.PUSH_STATE)


@dataclass(frozen=True)
class CancelReason:
    id: int = 0
    message: str = ""
    cancellation_type: str = "seller"  # seller | client | ozon | system | delivery ...
    initiator: str = "Продавец"


def get_posting(
    session: Session, *, seller_id: int, posting_number: str, lock: bool = False
) -> Posting:
    """The seller's posting by number (locked FOR UPDATE when ``lock``), else NotFound."""
    query = select(Posting).where(
        Posting.posting_number == posting_number.strip(), Posting.seller_id == seller_id
    )
    if lock:
        query = query.with_for_update()
    posting = session.scalar(query)
    if posting is None:
        raise NotFound(f"posting {posting_number} not found", code="POSTING_NOT_FOUND",
                       details=[{"posting_number": posting_number}])
    return posting


def items_of(session: Session, posting_id: int) -> list[PostingItem]:
    return list(session.scalars(
        select(PostingItem).where(PostingItem.posting_id == posting_id).order_by(PostingItem.id)
    ))


def _moves(posting: Posting, items: list[PostingItem]) -> list[tuple[int, int, int]]:
    return [(item.sku, posting.warehouse_id, item.quantity) for item in items if item.quantity]


def _returns_for(session: Session, posting: Posting, items: list[PostingItem], *,
                 kind: str, reason: str, now: datetime) -> None:
    for item in items:
        if item.quantity:
            session.add(Return(
                seller_id=posting.seller_id, posting_id=posting.id,
                posting_number=posting.posting_number, order_id=posting.order_id,
                order_number=posting.order_number, product_id=item.product_id, sku=item.sku,
                offer_id=item.offer_id, name=item.name, quantity=item.quantity, price=item.price,
                currency_code=item.currency_code, type=kind, reason=reason,
                status="MovingToSeller", warehouse_id=posting.warehouse_id,
                created_at=now, status_changed_at=now,
            ))


def change_status(
    session: Session,
    posting: Posting,
    target: PostingStatus | str,
    *,
    substatus: str | None = None,
    reason: CancelReason | None = None,
    now: datetime | None = None,
) -> Posting:
    """Move a (locked) posting to ``target``; raise IllegalStatusChange if not allowed."""
    now = now or utcnow()
    current = S(posting.status)
    try:
        target = check_transition(current, target)
    except (IllegalTransition, ValueError) as exc:
        raise IllegalStatusChange(
            f"posting {posting.posting_number}: cannot change status {current.value} -> "
            f"{target}", details=[{"posting_number": posting.posting_number,
                                   "status": current.value, "target": str(target)}],
        ) from exc
    items = items_of(session, posting.id)
    shipped = posting.shipped_at is not None
    if target is S.DELIVERING or (target is S.DELIVERED and not shipped):
        stock.consume(session, _moves(posting, items))
        posting.shipped_at = now
        posting.delivering_date = posting.delivering_date or now
    if target is S.CANCELLED:
        reason = reason or CancelReason()
        if shipped:
            posting.cancelled_after_ship = True
            _returns_for(session, posting, items, kind="Cancellation",
                         reason=reason.message or "cancelled after shipment", now=now)
        else:
            stock.release(session, _moves(posting, items))
        posting.cancel_reason_id = reason.id
        posting.cancel_reason = reason.message
        posting.cancellation_type = reason.cancellation_type
        posting.cancellation_initiator = reason.initiator
        posting.cancelled_at = now
    if target is S.NOT_ACCEPTED:
        _returns_for(session, posting, items, kind="Cancellation",
                     reason="not accepted at the sorting centre", now=now)
    if target is S.DELIVERED:
        posting.delivered_at = now
    posting.previous_substatus = posting.substatus
    posting.substatus = substatus or SUBSTATUS[target]
    posting.status = target.value
    posting.status_changed_at = now
    payload = payloads.for_transition(
        posting_number=posting.posting_number, old_status=current, new_status=target,
        changed_at=now, warehouse_id=posting.warehouse_id, seller_id=posting.seller_id,
        products=[{"sku": i.sku, "quantity": i.quantity + i.cancelled_quantity} for i in items],
        reason_id=reason.id if reason else 0, reason=reason.message if reason else "",
        new_state=posting.substatus,
    )
    outbox.add_event(session, seller_id=posting.seller_id, payload=payload,
                     posting_number=posting.posting_number, now=now)
    session.flush()
    return posting


def cancel_items(
    session: Session,
    posting: Posting,
    lines: list[tuple[int, int]],
    *,
    reason: CancelReason,
    now: datetime | None = None,
) -> Posting:
    """Cancel some units ``[(sku, quantity)]`` of a posting not yet shipped.

    Releases their reservation; when nothing is left the whole posting is cancelled.
    """
    now = now or utcnow()
    if posting.shipped_at is not None or S(posting.status) not in (
        S.AWAITING_PACKAGING, S.AWAITING_DELIVER
    ):
        raise IllegalStatusChange(
            f"posting {posting.posting_number} in status {posting.status}: items can no longer "
            "be cancelled")
    items = {item.sku: item for item in items_of(session, posting.id)}
    moves = []
    for sku, quantity in lines:
        item = items.get(sku)
        if item is None or quantity <= 0 or quantity > item.quantity:
            raise InvalidInput(f"posting {posting.posting_number} has no {quantity} unit(s) of "
                               f"SKU {sku} to cancel",
                               details=[{"sku": sku, "quantity": quantity}])
        moves.append((sku, posting.warehouse_id, quantity))
    if sum(q for _, q in lines) >= sum(i.quantity for i in items.values()):
        return change_status(session, posting, S.CANCELLED, reason=reason, now=now)
    stock.release(session, moves)
    for sku, quantity in lines:
        items[sku].quantity -= quantity
        items[sku].cancelled_quantity += quantity
    session.flush()
    return posting
