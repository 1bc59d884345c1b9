"""The FastAPI application factory. Nothing is created at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from graphwright.api.limits import BodyLimit
from graphwright.api.problems import install_problem_handlers
from graphwright.registry import Registry
from graphwright.runtime.process import open_runtime
from graphwright.settings import Settings

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
    """
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(
            settings, registry=registry, start_workers=start_workers
        ) as runtime:
            app.state.services = runtime
            yield

    app = FastAPI(
        title="graphwright",
        version="0.1.0",
        description="LangGraph Server API for JSON workflows, plus workflows and approvals.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    from graphwright.api.routes import approvals, assistants, health, runs, threads, workflows

    for module in (assistants, threads, runs, workflows, approvals, health):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
