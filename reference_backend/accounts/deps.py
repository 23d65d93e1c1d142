"""Who is calling an account or webhook route: a person's session or a seller API key.

People sign in (``POST /peakline/v1/accounts/sign-in``) and send ``Authorization: Bearer
<session token>``; machines send ``Client-Id`` + ``Api-Key`` as on every seller route.
Either way the caller becomes a :class:`~reference_backend.auth.SellerIdentity` and the
one permission table decides (:func:`require_person_or_key`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header

from reference_backend.accounts import service
from reference_backend.auth import (
    MISSING_ROLE,
    DbDep,
    SellerIdentity,
    authenticate_seller,
)
from reference_backend.errors import ApiError
from reference_backend.permissions import Action, RouteGroup, is_allowed

SESSION_REQUIRED = "sign in again: the session is missing, expired or revoked"
SECOND_FACTOR_REQUIRED = "two-factor authentication must be set up before using this method"


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def caller(
    db: DbDep,
    client_id: Annotated[str | None, Header(alias="Client-Id", include_in_schema=False)] = None,
    api_key: Annotated[str | None, Header(alias="Api-Key", include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> service.Caller:
    """The session or API key behind the request (401 when neither is valid)."""
    token = _bearer(authorization)
    if token and not api_key:
        with db.read_session() as session:
            found = service.resolve_session(session, token=token)
        if found is None:
            raise ApiError(401, SESSION_REQUIRED, code="UNAUTHENTICATED",
                           headers={"WWW-Authenticate": "Bearer"})
        return found
    identity = authenticate_seller(db, client_id, api_key)
    return service.Caller(identity=identity, session_id=None, second_factor_ok=True)


CallerDep = Annotated[service.Caller, Depends(caller)]


def require_person_or_key(
    group: RouteGroup | str, action: Action | str, *, allow_pending_2fa: bool = False
) -> Any:
    """``Depends`` returning the caller's identity when the permission table allows it.

    A session still waiting for its second factor (the seller requires 2FA and the person
    has not enrolled yet) may only use routes declared with ``allow_pending_2fa``.
    """
    group, action = RouteGroup(group), Action(action)

    def dependency(who: CallerDep) -> SellerIdentity:
        if not who.second_factor_ok and not allow_pending_2fa:
            raise ApiError(403, SECOND_FACTOR_REQUIRED, code="SECOND_FACTOR_REQUIRED")
        if not is_allowed(who.identity.role, group, action):
            raise ApiError(403, MISSING_ROLE, code="PERMISSION_DENIED")
        return who.identity

    dependency.peakline_permission = (group, action)  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{group.value}_{action.value}"
    return Depends(dependency)
