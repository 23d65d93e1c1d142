"""Sending one message through the configured SMTP server (stdlib ``smtplib``)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from reference_backend.accounts.password_reset.config import MailSettings

DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver ``message`` (its ``From`` defaults to ``settings.sender``); raises on failure."""
    url = urlsplit(settings.url)
    if "From" not in message:
        message["From"] = settings.sender
    client = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with client(url.hostname or "", url.port or DEFAULT_PORTS[url.scheme],
                timeout=settings.timeout_s) as smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)
