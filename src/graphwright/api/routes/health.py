"""Liveness, readiness, metrics and server info.

``/healthz``, ``/readyz``, ``/metrics`` and LangGraph Server's ``/info``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from graphwright.api.access import METRICS, Access
from graphwright.api.deps import ServicesDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.problems import problem
from graphwright.errors import GraphwrightError
from graphwright.runtime.metrics import CONTENT_TYPE_LATEST

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=GuardedRoute)


@router.get("/info")
async def info() -> dict[str, Any]:
    """What this server is, as LangGraph Server's ``/info`` says it (clients and Studio ask first).

    ``version`` is graphwright's; ``flags`` say which optional LangGraph Server
    APIs exist here (the store and crons: yes).
    """
    from importlib.metadata import PackageNotFoundError, version

    from graphwright import __version__

    try:
        langgraph = version("langgraph")
    except PackageNotFoundError:  # pragma: no cover - langgraph is a dependency
        langgraph = None
    return {
        "version": __version__,
        "graphwright_version": __version__,
        "langgraph_py_version": langgraph,
        "context": "python",
        "flags": {
            "assistants": True,
            "crons": True,
            "store": True,
            "langsmith": False,
            "langsmith_tracing_replicas": False,
        },
        "host": {"kind": "self-hosted", "project_id": None, "revision_id": None, "tenant_id": None},
    }


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """The process is alive (says nothing about its dependencies)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses={503: {"description": "A dependency is unavailable (problem+json, `checks`)."}},
)
async def readyz(services: ServicesDep, request: Request) -> JSONResponse:
    """Ready to serve: PostgreSQL reachable, Redis reachable if configured, migrations applied.

    Anyone may ask; with authentication on, only an admin or the metrics token
    sees which check failed and why.
    """
    checks = await services.readiness.check()
    failed = [check.name for check in checks if not check.ok]
    if not await _may_see_details(request):
        if failed:
            return problem(503, "service.not_ready", "not ready")
        return JSONResponse({"status": "ready"})
    body = {check.name: check.to_dict() for check in checks}
    if failed:
        return problem(
            503,
            "service.not_ready",
            f"not ready: {', '.join(f'{c.name} ({c.detail})' for c in checks if not c.ok)}",
            extra={"checks": body, "failed": failed},
        )
    return JSONResponse({"status": "ready", "checks": body})


async def _may_see_details(request: Request) -> bool:
    access: Access = request.app.state.access
    if access.open:
        return True
    try:
        principal = await access.authenticate(request)
    except GraphwrightError:
        return False
    return principal.has(METRICS)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(await services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
