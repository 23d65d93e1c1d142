"""Reset links: issue them for an email, check one, use one. Keyword-only functions; no HTTP.

A link is ``<base URL>/peakline/v1/accounts/password-reset/<token>``: 256 random bits, of
which only the SHA-256 digest is stored (the token has full entropy, so a fast digest is
safe, as for sessions). Every account using the email gets its own link (an email may serve
accounts of several sellers); at most ``per_hour`` a hour per account, none for a disabled
account. A link works once, until it expires; using one sets the password, ends every session
of the account and voids its other links.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reference_backend import security
from reference_backend.accounts.password_reset import mail
from reference_backend.accounts.password_reset.config import mail_settings, reset_settings
from reference_backend.accounts.service import (
    checked_password,
    find_for_sign_in,
    normalise_email,
    revoke_sessions,
)
from reference_backend.db import Database
from reference_backend.domain_errors import Forbidden, Gone, NotFound
from reference_backend.tables import Account, PasswordResetToken, Seller, utcnow

log = logging.getLogger("reference_backend.accounts.password_reset")

PATH = "/peakline/v1/accounts/password-reset"


@dataclass(frozen=True)
class ResetLink:
    """A link issued for one account, ready to be mailed."""

    email: str
    seller_name: str
    client_id: str
    url: str
    expires_at: datetime


def issue_links(
    session: Session, *, email: str, base_url: str, ttl: timedelta, per_hour: int,
    now: datetime | None = None,
) -> list[ResetLink]:
    """A new link for each enabled account using ``email`` that has had fewer than
    ``per_hour`` links in the last hour (none when no account uses it)."""
    now = now or utcnow()
    links = []
    for account in find_for_sign_in(session, email=normalise_email(email)):
        recent = session.scalar(
            select(func.count()).select_from(PasswordResetToken).where(
                PasswordResetToken.account_id == account.id,
                PasswordResetToken.created_at > now - timedelta(hours=1)))
        if account.disabled or recent >= per_hour:
            log.info("password reset not sent", extra={
                "account_id": account.id, "why": "disabled" if account.disabled else "per_hour"})
            continue
        token = security.generate_token()
        session.add(PasswordResetToken(account_id=account.id,
                                       token_hash=security.hash_api_key(token),
                                       created_at=now, expires_at=now + ttl))
        seller = session.get(Seller, account.seller_id)
        assert seller is not None  # an account's seller exists (foreign key)
        links.append(ResetLink(email=account.email or "", seller_name=seller.name,
                               client_id=seller.client_id,
                               url=f"{base_url.rstrip('/')}{PATH}/{token}",
                               expires_at=now + ttl))
    return links


def message_for(link: ResetLink) -> EmailMessage:
    """The email that carries ``link``."""
    message = EmailMessage()
    message["To"] = link.email
    message["Subject"] = "Peakline: set a new password"
    message.set_content(
        f"Someone, hopefully you, asked to set a new password for the Peakline account\n"
        f"{link.email} of seller \"{link.seller_name}\" (Client-Id {link.client_id}).\n\n"
        f"Open this link to choose one. It works once, until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC:\n\n{link.url}\n\n"
        "Setting it signs the account out everywhere. If you did not ask, ignore this email:\n"
        "your password stays as it is.\n")
    return message


def check_token(session: Session, *, token: str, now: datetime | None = None,
                ) -> PasswordResetToken:
    """The link's row if it may still be used: else :class:`NotFound` (no such link) or
    :class:`Gone` (used or expired)."""
    now = now or utcnow()
    row = session.scalar(select(PasswordResetToken).where(
        PasswordResetToken.token_hash == security.hash_api_key(token)))
    if row is None:
        raise NotFound("this password-reset link is not valid: ask for a new one",
                       code="RESET_LINK_UNKNOWN")
    if row.used_at is not None:
        raise Gone("this password-reset link was already used: ask for a new one",
                   code="RESET_LINK_USED")
    if row.expires_at <= now:
        raise Gone(f"this password-reset link expired at {row.expires_at:%Y-%m-%d %H:%M} UTC: "
                   "ask for a new one", code="RESET_LINK_EXPIRED")
    return row


def new_password_hash(password: str) -> str:
    """The hash to store for ``password`` (:class:`InvalidInput` when it is too weak); slow:
    call it outside any transaction."""
    return security.hash_password(checked_password(password))


def use_token(session: Session, *, token: str, password_hash: str,
              now: datetime | None = None) -> Account:
    """Spend the link: set the account's password, void its other links, end its sessions.

    The link is claimed by one guarded ``UPDATE``, so two uses at once set one password.
    """
    now = now or utcnow()
    row = check_token(session, token=token, now=now)
    claimed = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now))
    if claimed.rowcount != 1:
        raise Gone("this password-reset link was already used: ask for a new one",
                   code="RESET_LINK_USED")
    account = session.get(Account, row.account_id)
    assert account is not None  # the link's account exists (foreign key)
    if account.disabled:
        raise Forbidden("the account is disabled", code="ACCOUNT_DISABLED")
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.account_id == account.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now))
    account.password_hash = password_hash
    revoke_sessions(session, account_id=account.id)
    return account


def send_links(db: Database, *, email: str, base_url: str) -> int:
    """Issue the links for ``email`` and mail them (after the answer went out: its timing
    says nothing about the email); the number of messages sent. Failures are logged."""
    mail_config, config = mail_settings(), reset_settings()
    if not mail_config.url:
        log.warning("a password reset was asked for, but PEAKLINE_SMTP_URL is not set: "
                    "no link was sent")
        return 0
    with db.session() as session:
        links = issue_links(session, email=email, base_url=base_url,
                            ttl=timedelta(minutes=config.ttl_minutes), per_hour=config.per_hour)
    sent = 0
    for link in links:
        try:
            mail.send(mail_config, message_for(link))
            sent += 1
        except (OSError, smtplib.SMTPException):
            log.exception("a password-reset email could not be sent")
    return sent
