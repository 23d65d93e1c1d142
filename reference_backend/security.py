"""Security primitives with no HTTP and no database: passwords, TOTP, API keys, body
signatures and the sign-in throttling rules.

* Passwords: argon2id via argon2-cffi (salted, memory-hard; parameters in the hash).
* Second factor: RFC 6238 TOTP via pyotp, with a provisioning URI for authenticator apps
  and replay protection (a time step is accepted once).
* API keys: 128 bits from :mod:`secrets`, shown once; only a SHA-256 digest is stored (a
  key has full entropy, so a fast digest is safe and lets the server look a key up by it).
* Webhook bodies: HMAC-SHA256 over ``"<event id>.<timestamp>." + body``; the receiver
  recomputes it with the secret it got at registration and compares in constant time.
* Sign-in throttling: a pure function of the recent attempt history of one email.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# --- passwords ------------------------------------------------------------------------------

_HASHER = PasswordHasher()  # argon2id, library defaults (RFC 9106 "low memory" profile)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths cost one argon2
    verification (made on first use: hashing costs tens of ms at every start otherwise)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


MIN_PASSWORD_LENGTH = 10


class WeakPassword(ValueError):
    """A password that is refused before hashing."""


def check_password_strength(password: str) -> None:
    """Raise :class:`WeakPassword` for passwords too short or made of one repeated character."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPassword("password must use at least 4 different characters")


def hash_password(password: str) -> str:
    """An argon2id hash string (algorithm, parameters, salt and digest)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``.

    ``stored_hash=None`` (unknown email, or an account with no password) still performs
    one verification against a dummy hash and returns False, so response time does not
    reveal whether the email exists.
    """
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _HASHER.check_needs_rehash(stored_hash)


# --- TOTP -----------------------------------------------------------------------------------

TOTP_ISSUER = "Peakline"
TOTP_INTERVAL_S = 30
#: Accept codes from one step before and after the current one (clock drift).
TOTP_VALID_WINDOW = 1


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_provisioning_uri(secret: str, account_name: str, issuer: str = TOTP_ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (as a QR code)."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL_S).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def totp_code(secret: str, at: datetime) -> str:
    """The code valid at ``at`` (for tests and for enrolment examples)."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL_S).at(at)


def totp_step(at: datetime) -> int:
    """The TOTP time-step counter of ``at``."""
    return int(at.timestamp()) // TOTP_INTERVAL_S


def verify_totp(
    secret: str, code: str, at: datetime, last_used_step: int | None = None
) -> int | None:
    """The time step ``code`` belongs to, or None when the code is wrong or already used.

    A code is accepted for the current step and :data:`TOTP_VALID_WINDOW` steps either
    side, and only for a step later than ``last_used_step`` (store the returned step to
    make a code single-use).
    """
    code = (code or "").strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL_S)
    now_step = totp_step(at)
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# --- API keys and other bearer secrets ------------------------------------------------------


def generate_api_key() -> str:
    """A new API key in Ozon's format (a UUID-shaped string, 122 random bits)."""
    return str(uuid.uuid4())


def generate_token(nbytes: int = 32) -> str:
    """A URL-safe random token (session tokens, webhook signing secrets)."""
    return secrets.token_urlsafe(nbytes)


def hash_api_key(key: str) -> str:
    """The stored form of a key: hex SHA-256. Never the key itself."""
    return hashlib.sha256(key.strip().encode("utf-8")).hexdigest()


def key_hint(key: str) -> str:
    """A short non-secret label for listing keys (first 4 and last 4 characters)."""
    return f"{key[:4]}…{key[-4:]}"


def api_key_matches(key: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(hash_api_key(key), stored_hash)


# --- webhook signatures ---------------------------------------------------------------------

SIGNATURE_HEADER = "X-Peakline-Signature"
EVENT_ID_HEADER = "X-Peakline-Event-Id"
TIMESTAMP_HEADER = "X-Peakline-Timestamp"
SIGNATURE_SCHEME = "sha256"
#: A receiver should refuse signatures older than this (replay window).
SIGNATURE_TOLERANCE_S = 300


def _signed_message(event_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{event_id}.{timestamp}.".encode() + body


def sign_body(secret: str, body: bytes, *, event_id: str, timestamp: int) -> str:
    """The signature header value ``sha256=<hex>`` for one delivery."""
    digest = hmac.new(
        secret.encode("utf-8"), _signed_message(event_id, timestamp, body), hashlib.sha256
    ).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def signature_headers(secret: str, body: bytes, *, event_id: str, timestamp: int) -> dict[str, str]:
    """The headers a delivery carries: event id, timestamp and signature."""
    return {
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_body(secret, body, event_id=event_id, timestamp=timestamp),
    }


def verify_signature(
    secret: str,
    body: bytes,
    *,
    event_id: str,
    timestamp: int | str,
    signature: str,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``signature`` was made with ``secret`` over exactly this body, id and time.

    With ``now`` (UNIX seconds) given, a timestamp further than ``tolerance_s`` away is
    refused too (a replayed old delivery).
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if now is not None and abs(now - ts) > tolerance_s:
        return False
    expected = sign_body(secret, body, event_id=event_id, timestamp=ts)
    return hmac.compare_digest(expected.encode(), (signature or "").strip().encode())


# --- sign-in throttling and lockout ---------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One past sign-in attempt for an email (known or not)."""

    at: datetime
    succeeded: bool


@dataclass(frozen=True)
class ThrottlePolicy:
    """Sign-in limits over one attempt history (the server keeps one per client address and
    email, so an attacker's failures slow the attacker, not the account's owner).

    Failures count since the last success and within ``window``. The first
    ``free_failures`` cost nothing; after that each attempt must wait
    ``base_delay * 2**(failures - free_failures)`` (capped at ``max_delay``) after the last
    failure; with ``lockout_failures`` set, at that many failures the history is locked for
    ``lockout`` after the last failure. Refused attempts are not recorded, so hammering does
    not extend a wait forever.
    """

    window: timedelta = timedelta(minutes=15)
    free_failures: int = 3
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(seconds=300)
    lockout_failures: int | None = None  # None: never locked, only slowed
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Gate:
    """The throttling decision for the next attempt."""

    allowed: bool
    locked: bool = False
    retry_after_s: float = 0.0


def recent_failures(
    history: Sequence[Attempt], now: datetime, policy: ThrottlePolicy
) -> list[Attempt]:
    """Failed attempts after the last success and within the policy window, oldest first."""
    failures: list[Attempt] = []
    for attempt in sorted(history, key=lambda a: a.at):
        if attempt.at > now:
            continue
        if attempt.succeeded:
            failures.clear()
        elif now - attempt.at <= max(policy.window, policy.lockout):
            failures.append(attempt)
    return failures


DEFAULT_THROTTLE = ThrottlePolicy()


def sign_in_gate(
    history: Sequence[Attempt], now: datetime, policy: ThrottlePolicy = DEFAULT_THROTTLE
) -> Gate:
    """Whether a sign-in attempt at ``now`` may be checked at all, given the email's history."""
    failures = recent_failures(history, now, policy)
    if not failures:
        return Gate(allowed=True)
    last = failures[-1].at
    if policy.lockout_failures is not None and len(failures) >= policy.lockout_failures:
        until = last + policy.lockout
        if now < until:
            return Gate(allowed=False, locked=True, retry_after_s=(until - now).total_seconds())
        return Gate(allowed=True)
    in_window = [f for f in failures if now - f.at <= policy.window]
    excess = len(in_window) - policy.free_failures
    if excess < 0:
        return Gate(allowed=True)
    delay = min(policy.base_delay * (2**excess), policy.max_delay)
    if now < last + delay:
        return Gate(allowed=False, retry_after_s=(last + delay - now).total_seconds())
    return Gate(allowed=True)
