"""``POST /v1/roles`` (§8.3): the roles of the calling key, from the one permission table."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import select

from reference_backend.auth import route_permissions
from reference_backend.deps import DbDep, RolesRead
from reference_backend.permissions import RouteSpec, ozon_roles
from reference_backend.schemas import OutDatetime, OzonResponse
from reference_backend.tables import ApiKey

router = APIRouter(tags=["Ozon: API key"])


class RoleEntry(OzonResponse):
    name: str
    methods: list[str] = Field(default_factory=list)


class RolesResponse(OzonResponse):
    expires_at: OutDatetime
    roles: list[RoleEntry] = Field(default_factory=list)


def _routes(request: Request) -> list[RouteSpec]:
    cached = getattr(request.app.state, "ozon_route_permissions", None)
    if cached is None:
        cached = route_permissions(request.app)
        request.app.state.ozon_route_permissions = cached
    return cached


@router.post("/v1/roles", response_model=RolesResponse)
def roles(seller: RolesRead, db: DbDep, request: Request) -> RolesResponse:
    """Each route group the key's role may use, with the method paths it may call, and when
    the key expires."""
    with db.read_session() as session:
        expires_at = session.scalar(
            select(ApiKey.expires_at).where(ApiKey.id == seller.api_key_id))
    entries = ozon_roles(seller.role, _routes(request))
    return RolesResponse(
        expires_at=expires_at, roles=[RoleEntry.model_validate(e) for e in entries]
    )
