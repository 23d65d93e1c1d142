"""Posting lifecycle: the one enum of order/posting states and its allowed transitions.

The simulator's order states and the reference backend's posting statuses are the same
values, named after the Ozon Seller API's FBS posting statuses. Every status change in
either place goes through :func:`check_transition`.
"""

from __future__ import annotations

from enum import StrEnum


class PostingStatus(StrEnum):
    """FBS posting status (Ozon wire values)."""

    AWAITING_PACKAGING = "awaiting_packaging"
    AWAITING_DELIVER = "awaiting_deliver"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    NOT_ACCEPTED = "not_accepted"
    ARBITRATION = "arbitration"


S = PostingStatus

#: Statuses an order can end in; nothing leaves them.
FINAL_STATUSES: frozenset[PostingStatus] = frozenset({S.DELIVERED, S.CANCELLED, S.NOT_ACCEPTED})

#: The one table of legal moves (from -> allowed targets). A dispute (``arbitration``) is
#: opened on a posting handed over for delivery but not yet scanned in at the sorting centre
#: (``awaiting_deliver``), never before assembly; it ends in ``awaiting_deliver`` again
#: (Ozon's awaiting-delivery method), ``delivered`` or ``cancelled`` (Ozon Seller API §2.4).
ALLOWED_TRANSITIONS: dict[PostingStatus, frozenset[PostingStatus]] = {
    S.AWAITING_PACKAGING: frozenset({S.AWAITING_DELIVER, S.CANCELLED}),
    S.AWAITING_DELIVER: frozenset({S.DELIVERING, S.CANCELLED, S.ARBITRATION}),
    S.DELIVERING: frozenset({S.DELIVERED, S.NOT_ACCEPTED}),
    S.ARBITRATION: frozenset({S.AWAITING_DELIVER, S.DELIVERED, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NOT_ACCEPTED: frozenset(),
}

#: Integer codes for columnar (numpy) storage in the simulator; stable order.
STATUS_CODES: dict[PostingStatus, int] = {status: code for code, status in enumerate(PostingStatus)}
STATUS_BY_CODE: tuple[PostingStatus, ...] = tuple(PostingStatus)


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow."""

    def __init__(self, current: PostingStatus | str, target: PostingStatus | str) -> None:
        self.current = PostingStatus(current)
        self.target = PostingStatus(target)
        super().__init__(f"illegal posting transition {self.current.value} -> {self.target.value}")


def is_final(status: PostingStatus | str) -> bool:
    """True when nothing may follow ``status``."""
    return PostingStatus(status) in FINAL_STATUSES


def can_transition(current: PostingStatus | str, target: PostingStatus | str) -> bool:
    """True when ``current -> target`` is a legal move."""
    return PostingStatus(target) in ALLOWED_TRANSITIONS[PostingStatus(current)]


def check_transition(current: PostingStatus | str, target: PostingStatus | str) -> PostingStatus:
    """Return ``target`` as a status if the move is legal, else raise :class:`IllegalTransition`."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    return PostingStatus(target)
