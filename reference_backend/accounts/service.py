"""Account operations with no HTTP in them: keyword-only functions over a session.

Every function that takes ``seller_id`` only ever sees that seller's rows: an id of another
seller's account or key is :class:`NotFound`, exactly like an id that does not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from reference_backend import security
from reference_backend.auth import SellerIdentity
from reference_backend.db import Database
from reference_backend.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from reference_backend.permissions import Role
from reference_backend.tables import Account, ApiKey, AuthSession, LoginAttempt, Seller, utcnow

SESSION_TTL = timedelta(hours=12)
#: A session that still has to enrol its second factor lives only this long.
ENROLMENT_SESSION_TTL = timedelta(minutes=15)
SUB_ACCOUNT_ROLES = frozenset(Role) - {Role.OWNER}
MAX_KEYS_PER_ACCOUNT = 20


@dataclass(frozen=True)
class Caller:
    """The identity behind a request, and how it authenticated."""

    identity: SellerIdentity
    session_id: int | None  # None for an API key
    second_factor_ok: bool


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


# --- accounts -------------------------------------------------------------------------------


def get_account(session: Session, *, seller_id: int, account_id: int) -> Account:
    """The seller's account ``account_id`` (NotFound for another seller's)."""
    account = session.scalar(
        select(Account).where(Account.id == account_id, Account.seller_id == seller_id)
    )
    if account is None:
        raise NotFound(f"account {account_id} not found", code="ACCOUNT_NOT_FOUND")
    return account


def list_accounts(session: Session, *, seller_id: int) -> list[Account]:
    return list(
        session.scalars(select(Account).where(Account.seller_id == seller_id).order_by(Account.id))
    )


def _sub_account_role(role: str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}", code="UNKNOWN_ROLE",
            details=[{"field": "role", "problem": f"one of {sorted(r.value for r in Role)}"}],
        ) from None
    if parsed not in SUB_ACCOUNT_ROLES:
        raise InvalidInput("a sub-account cannot be an owner", code="ROLE_NOT_ASSIGNABLE",
                           details=[{"field": "role", "problem": "owner is not assignable"}])
    return parsed


def checked_password(password: str) -> str:
    """``password`` if it is strong enough, else :class:`InvalidInput` ``WEAK_PASSWORD``."""
    try:
        security.check_password_strength(password)
    except security.WeakPassword as exc:
        raise InvalidInput(str(exc), code="WEAK_PASSWORD",
                           details=[{"field": "password", "problem": str(exc)}]) from None
    return password


def _email_free(
    session: Session, email: str, *, seller_id: int, except_id: int | None = None
) -> str:
    """``email`` normalised, when no other account of this seller uses it.

    Other sellers' accounts are not looked at: an email is unique per seller, so whether
    another seller uses an address is never revealed (sign-in tells the accounts of one
    email apart by their passwords, :func:`sign_in`)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidInput("not an email address", code="INVALID_EMAIL",
                           details=[{"field": "email", "problem": "not an email address"}])
    taken = session.scalar(
        select(Account.id).where(Account.email == email, Account.seller_id == seller_id))
    if taken is not None and taken != except_id:
        raise Conflict("another account of this seller uses this email",
                       code="EMAIL_UNAVAILABLE")
    return email


def create_sub_account(
    session: Session, *, seller_id: int, email: str, name: str, role: str, password: str
) -> Account:
    """A new sub-account (not an owner) with a password; it signs in with its email."""
    account = Account(
        seller_id=seller_id,
        email=_email_free(session, email, seller_id=seller_id),
        name=name.strip(),
        role=_sub_account_role(role).value,
        password_hash=security.hash_password(checked_password(password)),
        disabled=False,
        totp_enabled=False,
        failed_signins=0,
    )
    session.add(account)
    session.flush()
    return account


def update_sub_account(
    session: Session,
    *,
    seller_id: int,
    account_id: int,
    role: str | None = None,
    name: str | None = None,
    disabled: bool | None = None,
) -> Account:
    """Change a sub-account's role, name or disabled flag (the owner account is not editable
    here). Disabling revokes its sessions; its keys stop working on the next request."""
    account = get_account(session, seller_id=seller_id, account_id=account_id)
    if account.role == Role.OWNER.value:
        raise Forbidden("the owner account cannot be changed here", code="OWNER_NOT_EDITABLE")
    if role is not None:
        account.role = _sub_account_role(role).value
    if name is not None:
        account.name = name.strip()
    if disabled is not None:
        account.disabled = disabled
        if disabled:
            revoke_sessions(session, account_id=account.id)
    account.updated_at = utcnow()
    return account


def reset_totp(session: Session, *, seller_id: int, account_id: int) -> Account:
    """Owner action for a lost authenticator: the sub-account enrols again at next sign-in."""
    account = get_account(session, seller_id=seller_id, account_id=account_id)
    account.totp_secret, account.totp_enabled, account.totp_last_step = None, False, None
    revoke_sessions(session, account_id=account.id)
    return account


def set_require_2fa(session: Session, *, seller_id: int, required: bool) -> Seller:
    seller = session.get(Seller, seller_id)
    if seller is None:  # pragma: no cover - an authenticated caller's seller exists
        raise NotFound("seller not found")
    seller.require_2fa = required
    return seller


# --- API keys -------------------------------------------------------------------------------


def issue_key(
    session: Session,
    *,
    seller_id: int,
    account_id: int,
    lifetime: timedelta,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the account: the row and the plaintext key (returned only now). It
    expires at ``expires_at`` (UTC when naive), or ``lifetime`` from now."""
    account = get_account(session, seller_id=seller_id, account_id=account_id)
    if account.disabled:
        raise Conflict("the account is disabled", code="ACCOUNT_DISABLED")
    live = session.scalars(
        select(ApiKey.id).where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
    ).all()
    if len(live) >= MAX_KEYS_PER_ACCOUNT:
        raise Conflict(f"an account has at most {MAX_KEYS_PER_ACCOUNT} active keys",
                       code="TOO_MANY_KEYS")
    now = utcnow()
    if expires_at is None:
        expires_at = now + lifetime
    elif expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= now:
        raise InvalidInput("expires_at is in the past", code="INVALID_EXPIRY",
                           details=[{"field": "expires_at", "problem": "must be in the future"}])
    plaintext = security.generate_api_key()
    key = ApiKey(
        seller_id=seller_id,
        account_id=account.id,
        key_hash=security.hash_api_key(plaintext),
        prefix=security.key_hint(plaintext),
        name=name.strip(),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def list_keys(session: Session, *, seller_id: int, account_id: int) -> list[ApiKey]:
    get_account(session, seller_id=seller_id, account_id=account_id)
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.account_id == account_id, ApiKey.seller_id == seller_id)
            .order_by(ApiKey.id)
        )
    )


def revoke_key(session: Session, *, seller_id: int, account_id: int, key_id: int) -> ApiKey:
    """Revoke a key; it fails authentication from the next request on (idempotent)."""
    key = session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.account_id == account_id, ApiKey.seller_id == seller_id
        )
    )
    if key is None:
        raise NotFound(f"api key {key_id} not found", code="API_KEY_NOT_FOUND")
    if key.revoked_at is None:
        if _owner_keeps_no_key(session, key):
            raise Conflict("this is the owner's last active key: issue another before revoking "
                           "it (or `peakline seller owner-key`)", code="LAST_OWNER_KEY")
        key.revoked_at = utcnow()
    return key


def _owner_keeps_no_key(session: Session, key: ApiKey) -> bool:
    """True when ``key`` is an owner's and no other active key of that owner would remain."""
    role = session.scalar(select(Account.role).where(Account.id == key.account_id))
    if role != Role.OWNER.value:
        return False
    now = utcnow()
    others = session.scalar(
        select(func.count()).select_from(ApiKey).where(
            ApiKey.account_id == key.account_id, ApiKey.id != key.id,
            ApiKey.revoked_at.is_(None), ApiKey.expires_at > now))
    return not others


def owner_of(session: Session, *, client_id: str) -> Account:
    """The owner account of seller ``client_id`` (NotFound for an unknown seller)."""
    owner = session.scalar(
        select(Account).join(Seller, Seller.id == Account.seller_id)
        .where(Seller.client_id == client_id.strip(), Account.role == Role.OWNER.value)
        .order_by(Account.id))
    if owner is None:
        raise NotFound(f"no seller with Client-Id {client_id}", code="SELLER_NOT_FOUND")
    return owner


def issue_owner_key(session: Session, *, client_id: str, lifetime: timedelta) -> tuple[int, str]:
    """A new key for the owner of the seller ``client_id`` (operators' recovery, CLI only)."""
    owner = owner_of(session, client_id=client_id)
    key, plaintext = issue_key(session, seller_id=owner.seller_id, account_id=owner.id,
                               lifetime=lifetime, name="owner key (peakline seller owner-key)")
    return key.id, plaintext


def set_owner_sign_in(session: Session, *, client_id: str, email: str) -> tuple[Account, str]:
    """Give the owner of seller ``client_id`` a sign-in email and a new random password
    (operators, CLI only: the first sign-in to the console); returns the password."""
    owner = owner_of(session, client_id=client_id)
    set_email(session, account=owner, email=email)
    password = security.generate_token(12)
    owner.password_hash = security.hash_password(checked_password(password))
    owner.disabled = False
    revoke_sessions(session, account_id=owner.id)
    return owner, password


# --- people: passwords, TOTP, sessions ------------------------------------------------------


def set_password(
    session: Session, *, account: Account, new_password: str, current_password: str | None,
    via_session: bool, keep_session_id: int | None = None,
) -> None:
    """Set the caller's password. A signed-in person must give the current one; an owner
    key may set the first password of an account that has none. Every session of the
    account but ``keep_session_id`` (the one changing it) is signed out: whoever knew the
    old password is no longer signed in."""
    check_current_password(account, current_password, via_session=via_session)
    account.password_hash = security.hash_password(checked_password(new_password))
    revoke_sessions(session, account_id=account.id, except_id=keep_session_id)


def check_current_password(
    account: Account, current_password: str | None, *, via_session: bool
) -> None:
    """Forbidden ``WRONG_PASSWORD`` unless ``current_password`` is the account's password
    (an account without one, set up with an owner key, has nothing to check). A signed-in
    person who leaves it out is simply wrong; a key holder is told to give it."""
    if not account.password_hash:
        return
    if current_password is None and not via_session:
        raise Forbidden("give current_password to change the sign-in password or email",
                        code="WRONG_PASSWORD")
    if not security.verify_password(account.password_hash, current_password or ""):
        raise Forbidden("the current password is wrong", code="WRONG_PASSWORD")


def change_email(
    session: Session, *, account: Account, email: str, current_password: str | None,
    via_session: bool,
) -> None:
    """The caller's new sign-in email, once the current password is given (as for a new
    password: whoever holds a session or key alone cannot take the account over by
    pointing password resets at an address of theirs)."""
    check_current_password(account, current_password, via_session=via_session)
    set_email(session, account=account, email=email)


def set_email(session: Session, *, account: Account, email: str) -> None:
    account.email = _email_free(session, email, seller_id=account.seller_id,
                                except_id=account.id)


def begin_totp(session: Session, *, account: Account) -> tuple[str, str]:
    """Start (or restart) enrolment: a new secret and its ``otpauth://`` URI.

    The secret is active only after :func:`confirm_totp`; until then sign-in ignores it.
    """
    if account.totp_enabled:
        raise Conflict("two-factor authentication is already enabled",
                       code="TOTP_ALREADY_ENABLED")
    secret = security.new_totp_secret()
    account.totp_secret = secret
    label = account.email or f"account-{account.id}"
    return secret, security.totp_provisioning_uri(secret, label)


def confirm_totp(
    session: Session, *, account: Account, code: str, session_id: int | None,
    now: datetime | None = None,
) -> None:
    """Enable TOTP once the person proves the app shows valid codes; a pending-2FA session
    becomes a full one."""
    if account.totp_enabled:
        raise Conflict("two-factor authentication is already enabled",
                       code="TOTP_ALREADY_ENABLED")
    if not account.totp_secret:
        raise Conflict("start enrolment first", code="TOTP_NOT_STARTED")
    step = security.verify_totp(account.totp_secret, code, now or utcnow())
    if step is None:
        raise InvalidInput("the code is wrong or expired", code="INVALID_TOTP_CODE",
                           details=[{"field": "code", "problem": "wrong or expired"}])
    account.totp_enabled, account.totp_last_step = True, step
    if session_id is not None:
        session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id)
            .values(second_factor_passed=True, expires_at=utcnow() + SESSION_TTL)
        )


def revoke_sessions(session: Session, *, account_id: int, only_id: int | None = None,
                    except_id: int | None = None) -> None:
    """Sign out the account's sessions: all, ``only_id``, or all but ``except_id``."""
    query = update(AuthSession).where(
        AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None)
    )
    if only_id is not None:
        query = query.where(AuthSession.id == only_id)
    if except_id is not None:
        query = query.where(AuthSession.id != except_id)
    session.execute(query.values(revoked_at=utcnow()))


def resolve_session(session: Session, *, token: str, now: datetime | None = None) -> Caller | None:
    """The caller behind a session token, or None (unknown, expired, revoked, disabled)."""
    now = now or utcnow()
    row = session.execute(
        select(AuthSession.id, AuthSession.expires_at, AuthSession.revoked_at,
               AuthSession.second_factor_passed, Account.id, Account.role, Account.disabled,
               Seller.id, Seller.client_id)
        .join(Account, Account.id == AuthSession.account_id)
        .join(Seller, Seller.id == Account.seller_id)
        .where(AuthSession.token_hash == security.hash_api_key(token))
    ).first()
    if row is None:
        return None
    sid, expires_at, revoked_at, second_ok, account_id, role, disabled, seller_id, client = row
    if revoked_at is not None or disabled or expires_at <= now:
        return None
    identity = SellerIdentity(seller_id, client, account_id, Role(role), 0)
    return Caller(identity=identity, session_id=sid, second_factor_ok=second_ok)


# --- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in attempt produced. ``status`` is ``ok``, ``enrol`` (signed in, must set
    up TOTP first), ``bad`` (wrong email/password/code: one answer for all), ``totp_needed``
    (right password, code missing) or ``throttled``."""

    status: str
    token: str | None = None
    expires_at: datetime | None = None
    account: Account | None = None
    retry_after_s: float = 0.0
    locked: bool = False


def gate_and_record(
    session: Session, *, email: str, ip: str, now: datetime, policy: security.ThrottlePolicy
) -> tuple[security.Gate, int | None]:
    """Throttling check and a *pessimistic* attempt record (failed until proven right), in
    one short transaction, so concurrent guesses count against each other."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(_advisory_xact_lock(email))  # serialise attempts for one email
        )
    since = now - max(policy.window, policy.lockout)
    if secrets.randbelow(200) == 0:  # now and then, forget attempts nobody looks at any more
        session.execute(
            delete(LoginAttempt).where(LoginAttempt.at < min(since, now - timedelta(days=1)))
        )
    history = [
        security.Attempt(at, ok)
        for at, ok in session.execute(
            select(LoginAttempt.at, LoginAttempt.succeeded)
            .where(LoginAttempt.email == email, LoginAttempt.ip == ip[:64],
                   LoginAttempt.at >= since)
            .order_by(LoginAttempt.at)
        )
    ]
    gate = security.sign_in_gate(history, now, policy)
    if not gate.allowed:
        return gate, None
    attempt = LoginAttempt(email=email, ip=ip[:64], succeeded=False, at=now)
    session.add(attempt)
    session.flush()
    return gate, attempt.id


def _advisory_xact_lock(email: str):  # noqa: ANN202 - a SQL expression
    return func.pg_advisory_xact_lock(func.hashtextextended(email, 0))


#: Accounts of one email (of different sellers) a sign-in checks the password against.
MAX_ACCOUNTS_PER_EMAIL = 5


def find_for_sign_in(session: Session, *, email: str) -> list[Account]:
    """The accounts using ``email``, oldest first (one per seller at most)."""
    return list(session.scalars(
        select(Account).where(Account.email == email).order_by(Account.id)
        .limit(MAX_ACCOUNTS_PER_EMAIL)))


def complete_sign_in(
    session: Session, *, attempt_id: int, account: Account, totp_step: int | None,
    second_factor_ok: bool, now: datetime,
) -> tuple[str, datetime] | None:
    """Mark the attempt good, remember the TOTP step (single use), open a session.

    Returns None when a concurrent sign-in already used this TOTP step (replay).
    """
    if totp_step is not None:
        used = session.execute(
            update(Account)
            .where(Account.id == account.id)
            .where(or_(Account.totp_last_step.is_(None), Account.totp_last_step < totp_step))
            .values(totp_last_step=totp_step)
        )
        if not used.rowcount:
            return None
    session.execute(
        update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True)
    )
    token = security.generate_token()
    expires = now + (SESSION_TTL if second_factor_ok else ENROLMENT_SESSION_TTL)
    session.add(AuthSession(account_id=account.id, token_hash=security.hash_api_key(token),
                            second_factor_passed=second_factor_ok, created_at=now,
                            expires_at=expires))
    return token, expires


def sign_in(
    db: Database,
    *,
    email: str,
    password: str,
    code: str | None,
    ip: str = "",
    now: datetime | None = None,
    policy: security.ThrottlePolicy = security.DEFAULT_THROTTLE,
) -> SignInOutcome:
    """Email + password (+ TOTP code) -> a session, throttled per (client address, email).

    The slow password check runs outside any transaction. An unknown email, a disabled
    account, a wrong password and a wrong code all give the same ``bad`` outcome, cost the
    same argon2 verification and count against the same throttle.
    """
    now = now or utcnow()
    email = normalise_email(email)[:320]
    with db.session() as session:
        gate, attempt_id = gate_and_record(session, email=email, ip=ip, now=now, policy=policy)
        candidates = find_for_sign_in(session, email=email) if attempt_id is not None else []
    if attempt_id is None:
        return SignInOutcome("throttled", retry_after_s=gate.retry_after_s, locked=gate.locked)
    account = _password_owner(candidates, password)
    if account is None or account.disabled:
        return _failed(db, attempt_id, SignInOutcome("bad"))
    with db.read_session() as session:
        require_2fa = bool(session.scalar(
            select(Seller.require_2fa).where(Seller.id == account.seller_id)))
    step: int | None = None
    if account.totp_enabled and account.totp_secret:
        if not code:
            return _failed(db, attempt_id, SignInOutcome("totp_needed"))
        step = security.verify_totp(account.totp_secret, code, now, account.totp_last_step)
        if step is None:
            return _failed(db, attempt_id, SignInOutcome("bad"))
    second_factor_ok = (
        account.totp_enabled or not require_2fa or account.role == Role.OWNER.value
    )
    with db.session() as session:
        opened = complete_sign_in(
            session, attempt_id=attempt_id, account=account, totp_step=step,
            second_factor_ok=second_factor_ok, now=now,
        )
    if opened is None:
        return _failed(db, attempt_id, SignInOutcome("bad"))
    token, expires = opened
    return SignInOutcome("ok" if second_factor_ok else "enrol", token=token, expires_at=expires,
                         account=account)


def _password_owner(candidates: list[Account], password: str) -> Account | None:
    """The first account whose password this is (one verification at least, so an unknown
    email costs what a known one does)."""
    for account in candidates:
        if security.verify_password(account.password_hash, password):
            return account
    if not candidates:
        security.verify_password(None, password)
    return None


def _failed(db: Database, attempt_id: int, outcome: SignInOutcome) -> SignInOutcome:
    """Date a failed attempt when it was answered: throttling delays count from there."""
    with db.session() as session:
        session.execute(
            update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(at=utcnow())
        )
    return outcome
