"""``POST /v1/roles`` (§8.3): the roles of the calling key, from the one permission table."""

from __future__ import annotations

from fastapi import APIRouter, Request

from reference_backend.analytics import schemas as A
from reference_backend.auth import route_permissions
from reference_backend.deps import DbDep, RolesRead
from reference_backend.permissions import RouteSpec, ozon_roles
from reference_backend.tables import ApiKey

router = APIRouter(tags=["Ozon: API key"])


def _routes(request: Request) -> list[RouteSpec]:
    cached = getattr(request.app.state, "ozon_route_permissions", None)
    if cached is None:
        cached = route_permissions(request.app)
        request.app.state.ozon_route_permissions = cached
    return cached


@router.post("/v1/roles", response_model=A.RolesResponse)
def roles(seller: RolesRead, db: DbDep, request: Request) -> A.RolesResponse:
    """Each route group the key's role may use, with the method paths it may call."""
    with db.read_session() as session:
        key = session.get(ApiKey, seller.api_key_id)
        expires_at = key.expires_at if key is not None else None
    entries = ozon_roles(seller.role, _routes(request))
    return A.RolesResponse(
        expires_at=expires_at, roles=[A.RoleEntry.model_validate(e) for e in entries]
    )
