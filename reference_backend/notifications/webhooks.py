"""Webhook registrations as keyword-only service functions (no HTTP), shared by the Peakline
router (``/peakline/v1/webhooks``) and the Ozon notification-settings methods
(``/v1/notification/*``). Another seller's webhook is :class:`NotFound`, like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reference_backend import payloads, security
from reference_backend.domain_errors import Conflict, InvalidInput, NotFound
from reference_backend.notifications.config import PushSettings
from reference_backend.notifications.delivery import BadWebhookUrl, check_webhook_url
from reference_backend.outbox import event_row
from reference_backend.payloads import MessageType
from reference_backend.tables import OutboxEvent, Webhook, WebhookDelivery, utcnow

MAX_WEBHOOKS = 10
#: What this backend sends, with the descriptions ``/v1/notification/push-type/list`` shows.
SENT_TYPES: dict[str, str] = {
    MessageType.PING.value: "Проверка соединения (connection check)",
    MessageType.NEW_POSTING.value: "Новое отправление (new posting)",
    MessageType.STATE_CHANGED.value: "Изменение статуса отправления (posting status change)",
    MessageType.POSTING_CANCELLED.value: "Отмена отправления (posting cancelled)",
    MessageType.NEW_MESSAGE.value: "Новое сообщение в чате (new chat message)",
    MessageType.MESSAGE_READ.value: "Сообщение прочитано (chat message read)",
}
#: Other documented Ozon types a client may subscribe to (accepted, never sent here).
OTHER_OZON_TYPES = frozenset({
    "TYPE_CUTOFF_DATE_CHANGED", "TYPE_DELIVERY_DATE_CHANGED", "TYPE_CREATE_OR_UPDATE_ITEM",
    "TYPE_CREATE_ITEM", "TYPE_UPDATE_ITEM", "TYPE_STOCKS_CHANGED", "TYPE_PRICE_INDEX_CHANGED",
    "TYPE_UPDATE_MESSAGE", "TYPE_CHAT_CLOSED",
    "TYPE_DESCRIPTION_CATEGORY_TREE_CHANGED", "TYPE_POSTING_SHIPPED",
})


def check_url(url: str) -> str:
    """A registrable URL or :class:`InvalidInput`."""
    try:
        return check_webhook_url(url, allow_private=PushSettings().allow_private_targets)
    except BadWebhookUrl as exc:
        raise InvalidInput(str(exc), code="BAD_WEBHOOK_URL",
                           details=[{"field": "url", "problem": str(exc)}]) from None


def check_types(types: list[str], *, ozon_names: bool = False) -> list[str]:
    """Normalised, de-duplicated message types; unknown ones are :class:`InvalidInput`."""
    allowed = set(SENT_TYPES) | (OTHER_OZON_TYPES if ozon_names else set())
    wanted = sorted({t.strip().upper() for t in types})
    unknown = [t for t in wanted if t not in allowed]
    if unknown:
        raise InvalidInput(
            f"unknown message types: {', '.join(unknown)}", code="UNKNOWN_MESSAGE_TYPE",
            details=[{"field": "types", "problem": f"allowed: {', '.join(sorted(allowed))}"}],
        )
    return wanted


def get(session: Session, *, seller_id: int, webhook_id: int) -> Webhook:
    hook = session.scalar(
        select(Webhook).where(Webhook.id == webhook_id, Webhook.seller_id == seller_id)
    )
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found", code="WEBHOOK_NOT_FOUND")
    return hook


def list_for(session: Session, *, seller_id: int) -> list[Webhook]:
    return list(session.scalars(
        select(Webhook).where(Webhook.seller_id == seller_id).order_by(Webhook.id)
    ))


def ping(session: Session, *, seller_id: int) -> int:
    """Queue a ``TYPE_PING`` (Ozon sends one when a URL is connected); its event id."""
    now = utcnow()
    event = OutboxEvent(**event_row(seller_id=seller_id, payload=payloads.ping(now),
                                    posting_number=None, now=now))
    session.add(event)
    session.flush()
    return event.id


def rotate_secret(session: Session, *, seller_id: int, webhook_id: int) -> Webhook:
    """A new signing secret (``hook.secret``); the old one stops at once."""
    hook = get(session, seller_id=seller_id, webhook_id=webhook_id)
    hook.secret = security.generate_token()
    hook.updated_at = utcnow()
    return hook


@dataclass(frozen=True)
class DeliveryStats:
    """How deliveries to one webhook went."""

    pending_events: int  # events of the seller not yet delivered
    delivered: int  # events delivered to this URL
    failed_attempts: int
    last_error: str


def delivery_stats(session: Session, hook: Webhook) -> DeliveryStats:
    pending = session.scalar(
        select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.seller_id == hook.seller_id,
            OutboxEvent.delivered_at.is_(None),
        )
    ) or 0
    rows = session.execute(
        select(WebhookDelivery.delivered_at.is_not(None), WebhookDelivery.attempts,
               WebhookDelivery.last_error)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.updated_at.desc())
    ).all()
    ok = sum(1 for done, _, _ in rows if done)
    failed = sum(attempts - (1 if done else 0) for done, attempts, _ in rows)
    error = next((e for _, _, e in rows if e), "")
    return DeliveryStats(int(pending), ok, failed, error)


@dataclass(frozen=True)
class EventOutcome:
    """Where the delivery of one event stands."""

    closed: bool  # delivered to every webhook that wanted it (or none wanted it)
    deliveries: dict[int, WebhookDelivery]  # webhook id -> its record (absent: not tried yet)


def event_outcome(session: Session, *, seller_id: int, event_id: int) -> EventOutcome:
    """The delivery of the seller's event ``event_id`` (e.g. a test ping) to each webhook."""
    event = session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id,
                                                     OutboxEvent.seller_id == seller_id))
    if event is None:
        raise NotFound(f"event {event_id} not found", code="EVENT_NOT_FOUND")
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
    return EventOutcome(event.delivered_at is not None, {row.webhook_id: row for row in rows})


def register(session: Session, *, seller_id: int, url: str, types: list[str]) -> Webhook:
    """A new webhook with a fresh signing secret (``hook.secret``), and a ping queued."""
    count = session.scalar(
        select(func.count()).select_from(Webhook).where(Webhook.seller_id == seller_id)
    )
    if (count or 0) >= MAX_WEBHOOKS:
        raise Conflict(f"a seller has at most {MAX_WEBHOOKS} webhooks", code="TOO_MANY_WEBHOOKS")
    hook = Webhook(seller_id=seller_id, url=url, secret=security.generate_token(), types=types,
                   enabled=True, created_at=utcnow())
    session.add(hook)
    session.flush()
    ping(session, seller_id=seller_id)
    return hook
