"""Who is at the keyboard: the session cookie, and the CSRF token every form carries.

The cookie holds the token of an ordinary account session (the one
``/peakline/v1/accounts/sign-in`` opens), HttpOnly and SameSite=Lax, Secure over https.
A form's CSRF token is an HMAC of that session token, so it is per session, needs no
storage and is worthless without the cookie; before sign-in a random pre-session cookie
plays the session token's part (the sign-in form is protected too).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.accounts import service
from reference_backend.accounts.service import Caller
from reference_backend.db import Database

SESSION_COOKIE = "peakline_session"
PRE_SESSION_COOKIE = "peakline_pre"
CSRF_FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A form post without the right CSRF token (answered 403, nothing changed)."""


def csrf_token_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"peakline-console-form", hashlib.sha256).hexdigest()


def _cookie_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)


def csrf_token(request: Request) -> str:
    """The token the forms of this page carry ("" until a cookie exists: see
    :func:`ensure_pre_session`)."""
    secret = _cookie_secret(request) or getattr(request.state, "pre_session", None)
    return csrf_token_for(secret) if secret else ""


def ensure_pre_session(request: Request) -> str | None:
    """A new pre-session secret when the visitor has no cookie yet (to set on the answer)."""
    if _cookie_secret(request):
        return None
    request.state.pre_session = secrets.token_urlsafe(24)
    return request.state.pre_session


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matches the visitor's cookie; else
    :class:`CsrfRefused`. Every console POST reads its form through here."""
    form = await request.form()
    secret = _cookie_secret(request)
    sent = form.get(CSRF_FIELD)
    if not secret or not isinstance(sent, str) or not hmac.compare_digest(
            sent, csrf_token_for(secret)):
        raise CsrfRefused()
    return form


def current_caller(request: Request, db: Database) -> Caller | None:
    """The signed-in caller behind the session cookie, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with db.read_session() as session:
        return service.resolve_session(session, token=token)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str,
                       expires_at: datetime) -> None:
    response.set_cookie(SESSION_COOKIE, token, expires=expires_at, path="/console",
                        httponly=True, samesite="lax", secure=_secure(request))
    response.delete_cookie(PRE_SESSION_COOKIE, path="/console")


def set_pre_session_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(PRE_SESSION_COOKIE, secret, path="/console", httponly=True,
                        samesite="lax", secure=_secure(request))


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/console")
