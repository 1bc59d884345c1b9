"""Request dependencies: the services and the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from graphwright.runtime.process import Runtime as Services

__all__ = ["ServicesDep", "TenantDep", "get_services", "get_tenant"]


def get_services(request: Request) -> Services:
    """The process's services (set by the lifespan)."""
    services: Services = request.app.state.services
    return services


def get_tenant(request: Request) -> str:
    """The caller's tenant: the authenticated principal's (``GW_TENANT`` without auth)."""
    from graphwright.api.access import current_principal

    return current_principal(request).tenant


ServicesDep = Annotated[Services, Depends(get_services)]
TenantDep = Annotated[str, Depends(get_tenant)]
