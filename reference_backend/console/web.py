"""What every console page shares: the navigation, the permission gate and rendering.

A page asks :func:`person` for the caller, naming the permission it needs (a route group
and an action of :mod:`reference_backend.permissions`, exactly as the API route it mirrors
declares); the navigation shows only the sections the caller's role may read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from reference_backend.accounts.service import Caller
from reference_backend.console import i18n
from reference_backend.console.session import (
    CSRF_FIELD,
    csrf_token,
    current_caller,
    ensure_pre_session,
    set_pre_session_cookie,
)
from reference_backend.db import Database
from reference_backend.permissions import Action, RouteGroup, is_allowed
from reference_backend.tables import Warehouse

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "peakline_flash"
PREFIX = "/console"


def _l(text: str) -> str:
    """Marks ``text`` for extraction; it is translated where it is shown."""
    return text


@dataclass(frozen=True)
class Section:
    """An entry of the sidebar: shown when the role may read ``group``."""

    path: str
    label: str
    group: RouteGroup | None  # None: every signed-in person


SECTIONS: tuple[Section, ...] = (
    Section("/", _l("Home"), None),
    Section("/postings", _l("Orders"), RouteGroup.POSTINGS),
    Section("/acts", _l("Hand-over documents"), RouteGroup.POSTINGS),
    Section("/stock", _l("Stock"), RouteGroup.STOCKS),
    Section("/products", _l("Products"), RouteGroup.PRODUCTS),
    Section("/returns", _l("Returns"), RouteGroup.RETURNS),
    Section("/promotions", _l("Promotions"), RouteGroup.PROMOTIONS),
    Section("/discount-requests", _l("Discount requests"), RouteGroup.PROMOTIONS),
    Section("/chats", _l("Buyer chats"), RouteGroup.CHATS),
    Section("/analytics", _l("Analytics"), RouteGroup.ANALYTICS),
    Section("/finance", _l("Finance"), RouteGroup.FINANCE),
    Section("/accounts", _l("Accounts"), RouteGroup.ACCOUNTS),
    Section("/webhooks", _l("Webhooks"), RouteGroup.WEBHOOKS),
    Section("/profile", _l("My account"), None),
)


class SignInNeeded(Exception):
    """No valid session: the visitor is sent to the sign-in page."""


class EnrolmentNeeded(Exception):
    """Signed in, but the seller requires 2FA and this person has not set it up yet."""


class Denied(Exception):
    """The role may not do this (403, as the API answers)."""


def database(request: Request) -> Database:
    return request.app.state.db


def person(request: Request, group: RouteGroup | None = None,
           action: Action = Action.READ, *, pending_2fa_ok: bool = False) -> Caller:
    """The signed-in caller, allowed ``action`` on ``group`` by the permission table."""
    caller = current_caller(request, database(request))
    if caller is None:
        raise SignInNeeded()
    request.state.caller = caller
    if not caller.second_factor_ok and not pending_2fa_ok:
        raise EnrolmentNeeded()
    if group is not None and not is_allowed(caller.identity.role, group, action):
        raise Denied()
    return caller


def seller_warehouses(request: Request, seller_id: int) -> list[Warehouse]:
    """The seller's warehouses by name (for filters and labels)."""
    with database(request).read_session() as session:
        return list(session.scalars(select(Warehouse).where(Warehouse.seller_id == seller_id)
                                    .order_by(Warehouse.name)))


def may(caller: Caller | None, group: RouteGroup, action: Action = Action.READ) -> bool:
    return caller is not None and is_allowed(caller.identity.role, group, action)


def _environment(lang: str) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    formats = i18n.Formats(lang)
    env.filters.update(datetime=formats.datetime, date=formats.date, number=formats.number,
                       money=formats.money, currency_symbol=formats.currency_symbol,
                       urlquote=lambda s: quote(str(s), safe=""))
    env.globals.update(LANGUAGES=i18n.LANGUAGES, CSRF_FIELD=CSRF_FIELD, PREFIX=PREFIX,
                       Action=Action, G=RouteGroup)
    return Jinja2Templates(env=env)


_TEMPLATES: dict[str, Jinja2Templates] = {}


def templates_for(lang: str) -> Jinja2Templates:
    if lang not in _TEMPLATES:
        _TEMPLATES[lang] = _environment(lang)
    return _TEMPLATES[lang]


def translate(request: Request, text: str) -> str:
    return i18n.translations(i18n.request_language(request)).gettext(text)


def money(request: Request, value: object, currency: str | None = "RUB") -> str:
    """An amount in the request's language (the ``money`` filter of the templates)."""
    return i18n.money(value, currency, i18n.request_language(request))  # type: ignore[arg-type]


def flash(response: Response, message: str, kind: str = "ok") -> Response:
    """A one-time notice shown on the next page (already translated)."""
    response.set_cookie(FLASH_COOKIE, quote(json.dumps({"text": message, "kind": kind})),
                        path=PREFIX, httponly=True, samesite="lax", max_age=60)
    return response


def _take_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        from urllib.parse import unquote

        data = json.loads(unquote(raw))
        return {"text": str(data["text"]), "kind": str(data.get("kind", "ok"))}
    except (ValueError, KeyError, TypeError):
        return None


def whole_number(value: object) -> int | None:
    """``value`` as a positive-or-zero whole number, or None (empty or not a number: a form
    field or query parameter left blank means "any")."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 <= number < 2**63 else None


def redirect(path: str) -> RedirectResponse:
    """303 to a console path (after a successful post)."""
    return RedirectResponse(PREFIX + path, status_code=303)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status: int = 200) -> Response:
    """``template`` in the request's language with the layout's context."""
    lang = i18n.request_language(request)
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:  # (error and sign-in pages: the sidebar when signed in)
        caller = current_caller(request, database(request))
    pre_session = ensure_pre_session(request)
    sections = [s for s in SECTIONS
                if caller is not None and caller.second_factor_ok
                and (s.group is None or may(caller, s.group))]
    flash_note = _take_flash(request)
    page = {
        "request": request, "caller": caller, "lang": lang, "sections": sections,
        "csrf_token": csrf_token(request), "flash": flash_note, "may": may,
        "current": request.url.path, **(context or {}),
    }
    response = templates_for(lang).TemplateResponse(request, template, page, status_code=status)
    if pre_session:
        set_pre_session_cookie(response, request, pre_session)
    if flash_note:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'")
    return response


def too_large_page(request: Request, limit: int) -> Response:
    """The console's answer to a form or file larger than ``limit`` bytes (413): the page
    says how much is allowed (:mod:`reference_backend.body_limit` refuses it unread)."""
    return render(request, "error.html", {"code": 413, "limit_mib": limit / 2**20}, status=413)
