"""Operations at a glance: ``GET /ops/summary`` for the caller's tenant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from graphwright.api.access import scoped
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.store.operations import OperationsStore

__all__ = ["router"]

router = APIRouter(tags=["operations"], route_class=GuardedRoute)


@router.get("/ops/summary")
async def ops_summary(request: Request, services: ServicesDep, tenant: TenantDep) -> dict[str, Any]:
    """Queue depth, running runs, runs failed in the last hour and pending approvals.

    In total and per workflow (``workflows``, sorted by id; a workflow with nothing
    to count is absent), for the caller's tenant and metadata scope: the figures
    ``/metrics`` exports as ``graphwright_queue_depth``, ``graphwright_runs``
    (``running``), ``graphwright_runs_failed_last_hour`` and
    ``graphwright_approvals_pending``.
    """
    summary = await OperationsStore(services.pool).summary(tenant, metadata=scoped(request, None))
    return summary.to_json()
