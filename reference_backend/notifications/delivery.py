"""One delivery attempt and the rules around it, with no database in them.

* :func:`backoff_delay` — exponential backoff with a cap and full jitter.
* :func:`check_webhook_url` — what a seller may register as a target.
* :func:`send` — one signed ``POST`` of an event body; a delivery counts only on 2xx.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from reference_backend.security import signature_headers

USER_AGENT = "Peakline-Push/1.0"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before attempt ``n + 1`` after ``n`` failed attempts."""

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 600.0
    jitter: float = 0.2  # +-20 % so a backlog does not retry in lock-step
    request_timeout_s: float = 5.0  # Ozon suspends receivers slower than 5 s


def backoff_delay(
    failed_attempts: int, policy: RetryPolicy, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure (1, 2, ...): growing, capped."""
    n = max(failed_attempts, 1)
    delay = min(policy.base_s * policy.factor ** (n - 1), policy.cap_s)
    if policy.jitter and rng is not None:
        delay *= 1.0 + rng.uniform(-policy.jitter, policy.jitter)
    return min(delay, policy.cap_s)


class BadWebhookUrl(ValueError):
    """A URL a seller may not register."""


def check_webhook_url(url: str, *, allow_private: bool) -> str:
    """Return ``url`` normalised, or raise :class:`BadWebhookUrl`.

    Only absolute ``http``/``https`` URLs without credentials. Unless ``allow_private``,
    hosts that are or resolve to loopback, private, link-local or reserved addresses are
    refused (the server must not be turned into a probe of its own network).
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadWebhookUrl(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhookUrl("webhook URL must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise BadWebhookUrl("webhook URL must not carry credentials")
    if len(url) > 2000:
        raise BadWebhookUrl("webhook URL is longer than 2000 characters")
    if not allow_private:
        try:
            infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
        except OSError:
            raise BadWebhookUrl(f"host {parts.hostname!r} does not resolve") from None
        for info in infos:
            addr = ipaddress.ip_address(info[4][0])
            if not addr.is_global:
                raise BadWebhookUrl(f"host {parts.hostname!r} is not a public address")
    return url


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The exact body bytes that are signed and sent (compact UTF-8 JSON)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Outcome:
    """Result of one attempt."""

    delivered: bool
    status: int | None
    error: str
    elapsed_s: float


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    event_id: str,
    body: bytes,
    timeout_s: float,
    extra_headers: dict[str, str] | None = None,
) -> Outcome:
    """POST ``body`` to ``url`` signed with ``secret``; delivered only on a 2xx answer."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signature_headers(secret, body, event_id=event_id, timestamp=int(time.time())),
        **(extra_headers or {}),
    }
    started = time.perf_counter()
    try:
        resp = await client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        return Outcome(False, None, error, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    if 200 <= resp.status_code < 300:
        return Outcome(True, resp.status_code, "", elapsed)
    return Outcome(False, resp.status_code, f"HTTP {resp.status_code}", elapsed)
