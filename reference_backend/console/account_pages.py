"""Sign-in and sign-out, the language switch, and the caller's own account (password,
email, 2FA set-up).

Sign-in is the API's (:func:`reference_backend.accounts.service.sign_in`, behind the same
per-address guard): the session it opens goes into the cookie instead of a JSON answer.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from reference_backend import security
from reference_backend.accounts import service
from reference_backend.accounts.config import throttle_policy
from reference_backend.accounts.password_reset import service as password_reset
from reference_backend.accounts.router import guarded_password_check, sign_in_guard
from reference_backend.console.i18n import LANG_COOKIE, LANGUAGES
from reference_backend.console.refusals import refusal
from reference_backend.console.session import (
    checked_form,
    clear_session_cookie,
    current_caller,
    set_session_cookie,
)
from reference_backend.console.web import (
    PREFIX,
    _l,
    database,
    flash,
    person,
    redirect,
    render,
    translate,
)
from reference_backend.domain_errors import DomainError
from reference_backend.errors import ApiError
from reference_backend.permissions import Action, RouteGroup
from reference_backend.tables import Account

pages = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path inside the console (never another site) is a place to go back to."""
    if not target:
        return PREFIX + "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return PREFIX + "/"
    return target


@pages.get("/sign-in")
def sign_in_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    if current_caller(request, database(request)) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "sign_in.html", {"next": _safe_next(next), "email": ""})


@pages.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await checked_form(request)
    email = str(form.get("email", ""))
    target = _safe_next(str(form.get("next", "")))
    context = {"next": target, "email": email}
    ip = request.client.host if request.client else ""
    guard = sign_in_guard(request.app.state.parent)
    try:
        guard.admit_address(ip)
        async with guard.hashing_slot():
            out = await run_in_threadpool(
                service.sign_in, database(request), email=email,
                password=str(form.get("password", "")),
                code=str(form.get("code", "")).strip() or None, ip=ip, policy=throttle_policy())
    except ApiError as exc:  # too many sign-ins from this address
        return render(request, "sign_in.html", {**context, "error": refusal(request, exc)},
                      status=429)
    if out.status == "throttled":
        wait = max(1, math.ceil(out.retry_after_s))
        message = translate(request, "Too many failed sign-ins: try again in {seconds} s.")
        return render(request, "sign_in.html",
                      {**context, "error": message.format(seconds=wait)}, status=429)
    if out.status == "totp_needed":
        return render(request, "sign_in.html", {**context, "need_code": True, "error": translate(
            request, "Enter the 6-digit code from your authenticator app.")}, status=401)
    if out.status not in ("ok", "enrol"):
        return render(request, "sign_in.html", {**context, "error": translate(
            request, "The email, password or one-time code is wrong.")}, status=401)
    assert out.token and out.expires_at
    response = RedirectResponse(
        target if out.status == "ok" else PREFIX + "/profile/two-factor", status_code=303)
    set_session_cookie(response, request, out.token, out.expires_at)
    return response


@pages.get("/forgot-password")
def forgot_password_page(request: Request) -> Response:
    return render(request, "forgot_password.html", {})


@pages.post("/forgot-password")
async def forgot_password(request: Request) -> Response:
    """Mail a reset link as ``POST /peakline/v1/accounts/password-reset`` does: the same
    answer whether or not an account uses the email, the mail sent after it."""
    form = await checked_form(request)
    email = str(form.get("email", "")).strip()[:320]
    try:
        sign_in_guard(request.app.state.parent).admit_address(
            request.client.host if request.client else "")
    except ApiError as exc:
        return render(request, "forgot_password.html", {"error": refusal(request, exc)},
                      status=429)
    response = render(request, "forgot_password.html", {"sent": True})
    if email:
        response.background = BackgroundTask(
            password_reset.send_links, database(request), email=email,
            base_url=request.app.state.settings.base_url)
    return response


@pages.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    caller = current_caller(request, database(request))
    if caller is not None and caller.session_id is not None:
        with database(request).session() as session:
            service.revoke_sessions(session, account_id=caller.identity.account_id,
                                    only_id=caller.session_id)
    response = RedirectResponse(PREFIX + "/sign-in", status_code=303)
    clear_session_cookie(response)
    return flash(response, translate(request, "You are signed out."))


@pages.get("/language/{lang}")
def switch_language(request: Request, lang: str,
                    next: Annotated[str | None, Query()] = None) -> Response:
    """Remember the chosen language (a preference cookie; nothing on the server changes)."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, path=PREFIX, max_age=365 * 86400,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


# --- the caller's own account ---------------------------------------------------------------


def _account(request: Request, account_id: int, seller_id: int):  # noqa: ANN202
    with database(request).read_session() as session:
        return service.get_account(session, seller_id=seller_id, account_id=account_id)


def _profile_page(request: Request, *, status: int = 200, **extra: object) -> Response:
    caller = person(request, RouteGroup.PROFILE, Action.READ)
    account = _account(request, caller.identity.account_id, caller.identity.seller_id)
    return render(request, "profile.html", {
        "account": account, "min_length": security.MIN_PASSWORD_LENGTH, **extra}, status=status)


@pages.get("/profile")
def profile(request: Request) -> Response:
    return _profile_page(request)


#: Refusals of the accounts service -> what the profile page says (else the service's text,
#: translated).
PROFILE_REFUSALS = {
    "WRONG_PASSWORD": _l("The current password is wrong."),
    "WEAK_PASSWORD": _l("The new password is too weak: {reason}"),
    "INVALID_EMAIL": _l("That is not an email address."),
    "EMAIL_UNAVAILABLE": _l("Another account of this seller uses this email."),
}


def _refusal(request: Request, exc: DomainError) -> str:
    text = PROFILE_REFUSALS.get(exc.code)
    reason = refusal(request, exc)
    return translate(request, text).format(reason=reason) if text else reason


@pages.post("/profile/password")
async def change_password(request: Request) -> Response:
    """The caller's new password, as ``POST /peakline/v1/accounts/me/password`` from a
    session: the current password first, then the password policy; checked behind the
    sign-in guard (per-address rate, a bounded number of concurrent hashings)."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROFILE, Action.WRITE)
    new = str(form.get("new_password", ""))[:1024]
    if new != str(form.get("new_password_again", ""))[:1024]:
        return _profile_page(request, status=400, password_error=translate(
            request, "The two new passwords differ."))

    def change(session: Session, account: Account, current: str) -> None:
        service.set_password(session, account=account, new_password=new,
                             current_password=current, via_session=True,
                             keep_session_id=caller.session_id)

    refused = await _checked_change(request, caller, form, change, "password_error")
    return refused or flash(redirect("/profile"), translate(
        request, "Your password is changed: sign in with the new one next time."))


@pages.post("/profile/email")
async def change_email(request: Request) -> Response:
    """The caller's sign-in email, as ``PATCH /peakline/v1/accounts/me``: the current
    password first (behind the sign-in guard, as for a new password), then the address."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROFILE, Action.WRITE)
    email = str(form.get("email", ""))[:400]

    def change(session: Session, account: Account, current: str) -> None:
        service.change_email(session, account=account, email=email, current_password=current,
                             via_session=True)

    refused = await _checked_change(request, caller, form, change, "email_error")
    return refused or flash(redirect("/profile"), translate(
        request, "Your sign-in email is now {email}.").format(
            email=service.normalise_email(email)))


async def _checked_change(
    request: Request, caller: service.Caller, form: FormData,
    change: Callable[[Session, Account, str], None], error_field: str,
) -> Response | None:
    """Apply ``change`` to the caller's account with the form's current password, behind the
    sign-in guard; the profile page with the refusal (in ``error_field``), or None when done."""

    def run() -> None:
        with database(request).session() as session:
            account = service.get_account(session, seller_id=caller.identity.seller_id,
                                          account_id=caller.identity.account_id)
            change(session, account, str(form.get("current_password", ""))[:1024])

    try:
        await guarded_password_check(request.app.state.parent, request, run)
    except ApiError as exc:  # too many attempts from this address
        return _profile_page(request, status=429, **{error_field: refusal(request, exc)})
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        status = {"invalid": 400, "conflict": 409}.get(exc.kind, 403)
        return _profile_page(request, status=status, **{error_field: _refusal(request, exc)})
    return None


@pages.get("/profile/two-factor")
def two_factor(request: Request) -> Response:
    caller = person(request, RouteGroup.PROFILE, Action.READ, pending_2fa_ok=True)
    account = _account(request, caller.identity.account_id, caller.identity.seller_id)
    return render(request, "two_factor.html", {"account": account})


@pages.post("/profile/two-factor/start")
async def two_factor_start(request: Request) -> Response:
    await checked_form(request)
    caller = person(request, RouteGroup.PROFILE, Action.WRITE, pending_2fa_ok=True)
    with database(request).session() as session:
        account = service.get_account(session, seller_id=caller.identity.seller_id,
                                      account_id=caller.identity.account_id)
        try:
            secret, uri = service.begin_totp(session, account=account)
        except DomainError as exc:
            return render(request, "two_factor.html",
                          {"account": account, "error": refusal(request, exc)}, status=409)
    return render(request, "two_factor.html",
                  {"account": account, "secret": secret, "uri": uri, "qr": qr_svg(uri)})


def qr_svg(text: str, size: int = 180) -> str:
    """``text`` as a QR code, an SVG ``data:`` URI (reportlab's encoder; no script, no file:
    an image, so the page's CSP, which refuses inline styles, does not apply inside it)."""
    widget = QrCodeWidget(text)
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (right - left), 0, 0,
                                             size / (top - bottom), 0, 0])
    drawing.add(widget)
    svg = renderSVG.drawToString(drawing).encode()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@pages.post("/profile/two-factor/confirm")
async def two_factor_confirm(request: Request) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROFILE, Action.WRITE, pending_2fa_ok=True)
    with database(request).session() as session:
        account = service.get_account(session, seller_id=caller.identity.seller_id,
                                      account_id=caller.identity.account_id)
        try:
            service.confirm_totp(session, account=account, code=str(form.get("code", "")),
                                 session_id=caller.session_id)
        except DomainError as exc:
            return render(request, "two_factor.html", {
                "account": account, "error": refusal(request, exc), "retry": True}, status=400)
    return flash(redirect("/profile"),
                 translate(request, "Two-factor sign-in is on: sign-in now asks for a code."))
