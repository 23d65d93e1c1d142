"""``/peakline/v1/accounts/password-reset``: ask for a link by email, open it, use it. No key
or session: the email's owner proves itself by holding the link. Thin: parse, admit, call
:mod:`.service`, shape the answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, FastAPI, Path, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from reference_backend.accounts.password_reset import page, service
from reference_backend.accounts.password_reset import schemas as s
from reference_backend.accounts.password_reset.config import mail_settings
from reference_backend.accounts.router import sign_in_guard
from reference_backend.auth import DbDep
from reference_backend.db import Database
from reference_backend.domain_errors import DomainError
from reference_backend.errors import KIND_STATUS

router = APIRouter(prefix=service.PATH, tags=["accounts"])
log = logging.getLogger("reference_backend.accounts.password_reset")

Token = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("", response_model=s.ResetRequestedOut, status_code=202, responses={429: {}})
async def request_reset(
    body: s.ResetRequestIn, request: Request, background: BackgroundTasks, db: DbDep
) -> s.ResetRequestedOut:
    """Email a single-use link to set a new password to each account using ``email``.

    The answer is the same, and as quick, whether or not one does: the links are issued and
    mailed after it went out. The link's address comes from ``PEAKLINE_BASE_URL``, never from
    the request (a forged ``Host`` header cannot send a victim someone else's link). Each
    address may ask as often as it may sign in (429 past that).
    """
    sign_in_guard(request.app).admit_address(request.client.host if request.client else "")
    background.add_task(service.send_links, db, email=body.email,
                        base_url=request.app.state.settings.base_url)
    return s.ResetRequestedOut()


@router.get("/{token}", response_class=HTMLResponse, responses={404: {}, 410: {}})
def reset_page(token: Token, db: DbDep, request: Request) -> HTMLResponse:
    """The page the link opens: a form for the new password, or why the link does not work
    (as a page for a browser, as the usual error body for other callers). Opening it changes
    nothing, so a mail scanner that follows links spends nothing."""
    try:
        with db.read_session() as session:
            expires_at = service.check_token(session, token=token).expires_at
    except DomainError as exc:
        accept = parse_accept_header(request.headers.get("accept"), MIMEAccept)
        if accept.best_match(["application/json", "text/html"]) != "text/html":
            raise
        return HTMLResponse(page.render(error=exc.message), status_code=KIND_STATUS[exc.kind])
    return HTMLResponse(page.render(expires_at=expires_at))


@router.post("/{token}", response_model=s.PasswordSetOut, responses={404: {}, 410: {}, 429: {}})
async def reset_password(
    token: Token, body: s.NewPasswordIn, request: Request, db: DbDep
) -> s.PasswordSetOut:
    """Use the link: set ``new_password`` and end every session of the account (a used or
    expired link is 410, an unknown one 404, a weak password 400 and the link still works)."""
    await run_in_threadpool(_check, db, token)  # before the slow hashing
    async with sign_in_guard(request.app).hashing_slot():
        password_hash = await run_in_threadpool(service.new_password_hash, body.new_password)
    await run_in_threadpool(_use, db, token, password_hash)
    return s.PasswordSetOut()


def _check(db: Database, token: str) -> None:
    with db.read_session() as session:
        service.check_token(session, token=token)


def _use(db: Database, token: str, password_hash: str) -> None:
    with db.session() as session:
        service.use_token(session, token=token, password_hash=password_hash)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Read the mail settings at start: a malformed ``PEAKLINE_SMTP_URL`` stops the server
    with its name, rather than failing the first reset request."""
    if not mail_settings().url:
        log.info("password-reset emails are off: PEAKLINE_SMTP_URL is not set")
    yield
