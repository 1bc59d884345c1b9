"""Liveness, readiness and Prometheus metrics: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from graphwright.api.deps import ServicesDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.problems import problem
from graphwright.runtime.metrics import CONTENT_TYPE_LATEST

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=GuardedRoute)


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is alive (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses={503: {"description": "A dependency is unavailable (problem+json, `checks`)."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: PostgreSQL reachable, Redis reachable if configured, migrations applied."""
    checks = await services.readiness.check()
    body = {check.name: check.to_dict() for check in checks}
    failed = [check.name for check in checks if not check.ok]
    if failed:
        return problem(
            503,
            "service.not_ready",
            f"not ready: {', '.join(f'{c.name} ({c.detail})' for c in checks if not c.ok)}",
            extra={"checks": body, "failed": failed},
        )
    return JSONResponse({"status": "ready", "checks": body})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(await services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
