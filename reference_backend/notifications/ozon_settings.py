"""Ozon's notification-settings methods (beta, spec §9.5) over the same webhook registry as
``/peakline/v1/webhooks``: ``/v1/notification/set|list|push-type/list|check|enable|update|
delete``. Ozon's own API returns no signing secret; a seller that wants to verify bodies
rotates one at ``/peakline/v1/webhooks/{id}/rotate-secret``. ``check`` never calls the URL
(no requests to arbitrary addresses): it reports the registered endpoint's last outcome.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from reference_backend.auth import DbDep, SellerIdentity, require
from reference_backend.notifications import webhooks
from reference_backend.permissions import Action, RouteGroup
from reference_backend.schemas import Bool, Id64, LooseStr, OutDatetime, OzonRequest
from reference_backend.schemas import OzonResponse as Out
from reference_backend.tables import Webhook, WebhookDelivery, utcnow

router = APIRouter(tags=["Notifications (Ozon beta)"])

Reader = Annotated[SellerIdentity, require(RouteGroup.WEBHOOKS, Action.READ)]
Writer = Annotated[SellerIdentity, require(RouteGroup.WEBHOOKS, Action.WRITE)]


class SetIn(OzonRequest):
    url: LooseStr = Field(min_length=1)
    types: list[LooseStr] = Field(default_factory=list, max_length=100)


class UrlIn(OzonRequest):
    url: LooseStr = Field(min_length=1)


class IdIn(OzonRequest):
    id: Id64


class EnableIn(IdIn):
    enabled: Bool


class UpdateIn(IdIn):
    url: LooseStr | None = None
    types: list[LooseStr] | None = Field(default=None, max_length=100)


class TypeOut(Out):
    type: str
    description: str


class UrlOut(Out):
    id: int
    url: str
    enable: bool
    created_at: OutDatetime
    types: list[TypeOut]


class UrlsOut(Out):
    urls: list[UrlOut]


class EndpointOut(Out):
    id: int
    url: str


class PushTypeOut(TypeOut):
    seller_endpoint: EndpointOut | None


class PushTypesOut(Out):
    types: list[PushTypeOut]


class CheckError(Out):
    type: str
    description: str


class CheckOut(Out):
    is_active: bool
    errors: list[CheckError]


class Empty(Out):
    pass


def _types_of(hook: Webhook) -> list[str]:
    return list(hook.types or webhooks.SENT_TYPES)


def _describe(name: str) -> str:
    return webhooks.SENT_TYPES.get(name, "not sent by this backend")


@router.post("/v1/notification/set", response_model=Empty)
def notification_set(body: SetIn, who: Writer, db: DbDep) -> Empty:
    """Connect a URL for ``types`` (an already connected URL gets the new types)."""
    url, types = webhooks.check_url(body.url), webhooks.check_types(body.types, ozon_names=True)
    with db.session() as session:
        same = session.scalar(
            select(Webhook).where(Webhook.seller_id == who.seller_id, Webhook.url == url)
        )
        if same is not None:
            same.types, same.enabled, same.updated_at = types, True, utcnow()
        else:
            webhooks.register(session, seller_id=who.seller_id, url=url, types=types)
    return Empty()


@router.post("/v1/notification/list", response_model=UrlsOut)
def notification_list(who: Reader, db: DbDep) -> UrlsOut:
    with db.read_session() as session:
        return UrlsOut(urls=[
            UrlOut(id=h.id, url=h.url, enable=h.enabled, created_at=h.created_at,
                   types=[TypeOut(type=t, description=_describe(t)) for t in _types_of(h)])
            for h in webhooks.list_for(session, seller_id=who.seller_id)
        ])


@router.post("/v1/notification/push-type/list", response_model=PushTypesOut)
def push_type_list(who: Reader, db: DbDep) -> PushTypesOut:
    """Every type this backend sends, with the endpoint that receives it (or null)."""
    with db.read_session() as session:
        hooks = [(h.id, h.url, _types_of(h))
                 for h in webhooks.list_for(session, seller_id=who.seller_id) if h.enabled]
    out = []
    for name, description in webhooks.SENT_TYPES.items():
        hook = next((h for h in hooks if name in h[2]), None)
        endpoint = EndpointOut(id=hook[0], url=hook[1]) if hook else None
        out.append(PushTypeOut(type=name, description=description, seller_endpoint=endpoint))
    return PushTypesOut(types=out)


@router.post("/v1/notification/check", response_model=CheckOut)
def notification_check(body: UrlIn, who: Reader, db: DbDep) -> CheckOut:
    """Whether a connected URL answers: its last delivery outcome (no request is made)."""
    with db.read_session() as session:
        hook = session.execute(
            select(Webhook.id, Webhook.enabled)
            .where(Webhook.seller_id == who.seller_id, Webhook.url == body.url)
            .order_by(Webhook.id).limit(1)
        ).first()
        last = None if hook is None else session.execute(
            select(WebhookDelivery.delivered_at, WebhookDelivery.last_status,
                   WebhookDelivery.last_error, WebhookDelivery.updated_at)
            .where(WebhookDelivery.webhook_id == hook[0])
            .order_by(WebhookDelivery.updated_at.desc()).limit(1)
        ).first()
    if hook is None:
        return CheckOut(is_active=False, errors=[CheckError(
            type="REQUEST_ERROR", description="the URL is not connected")])
    if not hook[1]:
        return CheckOut(is_active=False, errors=[CheckError(
            type="REQUEST_ERROR", description="notifications to this URL are disabled")])
    if last is None or last[0] is not None and last[0] >= last[3]:
        return CheckOut(is_active=True, errors=[])
    kind = "STATUS_CODE_NOT_OK" if last[1] else (
        "REQUEST_TIMEOUT" if "Timeout" in (last[2] or "") else "REQUEST_ERROR")
    return CheckOut(is_active=False, errors=[CheckError(type=kind, description=last[2] or "")])


@router.post("/v1/notification/enable", response_model=Empty)
def notification_enable(body: EnableIn, who: Writer, db: DbDep) -> Empty:
    with db.session() as session:
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=body.id)
        hook.enabled, hook.updated_at = body.enabled, utcnow()
    return Empty()


@router.post("/v1/notification/update", response_model=Empty)
def notification_update(body: UpdateIn, who: Writer, db: DbDep) -> Empty:
    with db.session() as session:
        hook = webhooks.get(session, seller_id=who.seller_id, webhook_id=body.id)
        if body.url is not None:
            hook.url = webhooks.check_url(body.url)
        if body.types is not None:
            hook.types = webhooks.check_types(body.types, ozon_names=True)
        hook.updated_at = utcnow()
    return Empty()


@router.post("/v1/notification/delete", response_model=Empty)
def notification_delete(body: IdIn, who: Writer, db: DbDep) -> Empty:
    with db.session() as session:
        session.delete(webhooks.get(session, seller_id=who.seller_id, webhook_id=body.id))
    return Empty()
