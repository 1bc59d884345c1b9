"""``GET /auth/whoami``: who the caller is, so a UI can show what it may do.

The console uses it to greet the signed-in user and to show the approvals
inbox read-only to callers without the approver role (the API refuses their
decisions with 403 ``auth.forbidden`` either way).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from graphwright.api.access import PrincipalDep

__all__ = ["router"]

router = APIRouter(tags=["auth"])


@router.get("/auth/whoami")
async def whoami(principal: PrincipalDep) -> dict[str, Any]:
    """The caller's id, name, tenant, roles and thread-metadata scope (never a secret)."""
    return {
        "id": principal.id,
        "name": principal.name,
        "kind": principal.kind,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "scope": dict(principal.scope),
    }
