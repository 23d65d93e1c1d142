"""The owner's administration: sub-accounts and their roles, API keys (a new key is shown
once) and the 2FA policy. Every action calls the service of the matching
``/peakline/v1/accounts`` route (webhooks: :mod:`reference_backend.console.webhooks`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.accounts import service
from reference_backend.accounts.service import SUB_ACCOUNT_ROLES
from reference_backend.console.refusals import refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import database, flash, person, redirect, render, translate
from reference_backend.domain_errors import DomainError
from reference_backend.permissions import Action, Role, RouteGroup
from reference_backend.tables import Seller

pages = APIRouter()
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
ROLES = sorted(r.value for r in SUB_ACCOUNT_ROLES)


def _accounts_page(request: Request, *, status: int = 200, **extra: object) -> Response:
    caller = person(request, RouteGroup.ACCOUNTS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        accounts = service.list_accounts(session, seller_id=seller_id)
        keys = {a.id: service.list_keys(session, seller_id=seller_id, account_id=a.id)
                for a in accounts}
        seller = session.get(Seller, seller_id)
    return render(request, "accounts.html", {
        "accounts": accounts, "keys": keys, "require_2fa": bool(seller and seller.require_2fa),
        "roles": ROLES, "owner": Role.OWNER.value, **extra}, status=status)


@pages.get("/accounts")
def accounts_page(request: Request) -> Response:
    return _accounts_page(request)


async def _owner_form(request: Request):  # noqa: ANN202 - (form, caller)
    form = await checked_form(request)
    return form, person(request, RouteGroup.ACCOUNTS, Action.WRITE)


@pages.post("/accounts")
async def create_account(request: Request) -> Response:
    form, caller = await _owner_form(request)
    try:
        with database(request).session() as session:
            account = service.create_sub_account(
                session, seller_id=caller.identity.seller_id, email=str(form.get("email", "")),
                name=str(form.get("name", "")), role=str(form.get("role", "")),
                password=str(form.get("password", "")))
            email = account.email
    except DomainError as exc:
        return _accounts_page(request, error=refusal(request, exc), status=400)
    message = translate(request, "Sub-account {email} created.").format(email=email)
    return flash(redirect("/accounts"), message)


@pages.post("/accounts/policy")
async def set_policy(request: Request) -> Response:
    form, caller = await _owner_form(request)
    required = form.get("require_2fa") == "on"
    with database(request).session() as session:
        service.set_require_2fa(session, seller_id=caller.identity.seller_id, required=required)
    message = (translate(request, "Sub-accounts must now sign in with two-factor.") if required
               else translate(request, "Two-factor sign-in is now optional."))
    return flash(redirect("/accounts"), message)


@pages.post("/accounts/{account_id}")
async def update_account(request: Request, account_id: Id) -> Response:
    form, caller = await _owner_form(request)
    try:
        with database(request).session() as session:
            service.update_sub_account(
                session, seller_id=caller.identity.seller_id, account_id=account_id,
                role=str(form.get("role") or "") or None,
                disabled=form.get("disabled") == "on")
    except DomainError as exc:
        return _accounts_page(request, error=refusal(request, exc), status=400)
    return flash(redirect("/accounts"), translate(request, "The account is saved."))


@pages.post("/accounts/{account_id}/totp-reset")
async def reset_totp(request: Request, account_id: Id) -> Response:
    _, caller = await _owner_form(request)
    with database(request).session() as session:
        service.reset_totp(session, seller_id=caller.identity.seller_id, account_id=account_id)
    return flash(redirect("/accounts"), translate(
        request, "Two-factor sign-in is reset: the person sets it up again at next sign-in."))


@pages.post("/accounts/{account_id}/api-keys")
async def issue_key(request: Request, account_id: Id) -> Response:
    form, caller = await _owner_form(request)
    lifetime = timedelta(days=request.app.state.settings.api_key_lifetime_days)
    try:
        with database(request).session() as session:
            _, plaintext = service.issue_key(
                session, seller_id=caller.identity.seller_id, account_id=account_id,
                name=str(form.get("name", ""))[:100], lifetime=lifetime)
    except DomainError as exc:
        return _accounts_page(request, error=refusal(request, exc), status=400)
    # shown in this answer only: never stored in a cookie or shown again
    return _accounts_page(request, new_key=plaintext, new_key_account=account_id,
                          client_id=caller.identity.client_id)


@pages.post("/accounts/{account_id}/api-keys/{key_id}/revoke")
async def revoke_key(request: Request, account_id: Id, key_id: Id) -> Response:
    _, caller = await _owner_form(request)
    try:
        with database(request).session() as session:
            service.revoke_key(session, seller_id=caller.identity.seller_id,
                               account_id=account_id, key_id=key_id)
    except DomainError as exc:
        return _accounts_page(request, error=refusal(request, exc), status=409)
    return flash(redirect("/accounts"), translate(request, "The key is revoked."))
