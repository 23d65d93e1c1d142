"""``/peakline/v1/webhooks``: a seller registers push-notification URLs and gets their
signing secrets; plus the app lifespan hook that runs the outbox delivery worker.

Only URLs registered here are ever sent to. A registration answers the signing secret
once (rotate it to get a new one) and queues a ``TYPE_PING``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from reference_backend import security
from reference_backend.accounts.deps import require_person_or_key
from reference_backend.auth import DbDep, SellerIdentity
from reference_backend.faults import PushFaults
from reference_backend.notifications import webhooks
from reference_backend.notifications.config import PushSettings
from reference_backend.notifications.worker import OutboxWorker
from reference_backend.permissions import Action, RouteGroup
from reference_backend.tables import Webhook, utcnow

router = APIRouter(prefix="/peakline/v1/webhooks", tags=["webhooks"])

Reader = Annotated[SellerIdentity, require_person_or_key(RouteGroup.WEBHOOKS, Action.READ)]
Writer = Annotated[SellerIdentity, require_person_or_key(RouteGroup.WEBHOOKS, Action.WRITE)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the delivery worker for the life of the app (unless ``run_outbox_worker`` is off)."""
    if not app.state.settings.run_outbox_worker:
        yield
        return
    worker = OutboxWorker(app.state.db, PushSettings(), registry=app.state.metrics_registry,
                          faults=PushFaults.from_json(app.state.settings.ozon_faults))
    app.state.outbox_worker = worker
    app.state.scrape_time_gauges.append(worker.metrics.queue_depth)
    worker.start()
    try:
        yield
    finally:
        app.state.scrape_time_gauges.remove(worker.metrics.queue_depth)
        await asyncio.shield(worker.stop())


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2000, examples=["https://seller.example/ozon/push"])
    types: list[str] = Field(default_factory=list, description="message types; empty = all")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    types: list[str] | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: int
    url: str
    types: list[str]
    enabled: bool
    created_at: datetime
    pending_events: int = Field(description="events of this seller not yet delivered")
    delivered_attempts: int
    failed_attempts: int
    last_error: str

    @classmethod
    def of(cls, h: Webhook, stats: tuple[int, int, int, str]) -> WebhookOut:
        pending, ok, failed, error = stats
        return cls(id=h.id, url=h.url, types=list(h.types or []), enabled=h.enabled,
                   created_at=h.created_at, pending_events=pending, delivered_attempts=ok,
                   failed_attempts=failed, last_error=error)


class NewWebhookOut(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 signing secret: shown only now")


class WebhooksOut(BaseModel):
    webhooks: list[WebhookOut]
    signature: str = Field(
        default=(
            f"{security.SIGNATURE_HEADER}: sha256=hex(HMAC-SHA256(secret, "
            f"'<{security.EVENT_ID_HEADER}>.<{security.TIMESTAMP_HEADER}>.' + body))"
        )
    )


def _stats(session: Session, hook: Webhook) -> tuple[int, int, int, str]:
    stats = webhooks.delivery_stats(session, hook)
    return stats.pending_events, stats.delivered, stats.failed_attempts, stats.last_error


@router.get("", response_model=WebhooksOut)
def list_webhooks(who: Reader, db: DbDep) -> WebhooksOut:
    with db.read_session() as session:
        hooks = webhooks.list_for(session, seller_id=who.seller_id)
        return WebhooksOut(webhooks=[WebhookOut.of(h, _stats(session, h)) for h in hooks])


@router.post("", response_model=NewWebhookOut, status_code=201)
def register_webhook(body: WebhookIn, who: Writer, db: DbDep) -> NewWebhookOut:
    """Register a URL; the answer carries its signing secret (the only time it is shown)."""
    url, types = webhooks.check_url(body.url), webhooks.check_types(body.types)
    with db.session() as session:
        hook = webhooks.register(session, seller_id=who.seller_id, url=url, types=types)
        return NewWebhookOut(**WebhookOut.of(hook, (0, 0, 0, "")).model_dump(),
                             secret=hook.secret)


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: Id, who: Reader, db: DbDep) -> WebhookOut:
    with db.read_session() as session:
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=webhook_id)
        return WebhookOut.of(hook, _stats(session, hook))


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: Id, body: WebhookPatch, who: Writer, db: DbDep) -> WebhookOut:
    """Change the URL or the message types, or switch delivery off/on (``enabled``; while
    off, events are not kept for this URL, as with Ozon's notification switch)."""
    with db.session() as session:
        # another seller's webhook is a 404 before anything in the body is looked at
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=webhook_id)
        if body.url is not None:
            hook.url = webhooks.check_url(body.url)
        if body.types is not None:
            hook.types = webhooks.check_types(body.types)
        if body.enabled is not None:
            hook.enabled = body.enabled
        hook.updated_at = utcnow()
        return WebhookOut.of(hook, _stats(session, hook))


@router.post("/{webhook_id}/rotate-secret", response_model=NewWebhookOut)
def rotate_secret(webhook_id: Id, who: Writer, db: DbDep) -> NewWebhookOut:
    """A new signing secret; the old one stops at once."""
    with db.session() as session:
        hook = webhooks.rotate_secret(session, seller_id=who.seller_id, webhook_id=webhook_id)
        return NewWebhookOut(**WebhookOut.of(hook, _stats(session, hook)).model_dump(),
                             secret=hook.secret)


@router.post("/{webhook_id}/ping", response_model=WebhookOut, status_code=202)
def ping_webhook(webhook_id: Id, who: Writer, db: DbDep) -> WebhookOut:
    """Queue a ``TYPE_PING`` to the seller's webhooks."""
    with db.session() as session:
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=webhook_id)
        webhooks.ping(session, seller_id=who.seller_id)
        return WebhookOut.of(hook, _stats(session, hook))


@router.delete("/{webhook_id}", response_model=WebhookOut)
def delete_webhook(webhook_id: Id, who: Writer, db: DbDep) -> WebhookOut:
    """Stop sending to this URL and forget it."""
    with db.session() as session:
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=webhook_id)
        out = WebhookOut.of(hook, _stats(session, hook))
        session.delete(hook)
        return out
