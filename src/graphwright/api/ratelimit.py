"""Per-tenant request limits of the API (``GW_API_RATE_LIMIT``), shared through Redis.

Every authenticated request counts against its tenant's limit, in one moving
window per tenant that all API processes share (Redis; this process's memory
without it, or while Redis is unreachable). Past the limit the answer is ``429
rate_limit.exceeded`` with ``Retry-After``, so one tenant's flood leaves the
others' quota alone. Public routes (``/healthz``, ``/readyz``, ``/info``) and
``/metrics`` are exempt, and requests refused before authentication (no or bad
credentials) are not counted against any tenant.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from graphwright.api.access import METRICS, PUBLIC, RULES
from graphwright.api.problems import problem
from graphwright.errors import GraphwrightError
from graphwright.registry.rate_limits import RateLimit

__all__ = ["RequestRateLimitedError", "install_request_limits", "limit_requests"]

_EXEMPT = frozenset({PUBLIC, METRICS})


class RequestRateLimitedError(GraphwrightError):
    """A tenant made more requests than ``GW_API_RATE_LIMIT`` allows (HTTP 429)."""

    default_code = "rate_limit.exceeded"

    def __init__(self, tenant: str, limit: RateLimit, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many requests for tenant '{tenant}' (limit {limit.describe()}); retry after "
            f"{self.retry_after} s",
            code="rate_limit.exceeded",
            details={"limit": limit.describe(), "retry_after": self.retry_after},
        )


async def limit_requests(request: Request) -> None:
    """Application-wide dependency, after the access guard: count the request.

    Raises:
        RequestRateLimitedError: the tenant's window is full.
    """
    limit: RateLimit | None = getattr(request.app.state, "request_limit", None)
    principal = getattr(request.state, "principal", None)
    if limit is None or principal is None:
        return  # no limit, or a public route (the guard set no principal)
    route = request.scope.get("route")
    method = "GET" if request.method == "HEAD" else request.method
    rule = RULES.get((method, getattr(route, "path", "")))
    if rule is None or rule.role in _EXEMPT:
        return
    services = request.app.state.services
    retry_after = await services.rate_limits.try_acquire(limit, "api", principal.tenant)
    if retry_after is None:
        return
    services.metrics.observe_request_limited(principal.tenant)
    raise RequestRateLimitedError(principal.tenant, limit, retry_after)


def install_request_limits(app: FastAPI, limit: RateLimit | None) -> None:
    """Set the limit ``limit_requests`` applies and answer its refusals with 429."""
    app.state.request_limit = limit

    @app.exception_handler(RequestRateLimitedError)
    async def _limited(_: Request, exc: RequestRateLimitedError) -> JSONResponse:
        extra: dict[str, Any] = {"details": exc.details}
        answer = problem(429, exc.code, exc.message, extra=extra)
        answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
