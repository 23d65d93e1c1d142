"""Seller-side FBS status methods: cancel (whole or items), arbitration, awaiting-delivery,
and the rFBS delivery-status updates (tracking number, delivering, last mile, delivered).

Every status change goes through :func:`reference_backend.postings.transitions.change_status`
(and so through ``simulator.lifecycle``). Whole-request methods are all-or-nothing: one
illegal posting raises and the caller's transaction rolls back. The delivery-status methods
answer per posting: each runs in a savepoint and a refused one is reported, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from reference_backend import outbox, payloads
from reference_backend.domain_errors import DomainError, IllegalStatusChange, InvalidInput
from reference_backend.postings import transitions
from reference_backend.postings.service import find_posting
from reference_backend.postings.status import schemas as C
from reference_backend.postings.status.reasons import MESSAGE_REQUIRED
from reference_backend.tables import CancelReason, Posting, utcnow
from simulator.lifecycle import FINAL_STATUSES, PostingStatus

S = PostingStatus
SELLER = "Продавец"


# --------------------------------------------------------------------------- reasons


def all_reasons(session: Session) -> list[CancelReason]:
    return list(session.scalars(select(CancelReason).order_by(CancelReason.id)))


def seller_reasons(session: Session) -> list[CancelReason]:
    return [r for r in all_reasons(session) if r.is_available_for_cancellation]


def _seller_reason(session: Session, reason_id: int, message: str) -> transitions.CancelReason:
    reason = session.get(CancelReason, reason_id)
    if reason is None or not reason.is_available_for_cancellation:
        usable = ", ".join(str(r.id) for r in seller_reasons(session))
        raise InvalidInput(
            f"cancel_reason_id {reason_id} cannot be used by the seller (use one of {usable})",
            code="INVALID_CANCEL_REASON",
        )
    message = message.strip()
    if reason_id in MESSAGE_REQUIRED and not message:
        raise InvalidInput(
            f"cancel_reason_message is required with cancel_reason_id {reason_id}",
            code="CANCEL_REASON_MESSAGE_REQUIRED",
        )
    return transitions.CancelReason(
        id=reason.id, message=message or reason.title, cancellation_type="seller", initiator=SELLER
    )


# --------------------------------------------------------------------------- cancellation


def cancel(session: Session, *, seller_id: int, req: C.CancelRequest) -> None:
    reason = _seller_reason(session, req.cancel_reason_id, req.cancel_reason_message)
    posting = find_posting(session, seller_id, req.posting_number, lock=True)
    if posting.substatus == "posting_conditionally_delivered":
        raise IllegalStatusChange(
            f"posting {posting.posting_number} is conditionally delivered and cannot be cancelled"
        )
    transitions.change_status(session, posting, S.CANCELLED, reason=reason)


def cancel_products(session: Session, *, seller_id: int, req: C.ProductCancelRequest) -> str:
    reason = _seller_reason(session, req.cancel_reason_id, req.cancel_reason_message)
    posting = find_posting(session, seller_id, req.posting_number, lock=True)
    lines: dict[int, int] = {}
    for item in req.items:
        lines[item.sku] = lines.get(item.sku, 0) + item.quantity
    transitions.cancel_items(session, posting, list(lines.items()), reason=reason)
    return posting.posting_number


def reasons_for(
    session: Session, *, seller_id: int, numbers: Sequence[str]
) -> list[C.PostingReasons]:
    """Reasons a seller may use for each posting (none once the posting is final)."""
    usable = seller_reasons(session)
    out = []
    for number in numbers:
        posting = find_posting(session, seller_id, number)
        final = S(posting.status) in FINAL_STATUSES
        out.append(
            C.PostingReasons(
                posting_number=posting.posting_number,
                reasons=[]
                if final
                else [C.ReasonRef(id=r.id, title=r.title, type_id=r.type_id) for r in usable],
            )
        )
    return out


# --------------------------------------------------------------------------- batch moves


def open_disputes(session: Session, *, seller_id: int, numbers: Sequence[str]) -> None:
    """Every posting to ``arbitration`` or none (the lifecycle allows it only for postings
    handed over and not yet scanned in: ``awaiting_deliver``)."""
    for posting in _locked(session, seller_id, numbers):
        transitions.change_status(session, posting, S.ARBITRATION)


def end_disputes(session: Session, *, seller_id: int, numbers: Sequence[str]) -> None:
    """Every disputed posting back to ``awaiting_deliver``, or none: the method moves only
    postings in ``arbitration`` (§2.4, §5.10), so an unassembled one is refused too."""
    postings = _locked(session, seller_id, numbers)
    for posting in postings:
        if posting.status != S.ARBITRATION.value:
            raise IllegalStatusChange(
                f"posting {posting.posting_number} is {posting.status}: only disputed postings "
                "(arbitration) move to awaiting_deliver",
                details=[{"posting_number": posting.posting_number, "status": posting.status}],
            )
    for posting in postings:
        transitions.change_status(session, posting, S.AWAITING_DELIVER)


def _locked(session: Session, seller_id: int, numbers: Sequence[str]) -> list[Posting]:
    return [find_posting(session, seller_id, n, lock=True) for n in dict.fromkeys(numbers)]


# --------------------------------------------------------------------------- rFBS delivery


def _outcomes(
    session: Session, seller_id: int, steps: Iterable[tuple[str, Callable[[Posting], None]]]
) -> list[C.PostingOutcome]:
    """Apply each ``(posting number, step)`` in its own savepoint; a refusal is reported."""
    results = []
    for number, apply in steps:
        try:
            with session.begin_nested():
                apply(find_posting(session, seller_id, number, lock=True))
            results.append(C.PostingOutcome(posting_number=number, result=True))
        except DomainError as exc:
            results.append(C.PostingOutcome(posting_number=number, result=False, error=exc.message))
    return results


def set_delivery_status(
    session: Session, *, seller_id: int, numbers: Sequence[str], step: str
) -> list[C.PostingOutcome]:
    """``delivering`` | ``last-mile`` | ``delivered`` for each posting (per-posting outcome)."""

    def delivering(p: Posting) -> None:
        transitions.change_status(session, p, S.DELIVERING)

    def last_mile(p: Posting) -> None:
        if p.status != S.DELIVERING.value:
            raise IllegalStatusChange(
                f"posting {p.posting_number} is {p.status}: last mile needs status delivering"
            )
        p.previous_substatus = p.substatus
        p.substatus = "posting_in_courier_service"
        p.status_changed_at = utcnow()
        # a push state change without a status change: Ozon notifies it too (spec §9.3)
        outbox.add_event(
            session,
            seller_id=p.seller_id,
            posting_number=p.posting_number,
            now=p.status_changed_at,
            payload=payloads.state_changed(
                posting_number=p.posting_number,
                new_status=S.DELIVERING,
                new_state=p.substatus,
                changed_at=p.status_changed_at,
                warehouse_id=p.warehouse_id,
                seller_id=p.seller_id,
            ),
        )
        session.flush()

    def delivered(p: Posting) -> None:
        transitions.change_status(session, p, S.DELIVERED)

    apply = {"delivering": delivering, "last-mile": last_mile, "delivered": delivered}[step]
    return _outcomes(session, seller_id, [(n, apply) for n in numbers])


def set_tracking_numbers(
    session: Session, *, seller_id: int, pairs: Sequence[C.TrackingNumber]
) -> list[C.PostingOutcome]:
    """Set each posting's tracking number (per-posting outcome; final postings refuse)."""
    steps = [(t.posting_number, partial(_set_tracking, number=t.tracking_number)) for t in pairs]
    return _outcomes(session, seller_id, steps)


def _set_tracking(p: Posting, *, number: str) -> None:
    if S(p.status) in FINAL_STATUSES:
        raise IllegalStatusChange(
            f"posting {p.posting_number} is {p.status}: tracking number can no longer be set"
        )
    p.tracking_number = number.strip()
