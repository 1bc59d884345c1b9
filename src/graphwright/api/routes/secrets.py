"""The tenant's secrets for node code: ``/secrets`` (set, list, delete). Values never leave.

Responses carry names and times only. A value is accepted in a request body
and goes straight to the encrypted store; it is in no response, problem or log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.store.secrets import MAX_SECRET_BYTES, SECRET_NAME_PATTERN, SecretStore

__all__ = ["SecretBody", "router"]

router = APIRouter(tags=["secrets"], route_class=GuardedRoute)  # admin only (api/access.py)


def _secrets(services: ServicesDep) -> SecretStore:
    return services.secrets


SecretsDep = Annotated[SecretStore, Depends(_secrets)]
SecretName = Annotated[
    str,
    Path(
        pattern=SECRET_NAME_PATTERN.pattern,
        description="Secret name: a letter, then letters, digits, '_', '.' or '-'.",
    ),
]


class SecretBody(BaseModel):
    """A secret's new value."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: str = Field(
        min_length=1, max_length=MAX_SECRET_BYTES, description="The value (never returned)."
    )


@router.put(
    "/secrets/{name}",
    responses={
        201: {
            "description": "Created (200: replaced).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def set_secret(
    name: SecretName,
    body: SecretBody,
    secrets: SecretsDep,
    tenant: TenantDep,
    response: Response,
) -> dict[str, Any]:
    """Create (201) or replace (200) a secret of the tenant; the answer has no value."""
    info = await secrets.set(tenant, name, body.value)
    response.status_code = 201 if info.created else 200
    return {**info.to_dict(), "created": info.created}


@router.get("/secrets")
async def list_secrets(secrets: SecretsDep, tenant: TenantDep) -> dict[str, Any]:
    """The tenant's secrets: names and times, never values."""
    return {"secrets": [info.to_dict() for info in await secrets.list(tenant)]}


@router.delete("/secrets/{name}", status_code=204)
async def delete_secret(name: SecretName, secrets: SecretsDep, tenant: TenantDep) -> Response:
    """Delete a secret of the tenant (404 ``secrets.not_found``)."""
    await secrets.delete(tenant, name)
    return Response(status_code=204)
