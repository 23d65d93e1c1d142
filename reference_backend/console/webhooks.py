"""The owner's push webhooks: register a URL (its signing secret shown once), rotate the
secret (the new one shown once), send a test ping and watch its delivery, remove. Every
action calls the service of the matching ``/peakline/v1/webhooks`` route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.console.refusals import refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import database, flash, person, redirect, render, translate
from reference_backend.domain_errors import DomainError
from reference_backend.notifications import webhooks
from reference_backend.permissions import Action, RouteGroup

pages = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
#: While a test ping waits for its first attempt the page reloads itself (no script):
#: every REFRESH_S seconds, at most REFRESH_TIMES times.
REFRESH_S, REFRESH_TIMES = 2, 15


def _webhooks_page(request: Request, *, status: int = 200, ping: int | None = None,
                   waited: int = 0, **extra: object) -> Response:
    caller = person(request, RouteGroup.WEBHOOKS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        hooks = webhooks.list_for(session, seller_id=seller_id)
        stats = {h.id: webhooks.delivery_stats(session, h) for h in hooks}
        outcome = (webhooks.event_outcome(session, seller_id=seller_id, event_id=ping)
                   if ping else None)
    waiting = outcome is not None and not outcome.closed and any(
        h.enabled and h.id not in outcome.deliveries for h in hooks)
    refresh = waiting and waited < REFRESH_TIMES
    return render(request, "webhooks.html", {
        "hooks": hooks, "stats": stats, "ping": ping, "outcome": outcome, "waiting": waiting,
        "refresh": f"{REFRESH_S}; url=?ping={ping}&waited={waited + 1}" if refresh else "",
        **extra}, status=status)


@pages.get("/webhooks")
def webhooks_page(request: Request, ping: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                  waited: Annotated[int, Query(ge=0, le=1000)] = 0) -> Response:
    """The seller's webhooks; with ``ping``, where that test ping's delivery stands."""
    return _webhooks_page(request, ping=ping, waited=waited)


async def _owner(request: Request) -> int:
    """The seller id of an owner's checked form post."""
    await checked_form(request)
    return person(request, RouteGroup.WEBHOOKS, Action.WRITE).identity.seller_id


@pages.post("/webhooks")
async def register_webhook(request: Request) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.WEBHOOKS, Action.WRITE)
    try:
        url = webhooks.check_url(str(form.get("url", "")))
        types = webhooks.check_types([])
        with database(request).session() as session:
            hook = webhooks.register(session, seller_id=caller.identity.seller_id, url=url,
                                     types=types)
            secret = hook.secret
    except DomainError as exc:
        return _webhooks_page(request, error=refusal(request, exc), status=400)
    return _webhooks_page(request, new_secret=secret, new_url=url)


@pages.post("/webhooks/{webhook_id}/rotate-secret")
async def rotate_secret(request: Request, webhook_id: Id) -> Response:
    """A new signing secret, shown in this answer only; the old one stops at once."""
    seller_id = await _owner(request)
    with database(request).session() as session:
        hook = webhooks.rotate_secret(session, seller_id=seller_id, webhook_id=webhook_id)
        secret, url = hook.secret, hook.url
    return _webhooks_page(request, new_secret=secret, new_url=url, rotated=True)


@pages.post("/webhooks/{webhook_id}/ping")
async def ping(request: Request, webhook_id: Id) -> Response:
    """Queue a ``TYPE_PING`` to the seller's webhooks; the page then follows its delivery."""
    seller_id = await _owner(request)
    with database(request).session() as session:
        webhooks.get(session, seller_id=seller_id, webhook_id=webhook_id)
        event_id = webhooks.ping(session, seller_id=seller_id)
    return flash(redirect(f"/webhooks?ping={event_id}"),
                 translate(request, "Test ping sent to your webhooks."))


@pages.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(request: Request, webhook_id: Id) -> Response:
    seller_id = await _owner(request)
    with database(request).session() as session:
        hook = webhooks.get(session, seller_id=seller_id, webhook_id=webhook_id)
        session.delete(hook)
    return flash(redirect("/webhooks"), translate(request, "The webhook is removed."))
