"""The FastAPI application factory. Nothing is created at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI

from graphwright.api.access import Access, check_exposure, guard
from graphwright.api.access_log import AccessLog
from graphwright.api.cors import install_cors
from graphwright.api.hosts import HostCheck, allowed_hosts
from graphwright.api.limits import BodyLimit
from graphwright.api.openapi import install_problem_docs
from graphwright.api.problems import install_problem_handlers
from graphwright.api.ratelimit import install_request_limits, limit_requests
from graphwright.registry import Registry
from graphwright.runtime.process import open_runtime
from graphwright.settings import Settings
from graphwright.store.api_keys import ApiKeyStore

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    start_workers: bool = True,
) -> FastAPI:
    """Build the service. Its lifespan opens the pool, engine, bus and workers.

    Args:
        settings: Configuration (default: ``GW_*`` environment).
        registry: Node implementations (default: ``settings.registry_modules``).
        start_workers: Run ``settings.workers`` run slots in this process.

    Raises:
        ConfigurationError: ``config.unsafe_cors`` (``*`` origins with credentials),
            ``config.insecure`` / ``config.no_secret_key`` / ``config.invalid_auth``
            (see :func:`graphwright.api.access.check_exposure`).
    """
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(
            settings,
            registry=registry,
            start_workers=start_workers,
            wait_for_database=settings.startup_wait_seconds,
        ) as runtime:
            app.state.services = runtime
            access.keys = ApiKeyStore(runtime.pool)
            yield

    check_exposure(settings)
    access = Access(settings)
    app = FastAPI(
        # In order: authenticate and authorise, then count against the tenant's limit.
        dependencies=[Depends(guard), Depends(limit_requests)],
        title="graphwright",
        version="0.1.0",
        description="LangGraph Server API for JSON workflows, plus workflows and approvals.",
        lifespan=lifespan,
        docs_url=None,  # served by the console from local assets (works offline)
        redoc_url=None,
    )
    app.state.access = access
    install_problem_handlers(app)
    install_request_limits(app, settings.api_rate_limit)
    install_problem_docs(app)
    from graphwright.api.routes import (
        approvals,
        assistants,
        health,
        keys,
        ops,
        runs,
        threads,
        workflows,
    )
    from graphwright.api.routes import crons as cron_routes
    from graphwright.api.routes import secrets as secret_routes
    from graphwright.api.routes import store as store_routes

    for module in (assistants, threads, runs, workflows, approvals, ops, health):
        app.include_router(module.router)
    from graphwright.api.routes import thread_hygiene

    app.include_router(thread_hygiene.router)
    app.include_router(secret_routes.router)
    app.include_router(keys.router)
    app.include_router(cron_routes.router)
    from graphwright.api.routes import webhooks as webhook_routes

    app.include_router(webhook_routes.router)
    app.include_router(store_routes.router)
    from graphwright.console import install_console

    install_console(app)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, read_timeout=settings.body_timeout_seconds
    )
    # Added last = runs first: the access line covers every answer below, and a request
    # for a foreign Host is refused before CORS or anything else looks at it.
    install_cors(app, settings)
    app.add_middleware(HostCheck, allowed=allowed_hosts(settings))
    app.add_middleware(AccessLog)
    return app
