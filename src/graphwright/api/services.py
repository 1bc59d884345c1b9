"""Everything a request handler may use, built once by the app's lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphwright.registry import Registry, load_registry_modules
from graphwright.runtime.bus import InProcessBus, create_bus
from graphwright.runtime.database import Database
from graphwright.runtime.engine import Engine
from graphwright.runtime.service import RunService
from graphwright.runtime.worker import WorkerPool
from graphwright.settings import Settings
from graphwright.store.events import EventLog
from graphwright.store.pool import Pool
from graphwright.store.runs import RunStore

__all__ = ["Services", "open_services"]


@dataclass
class Services:
    """The open resources of one process (pool, engine, stores, bus, workers)."""

    settings: Settings
    database: Database
    engine: Engine
    runs: RunStore
    events: EventLog
    bus: InProcessBus
    run_service: RunService
    workers: WorkerPool | None
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def pool(self) -> Pool:
        """The connection pool."""
        return self.database.pool


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings, *, registry: Registry | None = None, start_workers: bool = True
) -> AsyncIterator[Services]:
    """Open the database, engine, bus and (if ``settings.workers``) the worker pool."""
    registry = (
        registry
        if registry is not None
        else load_registry_modules(settings.registry_modules, llms=settings.llms)
    )
    database = Database(settings)
    await database.open()
    engine = Engine(settings, registry=registry, database=database)
    bus: InProcessBus | None = None
    workers: WorkerPool | None = None
    services: Services | None = None
    try:
        await engine.open()
        bus = await create_bus(settings.redis_url)
        runs = RunStore(database.pool)
        events = EventLog(database.pool)
        service = RunService(engine, runs, events, bus, database.pool, settings)
        if start_workers and settings.workers > 0:
            workers = WorkerPool(engine, runs, events, bus, settings, database_url=database.url)
            service.local_workers = workers
        services = Services(
            settings=settings,
            database=database,
            engine=engine,
            runs=runs,
            events=events,
            bus=bus,
            run_service=service,
            workers=workers,
        )
        from graphwright.api.extensions import install_extensions

        await install_extensions(services)
        if workers is not None:
            await workers.start()
        yield services
    finally:
        if services is not None:
            # Stop extensions (the approvals sweeper) before workers drain, so
            # nothing queues new runs during the drain.
            stoppers = services.extras.get("stoppers", [])
            for stop in reversed(list(stoppers)):  # type: ignore[call-overload]
                await stop()
        if workers is not None:
            await workers.stop()
        if bus is not None:
            await bus.close()
        await database.close()
