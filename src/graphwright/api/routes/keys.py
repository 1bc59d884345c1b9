"""The tenant's API keys (admin role): ``/keys`` list, create (shown once), revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.auth.principal import ROLES
from graphwright.store.api_keys import ApiKeyStore

__all__ = ["KeyBody", "router"]

router = APIRouter(tags=["keys"], route_class=GuardedRoute)  # admin only (api/access.py)


def _keys(services: ServicesDep) -> ApiKeyStore:
    return ApiKeyStore(services.pool)


KeysDep = Annotated[ApiKeyStore, Depends(_keys)]


class KeyBody(BaseModel):
    """A new key of the caller's tenant."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key.")
    roles: list[str] = Field(
        min_length=1, max_length=len(ROLES), description=f"Some of: {', '.join(ROLES)}."
    )
    scope: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        max_length=20,
        description='Thread metadata the key is limited to, e.g. {"client_id": "acme"}.',
    )
    expires_in_seconds: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86400, description="Lifetime (none: no expiry)."
    )


@router.get("/keys")
async def list_keys(keys: KeysDep, tenant: TenantDep) -> list[dict[str, Any]]:
    """The tenant's keys (never their secrets), revoked ones included."""
    return [key.to_dict() for key in await keys.list(tenant)]


@router.post("/keys", status_code=201)
async def create_key(body: KeyBody, keys: KeysDep, tenant: TenantDep) -> JSONResponse:
    """Create a key; the answer's ``key`` is the only time its text is shown."""
    expires = (
        None
        if body.expires_in_seconds is None
        else datetime.now(UTC) + timedelta(seconds=body.expires_in_seconds)
    )
    key, text = await keys.create(
        tenant, body.name, body.roles, scope=body.scope, expires_at=expires
    )
    return JSONResponse({**key.to_dict(), "key": text}, status_code=201)


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, keys: KeysDep, tenant: TenantDep) -> dict[str, Any]:
    """Revoke a key of the tenant at once (404 ``auth.key_not_found`` for another's)."""
    return (await keys.revoke(key_id, tenant=tenant)).to_dict()
