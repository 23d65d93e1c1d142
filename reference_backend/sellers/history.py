"""A seller's past, replayed: a :class:`History` (one the simulator produced, see
``simulator.calibration.simulated_history``) written through the backend's own operations
with back-dated timestamps, so the lists, analytics, returns and stock the Seller API
reports all agree with it.

Events replay in time order: each order is placed (the seller's allocation policy,
reservations, postings; region and lines as the history has them), cancelled by the buyer,
each posting packed (``awaiting_deliver``), handed over and scanned in at the sorting centre
(``delivering``: the units leave the stock), delivered, and returned by the buyer. A backend
posting takes the times of the history's posting from the same warehouse (else of the
order's first). The period's supplier receipts are added to the stock before the replay
(the backend books no back-dated receipt), so it runs short only where the history did; an
order it still refuses for stock is a lost sale and is skipped, as is any step the backend
refuses (e.g. a cancellation after shipment), which it checks before changing anything.
The replay's push notifications are dropped at the end: they are the past, which Ozon does
not announce.

Speed: an order's postings are read once, when it is placed, and kept until delivered, so
packing, hand-over and delivery change them without reading them again
(``benchmarks/history_seeding.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from reference_backend.domain_errors import DomainError, OutOfStock
from reference_backend.orders.service import place_order_in
from reference_backend.postings.buyer import (
    LogisticsEvent,
    cancel_order,
    move_on_logistics_event,
    request_return,
)
from reference_backend.postings.transitions import change_status
from reference_backend.tables import OutboxEvent, Posting, Seller, Stock
from simulator.calibration.history import History, PostingRecord

#: events at the same moment happen in this order
_ORDER, _CANCEL, _PACK, _HANDOVER, _DELIVER, _RETURN = range(6)


@dataclass
class ReplayReport:
    """What the replay wrote."""

    days: float
    orders: int = 0
    lost: int = 0  # refused by the backend for stock
    postings: int = 0
    cancelled: int = 0
    delivered: int = 0
    returns: int = 0
    refused_steps: int = 0
    order_numbers: dict[str, str] = field(default_factory=dict)  # history's -> backend's

    def summary(self) -> str:
        days = f"{self.days:g} day" + "s" * (self.days != 1)
        return (f"history: {days}, {self.orders:,} orders in {self.postings:,} "
                f"postings ({self.cancelled:,} cancelled, {self.delivered:,} delivered, "
                f"{self.returns:,} returns; {self.lost:,} refused for stock)")


def replay_history(session: Session, *, seller_id: int, history: History,
                   progress: Callable[[int, int], None] | None = None) -> ReplayReport:
    """Write ``history`` for the seller (SKU and warehouse ids as the backend's)."""
    for receipt in history.receipts:
        session.execute(update(Stock).where(
            Stock.seller_id == seller_id, Stock.sku == receipt.sku,
            Stock.warehouse_id == receipt.warehouse_id).values(
                present=Stock.present + receipt.units))
    report = _Replay(session, seller_id, history).run(progress)
    session.execute(delete(OutboxEvent).where(OutboxEvent.seller_id == seller_id))
    return report


class _Replay:
    def __init__(self, session: Session, seller_id: int, history: History) -> None:
        self.session, self.seller_id, self.history = session, seller_id, history
        self.report = ReplayReport(days=(history.to - history.since).total_seconds() / 86400)
        self.orders: defaultdict[str, list[PostingRecord]] = defaultdict(list)
        for posting in history.postings:
            self.orders[posting.order_number].append(posting)
        self.backend: dict[str, str] = {}  # history's posting number -> backend's
        self.open: dict[str, Posting] = {}  # backend's posting number -> not yet delivered
        self.seller = session.get(Seller, seller_id)  # held: each order reads it again

    def _events(self) -> list[tuple[datetime, int, str]]:
        """(moment, kind, history's order or posting number) of every event, in order."""
        events = []
        for number, postings in self.orders.items():
            events.append((min(p.in_process_at for p in postings), _ORDER, number))
            cancelled = [p.cancelled_at for p in postings if p.cancelled and p.cancelled_at]
            if cancelled:
                events.append((min(cancelled), _CANCEL, number))
            for p in postings:
                for kind, moment in ((_PACK, p.packed_at), (_HANDOVER, p.delivering_date),
                                     (_DELIVER, p.delivered_at)):
                    if moment is not None and not p.cancelled:
                        events.append((moment, kind, p.posting_number))
        events += [(r.returned_at, _RETURN, r.posting_number) for r in self.history.returns
                   if r.returned_at is not None]
        return sorted(events)

    def run(self, progress: Callable[[int, int], None] | None) -> ReplayReport:
        events = self._events()
        for n, (moment, kind, number) in enumerate(events):
            if kind == _ORDER:
                self._place(number, moment)
            elif kind == _CANCEL:
                backend = self.report.order_numbers.get(number)
                if backend and self._apply(cancel_order, order_number=backend, now=moment):
                    self.report.cancelled += 1
            elif number in self.backend:
                self._posting_event(kind, self.backend[number], moment)
            if progress is not None and n % 500 == 0:
                progress(n, len(events))
        if progress is not None:
            progress(len(events), len(events))
        return self.report

    def _place(self, number: str, now: datetime) -> None:
        postings = self.orders[number]
        lines: dict[int, int] = {}
        for posting in postings:
            for line in posting.lines:
                lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        try:
            with self.session.begin_nested():  # a refusal may come after partial writes
                body = place_order_in(self.session, seller_id=self.seller_id,
                                      region=postings[0].region, lines=list(lines.items()),
                                      now=now)
        except OutOfStock:
            self.report.lost += 1
            return
        self.report.orders += 1
        self.report.postings += len(body["postings"])
        self.report.order_numbers[number] = body["order_number"]
        by_warehouse = {p["warehouse_id"]: p["posting_number"] for p in body["postings"]}
        first = body["postings"][0]["posting_number"]
        for posting in postings:
            self.backend[posting.posting_number] = by_warehouse.get(posting.warehouse_id, first)
        self.open.update((p.posting_number, p) for p in self.session.scalars(
            select(Posting).where(Posting.order_id == body["order_id"])))

    def _posting_event(self, kind: int, number: str, now: datetime) -> None:
        if kind == _RETURN:
            if self._apply(request_return, posting_number=number, seller_id=self.seller_id,
                           now=now):
                self.report.returns += 1
            return
        posting = self.open.get(number)
        if posting is None:
            return
        if kind == _PACK:
            if posting.status == "awaiting_packaging":
                self._apply(change_status, posting, "awaiting_deliver", now=now)
        elif kind == _HANDOVER:
            self._apply(move_on_logistics_event, posting, LogisticsEvent.SORTING_ACCEPTED,
                        now=now)
        elif kind == _DELIVER:
            del self.open[number]
            if self._apply(move_on_logistics_event, posting, LogisticsEvent.DELIVERED, now=now):
                self.report.delivered += 1

    def _apply(self, step: Callable[..., object], *args: object, **kwargs: object) -> bool:
        """``step(session, *args, **kwargs)``; False (nothing changed) when it is refused."""
        try:
            step(self.session, *args, **kwargs)
        except DomainError:
            self.report.refused_steps += 1
            return False
        return True
