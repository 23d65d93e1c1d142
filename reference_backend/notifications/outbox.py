"""The transactional outbox, as the delivery worker reads and updates it.

Writers (``reference_backend.outbox.add_event``) insert events inside the
transaction that makes the change, so an event exists exactly when its change was
committed. The worker reads *heads* — the oldest
undelivered event of each posting — so a posting's events go out strictly in order, and
records each attempt per (event, webhook) so a retry goes only to targets still missing it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from reference_backend.notifications.delivery import Outcome, RetryPolicy, backoff_delay
from reference_backend.tables import OutboxEvent, Seller, Webhook, WebhookDelivery

NO_TARGET = "no webhook registered for this event"


@dataclass(frozen=True)
class PendingEvent:
    """An undelivered event the worker may send now."""

    id: int
    seller_id: int
    posting_number: str | None
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    client_id: str = ""

    def wire_payload(self) -> dict[str, Any]:
        """The payload as sent: ``seller_id`` is the seller's Ozon id (its ``Client-Id``), a
        number, or a string where the payload has one (chat events, as Ozon's examples)."""
        seller_id = self.payload.get("seller_id")
        if seller_id is not None and self.client_id.isdigit():
            wire = self.client_id if isinstance(seller_id, str) else int(self.client_id)
            return {**self.payload, "seller_id": wire}
        return self.payload


@dataclass(frozen=True)
class Target:
    """A webhook an event still has to reach."""

    webhook_id: int
    url: str
    secret: str


@dataclass(frozen=True)
class AttemptResult:
    event_id: int
    webhook_id: int
    outcome: Outcome


def close_untargeted(session: Session, *, now: datetime) -> int:
    """Close undelivered events of sellers with no enabled webhook (nobody to tell).

    One statement per pass keeps the queue short under load tests, where sellers usually
    register no webhook at all; the closed rows go with the retention purge.
    """
    hooked = select(Webhook.seller_id).where(Webhook.enabled.is_(True))
    result = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.seller_id.not_in(hooked))
        .values(delivered_at=now, last_error=NO_TARGET),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount or 0)


def has_untargeted(session: Session) -> bool:
    """True when :func:`close_untargeted` would close something."""
    hooked = select(Webhook.seller_id).where(Webhook.enabled.is_(True))
    found = session.scalar(
        select(OutboxEvent.id)
        .where(OutboxEvent.delivered_at.is_(None), OutboxEvent.seller_id.not_in(hooked))
        .limit(1)
    )
    return found is not None


def due_heads(session: Session, *, now: datetime, limit: int) -> list[PendingEvent]:
    """Undelivered events that are due and have no undelivered predecessor of their posting."""
    e = OutboxEvent
    earlier = aliased(OutboxEvent)
    blocked = exists().where(
        earlier.posting_number == e.posting_number,
        earlier.delivered_at.is_(None),
        earlier.id < e.id,
    )
    rows = session.execute(
        select(
            e.id, e.seller_id, e.posting_number, e.event_type, e.payload, e.created_at, e.attempts,
            Seller.client_id,
        )
        .join(Seller, Seller.id == e.seller_id)
        .where(e.delivered_at.is_(None), e.next_attempt_at <= now, ~blocked)
        .order_by(e.id)
        .limit(limit)
    ).all()
    return [PendingEvent(*row) for row in rows]


def targets_for(session: Session, events: Sequence[PendingEvent]) -> dict[int, list[Target]]:
    """Per event: enabled webhooks of its seller, registered before it, wanting its type, and
    not yet reached."""
    if not events:
        return {}
    sellers = {ev.seller_id for ev in events}
    hooks = session.execute(
        select(Webhook.id, Webhook.seller_id, Webhook.url, Webhook.secret, Webhook.types,
               Webhook.created_at)
        .where(Webhook.seller_id.in_(sellers), Webhook.enabled.is_(True))
        .order_by(Webhook.id)
    ).all()
    done = set(
        session.execute(
            select(WebhookDelivery.event_id, WebhookDelivery.webhook_id).where(
                WebhookDelivery.event_id.in_([ev.id for ev in events]),
                WebhookDelivery.delivered_at.is_not(None),
            )
        ).tuples()
    )
    out: dict[int, list[Target]] = {}
    for ev in events:
        out[ev.id] = [
            Target(h.id, h.url, h.secret)
            for h in hooks
            if h.seller_id == ev.seller_id
            and h.created_at <= ev.created_at
            and (not h.types or ev.event_type in h.types)
            and (ev.id, h.id) not in done
        ]
    return out


def record_attempts(
    session: Session,
    *,
    events: Iterable[PendingEvent],
    targets: Mapping[int, Sequence[Target]],
    results: Sequence[AttemptResult],
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> list[PendingEvent]:
    """Store one pass's outcomes; return the events that are now fully delivered.

    An event is delivered when every target answered 2xx (now or earlier); an event with
    no target is closed as delivered with :data:`NO_TARGET`. Otherwise its attempt count
    grows and its next attempt waits :func:`backoff_delay`.
    """
    events = list(events)
    by_event: dict[int, list[AttemptResult]] = {}
    for r in results:
        by_event.setdefault(r.event_id, []).append(r)
    event_ids = [ev.id for ev in events]
    live_hooks = set(
        session.scalars(select(Webhook.id).where(Webhook.id.in_({r.webhook_id for r in results})))
    )
    existing = {
        (row.event_id, row.webhook_id): row
        for row in session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids))
        )
    }
    for r in results:
        if r.webhook_id not in live_hooks:
            continue
        row = existing.get((r.event_id, r.webhook_id))
        if row is None:
            row = WebhookDelivery(event_id=r.event_id, webhook_id=r.webhook_id, attempts=0)
            session.add(row)
        row.attempts += 1
        row.last_status = r.outcome.status or 0
        row.last_error = r.outcome.error
        row.updated_at = now
        if r.outcome.delivered:
            row.delivered_at = now

    updates: list[dict[str, Any]] = []
    delivered: list[PendingEvent] = []
    for ev in events:
        mine = by_event.get(ev.id, [])
        if not targets.get(ev.id):
            updates.append({"id": ev.id, "delivered_at": now, "last_error": NO_TARGET})
            continue
        failed = [r for r in mine if not r.outcome.delivered]
        attempts = ev.attempts + 1
        if not failed:
            updates.append({"id": ev.id, "delivered_at": now, "attempts": attempts,
                            "last_error": ""})
            delivered.append(ev)
        else:
            wait = backoff_delay(attempts, policy, rng)
            updates.append({
                "id": ev.id, "attempts": attempts, "last_error": failed[0].outcome.error,
                "next_attempt_at": now + timedelta(seconds=wait),
            })
    if updates:
        session.execute(update(OutboxEvent), updates)
    return delivered


def postpone(session: Session, *, until: Mapping[int, datetime]) -> None:
    """Hold events back until the given times (no attempt counted: a late push fault)."""
    if until:
        session.execute(update(OutboxEvent),
                        [{"id": i, "next_attempt_at": at} for i, at in until.items()])


def pending_count(session: Session) -> int:
    """Queue depth: events not yet delivered."""
    return int(
        session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))
        )
        or 0
    )


def purge_delivered(session: Session, *, before: datetime) -> int:
    """Delete delivered events (and their delivery rows) older than ``before``."""
    old = select(OutboxEvent.id).where(
        OutboxEvent.delivered_at.is_not(None), OutboxEvent.delivered_at < before
    )
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(old)))
    result = session.execute(
        delete(OutboxEvent).where(OutboxEvent.id.in_(old.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount or 0)
