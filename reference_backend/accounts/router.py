"""``/peakline/v1/accounts``: sign-in, the caller's own profile and 2FA, and the owner's
administration of sub-accounts and their API keys. Thin: parse, authorise, call
:mod:`reference_backend.accounts.service`, shape the answer."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, FastAPI, Path, Request
from starlette.concurrency import run_in_threadpool

from reference_backend.accounts import schemas as s
from reference_backend.accounts import service
from reference_backend.accounts.config import sign_in_settings, throttle_policy
from reference_backend.accounts.deps import CallerDep, require_person_or_key
from reference_backend.accounts.guard import SignInGuard
from reference_backend.auth import DbDep, SellerIdentity
from reference_backend.errors import ApiError
from reference_backend.permissions import Action, RouteGroup
from reference_backend.tables import Account, Seller

router = APIRouter(prefix="/peakline/v1/accounts", tags=["accounts"])

G, READ, WRITE = RouteGroup, Action.READ, Action.WRITE
Owner = Annotated[SellerIdentity, require_person_or_key(G.ACCOUNTS, WRITE)]
OwnerRead = Annotated[SellerIdentity, require_person_or_key(G.ACCOUNTS, READ)]
Me = Annotated[SellerIdentity, require_person_or_key(G.PROFILE, READ)]
MeWrite = Annotated[SellerIdentity, require_person_or_key(G.PROFILE, WRITE)]
Enrolling = Annotated[
    SellerIdentity, require_person_or_key(G.PROFILE, WRITE, allow_pending_2fa=True)
]

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]

T = TypeVar("T")

BAD_SIGN_IN = "email, password or one-time code is wrong"


# --- sign-in (no authentication) ------------------------------------------------------------


def sign_in_guard(app: FastAPI) -> SignInGuard:
    """The process's admission of sign-ins (and of password-reset requests)."""
    guard = getattr(app.state, "sign_in_guard", None)
    if guard is None:
        config = sign_in_settings()
        guard = app.state.sign_in_guard = SignInGuard(
            per_address=config.per_address, concurrent_hashes=config.concurrent_hashes,
            max_waiting=config.max_waiting)
    return guard


@router.post("/sign-in", response_model=s.SignInOut, responses={401: {}, 429: {}})
async def sign_in(body: s.SignInIn, request: Request, db: DbDep) -> s.SignInOut:
    """Email + password (+ ``totp_code`` when the account has 2FA) -> a session token.

    Wrong email, password or code all answer the same 401; repeated failures from one address
    for an email answer 429 with ``Retry-After`` (an exponential backoff), whether or not it
    exists; so do too many sign-ins from one address, or too many at once
    (:mod:`reference_backend.accounts.guard`).
    """
    ip = request.client.host if request.client else ""
    guard = sign_in_guard(request.app)
    guard.admit_address(ip)
    async with guard.hashing_slot():
        out = await run_in_threadpool(
            service.sign_in, db, email=body.email, password=body.password,
            code=body.totp_code, ip=ip, policy=throttle_policy())
    if out.status == "throttled":
        wait = max(1, math.ceil(out.retry_after_s))
        what = "locked after repeated failed sign-ins" if out.locked else "throttled"
        raise ApiError(429, f"sign-in for this email is {what}; retry in {wait} s",
                       code="TOO_MANY_ATTEMPTS", headers={"Retry-After": str(wait)})
    if out.status == "totp_needed":
        raise ApiError(401, "a one-time code (totp_code) is required", code="TOTP_REQUIRED")
    if out.status != "ok" and out.status != "enrol":
        raise ApiError(401, BAD_SIGN_IN, code="INVALID_CREDENTIALS")
    assert out.token and out.expires_at and out.account
    return s.SignInOut(token=out.token, expires_at=out.expires_at,
                       totp_enrolment_required=out.status == "enrol",
                       account=s.AccountOut.of(out.account))


# --- the caller's own account ---------------------------------------------------------------


def _me(session, who: SellerIdentity) -> Account:  # noqa: ANN001
    return service.get_account(session, seller_id=who.seller_id, account_id=who.account_id)


@router.post("/sign-out", response_model=s.OkOut)
def sign_out(who: MeWrite, caller: CallerDep, db: DbDep) -> s.OkOut:
    """End the current session (a no-op for an API key)."""
    if caller.session_id is not None:
        with db.session() as session:
            service.revoke_sessions(session, account_id=who.account_id, only_id=caller.session_id)
    return s.OkOut()


@router.get("/me", response_model=s.AccountOut)
def get_me(who: Me, db: DbDep) -> s.AccountOut:
    with db.read_session() as session:
        return s.AccountOut.of(_me(session, who))


async def guarded_password_check(app: FastAPI, request: Request, change: Callable[[], T]) -> T:
    """Run ``change`` (which checks a password) behind ``app``'s sign-in guard: the address's
    sign-in rate and the bounded hashing slots (:class:`ApiError` 429 past them)."""
    guard = sign_in_guard(app)
    guard.admit_address(request.client.host if request.client else "")
    async with guard.hashing_slot():
        return await run_in_threadpool(change)


@router.patch("/me", response_model=s.AccountOut, responses={403: {}, 429: {}})
async def patch_me(
    body: s.MePatch, who: MeWrite, caller: CallerDep, db: DbDep, request: Request
) -> s.AccountOut:
    """Set the caller's display name, or sign-in email: that needs ``current_password`` once
    the account has a password (403 ``WRONG_PASSWORD``, and the sign-in guard's 429, as for
    a new password)."""

    def patch() -> s.AccountOut:
        with db.session() as session:
            account = _me(session, who)
            if body.email is not None:
                service.change_email(session, account=account, email=body.email,
                                     current_password=body.current_password,
                                     via_session=caller.session_id is not None)
            if body.name is not None:
                account.name = body.name
            return s.AccountOut.of(account)

    if body.email is None:
        return await run_in_threadpool(patch)
    return await guarded_password_check(request.app, request, patch)


@router.post("/me/password", response_model=s.OkOut, responses={403: {}, 429: {}})
async def set_password(
    body: s.PasswordIn, who: MeWrite, caller: CallerDep, db: DbDep, request: Request
) -> s.OkOut:
    """Set the caller's password (the current one is needed once a password exists); the
    account's other sessions are signed out."""

    def change() -> None:
        with db.session() as session:
            service.set_password(session, account=_me(session, who),
                                 new_password=body.new_password,
                                 current_password=body.current_password,
                                 via_session=caller.session_id is not None,
                                 keep_session_id=caller.session_id)

    await guarded_password_check(request.app, request, change)
    return s.OkOut()


@router.post("/me/totp", response_model=s.TotpOut)
def begin_totp(who: Enrolling, db: DbDep) -> s.TotpOut:
    """Start 2FA enrolment: a secret and its ``otpauth://`` URI for an authenticator app."""
    with db.session() as session:
        secret, uri = service.begin_totp(session, account=_me(session, who))
    return s.TotpOut(secret=secret, provisioning_uri=uri)


@router.post("/me/totp/confirm", response_model=s.OkOut)
def confirm_totp(body: s.TotpConfirmIn, who: Enrolling, caller: CallerDep, db: DbDep) -> s.OkOut:
    """Finish enrolment with a current code; from now on sign-in needs a code."""
    with db.session() as session:
        service.confirm_totp(session, account=_me(session, who), code=body.code,
                             session_id=caller.session_id)
    return s.OkOut()


# --- the owner's administration -------------------------------------------------------------


@router.get("", response_model=s.AccountsOut)
def list_accounts(who: OwnerRead, db: DbDep) -> s.AccountsOut:
    with db.read_session() as session:
        accounts = service.list_accounts(session, seller_id=who.seller_id)
        seller = session.get(Seller, who.seller_id)
        return s.AccountsOut(accounts=[s.AccountOut.of(a) for a in accounts],
                             require_2fa=bool(seller and seller.require_2fa))


@router.post("", response_model=s.AccountOut, status_code=201)
def create_account(body: s.AccountIn, who: Owner, db: DbDep) -> s.AccountOut:
    """Create a sub-account (role sales, customer_service, warehouse or analyst)."""
    with db.session() as session:
        account = service.create_sub_account(
            session, seller_id=who.seller_id, email=body.email, name=body.name, role=body.role,
            password=body.password,
        )
        return s.AccountOut.of(account)


@router.put("/policy", response_model=s.PolicyOut)
def set_policy(body: s.PolicyIn, who: Owner, db: DbDep) -> s.PolicyOut:
    """Require (or stop requiring) 2FA of every sub-account at sign-in."""
    with db.session() as session:
        seller = service.set_require_2fa(session, seller_id=who.seller_id,
                                         required=body.require_2fa)
        return s.PolicyOut(require_2fa=seller.require_2fa)


@router.get("/{account_id:int}", response_model=s.AccountOut)
def get_account(account_id: Id, who: OwnerRead, db: DbDep) -> s.AccountOut:
    with db.read_session() as session:
        return s.AccountOut.of(
            service.get_account(session, seller_id=who.seller_id, account_id=account_id)
        )


@router.patch("/{account_id:int}", response_model=s.AccountOut)
def update_account(account_id: Id, body: s.AccountPatch, who: Owner, db: DbDep) -> s.AccountOut:
    """Change a sub-account's role or name, or disable it (its keys stop working at once)."""
    with db.session() as session:
        account = service.update_sub_account(
            session, seller_id=who.seller_id, account_id=account_id, role=body.role,
            name=body.name, disabled=body.disabled,
        )
        return s.AccountOut.of(account)


@router.post("/{account_id:int}/totp/reset", response_model=s.AccountOut)
def reset_totp(account_id: Id, who: Owner, db: DbDep) -> s.AccountOut:
    """Clear a sub-account's 2FA (lost phone); it enrols again at its next sign-in."""
    with db.session() as session:
        return s.AccountOut.of(
            service.reset_totp(session, seller_id=who.seller_id, account_id=account_id)
        )


@router.get("/{account_id:int}/api-keys", response_model=s.KeysOut)
def list_keys(account_id: Id, who: OwnerRead, db: DbDep) -> s.KeysOut:
    """The account's keys (hints only: a key itself is never shown again)."""
    with db.read_session() as session:
        keys = service.list_keys(session, seller_id=who.seller_id, account_id=account_id)
        return s.KeysOut(api_keys=[s.KeyOut.of(k) for k in keys])


@router.post("/{account_id:int}/api-keys", response_model=s.NewKeyOut, status_code=201)
def issue_key(
    account_id: Id, body: s.KeyIn, who: Owner, db: DbDep, request: Request
) -> s.NewKeyOut:
    """Issue a key for the account, expiring at ``expires_at`` (default: in
    ``PEAKLINE_API_KEY_LIFETIME_DAYS``); ``api_key`` in this answer is the only copy."""
    lifetime = timedelta(days=request.app.state.settings.api_key_lifetime_days)
    with db.session() as session:
        key, plaintext = service.issue_key(
            session, seller_id=who.seller_id, account_id=account_id, name=body.name,
            expires_at=body.expires_at, lifetime=lifetime,
        )
        return s.NewKeyOut(**s.KeyOut.of(key).model_dump(), api_key=plaintext,
                           client_id=who.client_id)


@router.delete("/{account_id:int}/api-keys/{key_id}", response_model=s.KeyOut)
def revoke_key(account_id: Id, key_id: Id, who: Owner, db: DbDep) -> s.KeyOut:
    """Revoke a key: the next request with it is refused (401)."""
    with db.session() as session:
        return s.KeyOut.of(
            service.revoke_key(session, seller_id=who.seller_id, account_id=account_id,
                               key_id=key_id)
        )
