"""Who is calling: seller keys (``Client-Id`` + ``Api-Key``) and platform keys (Bearer).

Keys are looked up by their SHA-256 digest (only the digest is stored). Every seller route
declares its permission with :func:`require` (a route group and an action from
:mod:`reference_backend.permissions`, the one permission table); the dependency answers 401
for a missing/bad/revoked key, 400 for a malformed ``Client-Id``, 403 when the key's role
lacks the permission. Typed aliases in the FastAPI style::

    @router.post("/v3/posting/fbs/list")
    def posting_list(
        body: Req, seller: Annotated[SellerIdentity, require(G.POSTINGS, READ)], db: DbDep
    ): ...

``/marketplace/v1`` routes take :data:`PlatformAuth`. :func:`route_permissions` lists
``(path, group, action)`` of an app's routes (for ``/v1/roles`` and the README table).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import ORMExecuteState, Session, object_session
from starlette.concurrency import run_in_threadpool

from reference_backend.db import Database
from reference_backend.errors import ApiError
from reference_backend.permissions import Action, Role, RouteGroup, RouteSpec, is_allowed
from reference_backend.security import hash_api_key
from reference_backend.tables import Account, ApiKey, PlatformKey, Seller, utcnow

INVALID_KEY = "Invalid Api-Key, please check the key and try again"
DEACTIVATED_KEY = "Api-key is deactivated, use another one or generate a new one"
MISSING_ROLE = "Api-Key is missing a required role for a method"
BAD_CLIENT_ID = "Client-Id header value should be positive integer"


def hash_key(key: str) -> str:
    """The stored form of an API or platform key (hex SHA-256; see ``security.hash_api_key``)."""
    return hash_api_key(key)


async def get_db(request: Request) -> Database:
    """The app's :class:`Database` (set up by the lifespan)."""
    return request.app.state.db


DbDep = Annotated[Database, Depends(get_db)]


@dataclass(frozen=True, slots=True)
class SellerIdentity:
    """An authenticated seller key: the tenant, the account behind the key and its role."""

    seller_id: int
    client_id: str
    account_id: int
    role: Role
    api_key_id: int


@dataclass(frozen=True, slots=True)
class PlatformIdentity:
    """An authenticated marketplace platform key (``key_id`` 0 = the configured env key)."""

    key_id: int
    name: str


#: A seller key's row by its hash (built once: building it cost more than running it).
_SELLER_KEY = (
    select(
        ApiKey.id, ApiKey.revoked_at, ApiKey.expires_at, Account.id, Account.role,
        Account.disabled, Seller.id, Seller.client_id,
    )
    .join(Account, Account.id == ApiKey.account_id)
    .join(Seller, Seller.id == ApiKey.seller_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


def authenticate_seller(db: Database, client_id: str | None, api_key: str | None) -> SellerIdentity:
    """Resolve the two headers to an identity or raise :class:`ApiError` (400/401)."""
    client_id, digest = _checked_headers(client_id, api_key)
    return _verified(_lookup_key(db, client_id, digest), client_id, digest)


def _checked_headers(client_id: str | None, api_key: str | None) -> tuple[str, str]:
    """The ``Client-Id`` (stripped) and the key's digest; 401/400 for missing or malformed."""
    if not client_id or not api_key:
        raise ApiError(401, INVALID_KEY, code="UNAUTHENTICATED")
    client_id = client_id.strip()
    # (isascii: str.isdigit also accepts digits such as "²" that int() refuses)
    if not (client_id.isascii() and client_id.isdigit()) or int(client_id) <= 0:
        raise ApiError(400, BAD_CLIENT_ID, code="INVALID_ARGUMENT")
    return client_id, hash_key(api_key)


def _lookup_key(db: Database, client_id: str, digest: str) -> _KeyEntry | None:
    """The key's row as a cache entry (None: no such key for that ``Client-Id``)."""
    with db.read_connection() as conn:  # (Core: no ORM session for one row)
        row = conn.execute(_SELLER_KEY, {"key_hash": digest}).first()
    if row is None or not hmac.compare_digest(row[7], client_id):
        return None
    key_id, revoked_at, expires_at, account_id, role, disabled, seller_id, seller_client = row
    identity = SellerIdentity(seller_id, seller_client, account_id, Role(role), key_id)
    return _KeyEntry(identity, revoked_at is None and not disabled, expires_at,
                     time.monotonic(), db)


def _verified(entry: _KeyEntry | None, client_id: str, digest: str) -> SellerIdentity:
    """The entry's identity when the key works now (401 otherwise); a found key is cached."""
    if entry is None:
        raise ApiError(401, INVALID_KEY, code="UNAUTHENTICATED")
    _seller_keys[(client_id, digest)] = entry
    if not entry.active or entry.expires_at <= utcnow():
        raise ApiError(401, DEACTIVATED_KEY, code="UNAUTHENTICATED")
    return entry.identity


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    """A seller key as last read: who it is, whether it was active, until when it is valid."""

    identity: SellerIdentity
    active: bool  # not revoked, account not disabled
    expires_at: datetime
    read_at: float  # time.monotonic()
    db: Database  # (two apps of one process never share an entry)


#: Seller keys are read at most this often per process. A change made through this process
#: (revoking a key, changing or disabling its account) clears the cache at once
#: (:func:`forget_seller_keys`); one made by another worker or outside the backend is seen
#: within this time.
SELLER_KEY_CACHE_SECONDS = 1.0
_seller_keys: dict[tuple[str, str], _KeyEntry] = {}
_MAX_SELLER_KEYS = 10_000


def forget_seller_keys() -> None:
    """Drop every cached seller key (after a key, account or seller changed)."""
    _seller_keys.clear()


_CHANGED = "peakline_seller_keys_changed"
_KEY_TABLES = frozenset({ApiKey.__tablename__, Account.__tablename__, Seller.__tablename__})


def _key_row_changed(_mapper: Any, _connection: Any, target: Any) -> None:
    """A key, account or seller updated or deleted in a flush clears the cache, and again
    once committed (a key read meanwhile by another request saw the old row)."""
    session = object_session(target)
    if session is not None:
        session.info[_CHANGED] = True
    forget_seller_keys()


for _model in (ApiKey, Account, Seller):
    event.listen(_model, "after_update", _key_row_changed)
    event.listen(_model, "after_delete", _key_row_changed)


@event.listens_for(Session, "do_orm_execute")
def _keys_updated(state: ORMExecuteState) -> None:
    """The same for ``update(...)`` / ``delete(...)`` statements of those tables."""
    if (state.is_update or state.is_delete) and getattr(
            state.statement, "table", None) is not None and (
            state.statement.table.name in _KEY_TABLES):  # type: ignore[attr-defined]
        state.session.info[_CHANGED] = True
        forget_seller_keys()


@event.listens_for(Session, "after_commit")
def _keys_committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget_seller_keys()


async def authenticated_seller(request: Request) -> SellerIdentity:
    """Dependency: the calling seller key, any role (prefer :func:`require`).

    Async: a key read in the last :data:`SELLER_KEY_CACHE_SECONDS` costs no worker-thread
    hop and no query; otherwise it is read in the thread pool. The key headers are read from
    the request, not declared as ``Header`` parameters (they are not in the OpenAPI document
    either way): FastAPI's per-request handling of a declared header parameter cost ~0.1 ms
    each, on every Seller API call.
    """
    headers = request.headers
    db = request.app.state.db
    client_id, digest = _checked_headers(headers.get("client-id"), headers.get("api-key"))
    entry = _seller_keys.get((client_id, digest))
    if (entry is None or entry.db is not db
            or time.monotonic() - entry.read_at >= SELLER_KEY_CACHE_SECONDS):
        if len(_seller_keys) >= _MAX_SELLER_KEYS:
            _seller_keys.clear()
        entry = await run_in_threadpool(_lookup_key, db, client_id, digest)
    return _verified(entry, client_id, digest)


def require(group: RouteGroup | str, action: Action | str) -> Any:
    """``Depends`` that authenticates the seller key and checks ``group``/``action``.

    Use as ``seller: Annotated[SellerIdentity, require(RouteGroup.POSTINGS, Action.READ)]``.
    The key is read by calling :func:`authenticated_seller`, not as a sub-dependency (FastAPI
    solves each level of dependencies per request: one level less on every Seller API call);
    ``peakline_keys`` names it for the OpenAPI document's security.
    """
    group, action = RouteGroup(group), Action(action)

    async def dependency(request: Request) -> SellerIdentity:  # async: no thread hop
        identity = await authenticated_seller(request)
        if not is_allowed(identity.role, group, action):
            raise ApiError(403, MISSING_ROLE, code="PERMISSION_DENIED")
        return identity

    dependency.peakline_permission = (group, action)  # type: ignore[attr-defined]
    dependency.peakline_keys = authenticated_seller  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{group.value}_{action.value}"
    return Depends(dependency)


#: Platform keys are looked up at most this often per process (a revocation takes this long).
PLATFORM_KEY_CACHE_SECONDS = 5.0
_platform_cache: dict[str, tuple[PlatformIdentity, float]] = {}


async def authenticated_platform(request: Request) -> PlatformIdentity:
    """Dependency: the marketplace platform key from ``Authorization: Bearer <key>``.

    Async: a cached key costs no worker-thread hop; a lookup runs in the thread pool. The
    header is read from the request (see :func:`authenticated_seller`).
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401, "missing platform key (Authorization: Bearer <key>)", code="UNAUTHENTICATED",
            headers={"WWW-Authenticate": "Bearer"},
        )
    configured = request.app.state.settings.platform_key
    if configured and hmac.compare_digest(configured.encode(), token.encode()):
        return PlatformIdentity(0, "configured")
    digest = hash_key(token)
    cached = _platform_cache.get(digest)
    if cached is not None and time.monotonic() - cached[1] < PLATFORM_KEY_CACHE_SECONDS:
        return cached[0]
    row = await run_in_threadpool(_platform_key_row, request.app.state.db, digest)
    if row is None or row[2] is not None:
        raise ApiError(
            401, "invalid platform key", code="UNAUTHENTICATED",
            headers={"WWW-Authenticate": "Bearer"},
        )
    identity = PlatformIdentity(row[0], row[1])
    _platform_cache[digest] = (identity, time.monotonic())
    return identity


def _platform_key_row(db: Database, digest: str) -> Any:
    with db.read_session() as session:
        return session.execute(
            select(PlatformKey.id, PlatformKey.name, PlatformKey.revoked_at).where(
                PlatformKey.key_hash == digest
            )
        ).first()


PlatformAuth = Annotated[PlatformIdentity, Depends(authenticated_platform)]


def route_permissions(app: FastAPI) -> list[RouteSpec]:
    """``RouteSpec(path, group, action)`` of every route guarded by :func:`require`."""
    specs: list[RouteSpec] = []

    def walk(dependant: Any, path: str) -> None:
        permission = getattr(dependant.call, "peakline_permission", None)
        if permission is not None:
            specs.append(RouteSpec(path, permission[0], permission[1]))
        for sub in dependant.dependencies:
            walk(sub, path)

    # FastAPI >= 0.13x keeps included routers as nodes: flatten them to (full path, route).
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            walk(route.dependant, context.path or route.path)
    return specs
