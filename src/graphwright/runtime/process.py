"""Process wiring: everything one graphwright process runs on, built once and closed once.

:func:`open_runtime` opens the database, the checkpoint savers, the catalog,
the stores, the event bus and sink, the run service, the approvals inbox, the
metrics and the executor (with its hooks given at construction), and, when asked,
this process's worker slots and the approval expiry sweeper. ``graphwright
serve`` (through the FastAPI lifespan), ``graphwright worker`` and the embedding
:class:`~graphwright.runtime.engine.Engine` all use it; nothing here imports
the web framework.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from graphwright.redaction import Redactor
from graphwright.registry import Registry, load_registry_modules
from graphwright.runtime.approvals import ApprovalService, ApprovalSweeper
from graphwright.runtime.bus import InProcessBus, create_bus
from graphwright.runtime.catalog import Catalog
from graphwright.runtime.checkpoints import Checkpoints
from graphwright.runtime.database import Database
from graphwright.runtime.executor import RunExecutor
from graphwright.runtime.hygiene import HygieneSweeper
from graphwright.runtime.metrics import Readiness, ServiceMetrics
from graphwright.runtime.ratelimits import RateLimits
from graphwright.runtime.scheduler import CronScheduler, cron_scheduler
from graphwright.runtime.secrets import TenantSecrets, process_known_values
from graphwright.runtime.service import RunService
from graphwright.runtime.streams import RunStreams
from graphwright.runtime.tenant_store import StoreSweeper, TenantStore
from graphwright.runtime.thread_api import ThreadStateAPI
from graphwright.runtime.webhooks import WebhookDeliverer
from graphwright.runtime.worker import WorkerPool
from graphwright.runtime.writer import EventSink
from graphwright.settings import Settings
from graphwright.store.approvals import ApprovalStore
from graphwright.store.events import EventLog
from graphwright.store.items import StoreItems
from graphwright.store.pool import Pool
from graphwright.store.runs import RunStore
from graphwright.store.secrets import SecretCipher, SecretStore
from graphwright.store.threads import ThreadStore
from graphwright.store.workflows import WorkflowStore

__all__ = ["Runtime", "open_runtime"]


@dataclass
class Runtime:
    """The open resources of one process."""

    settings: Settings
    database: Database
    registry: Registry
    catalog: Catalog
    checkpoints: Checkpoints
    threads: ThreadStore
    states: ThreadStateAPI
    runs: RunStore
    events: EventLog
    bus: InProcessBus
    sink: EventSink
    run_service: RunService
    streams: RunStreams
    approvals: ApprovalService
    metrics: ServiceMetrics
    readiness: Readiness
    executor: RunExecutor
    secrets: SecretStore
    rate_limits: RateLimits
    store_items: StoreItems
    workers: WorkerPool | None = None
    sweeper: ApprovalSweeper | None = None
    hygiene: HygieneSweeper | None = None
    webhooks: WebhookDeliverer | None = None
    scheduler: CronScheduler | None = None
    store_sweeper: StoreSweeper | None = None

    @property
    def pool(self) -> Pool:
        """The connection pool."""
        return self.database.pool

    @property
    def owner(self) -> str:
        """This process's lease owner identity."""
        return self.executor.owner


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    registry: Registry | None = None,
    start_workers: bool = True,
    database: Database | None = None,
    wait_for_database: float = 0.0,
) -> AsyncIterator[Runtime]:
    """Open a process's runtime; with ``start_workers`` (and ``settings.workers``), its slots.

    Args:
        settings: The process's settings.
        registry: Node implementations; default: ``settings.registry_modules``.
        start_workers: Claim queued runs here (and run the approval expiry and Store TTL
            sweepers).
        database: An open database to use (not closed here); default: open one.
        wait_for_database: How long to keep retrying an unreachable PostgreSQL at
            start (``serve`` and ``worker``: ``GW_STARTUP_WAIT_SECONDS``).

    Raises:
        ConfigurationError: the database cannot be reached, a registry module fails.
    """
    if registry is None:
        registry = load_registry_modules(settings.registry_modules, llms=settings.llms)
    # GW_RATE_LIMITS join the registry's own (a name declared differently is refused).
    registry.declare_rate_limits(settings.rate_limits.values())
    owns_database = database is None
    database = database or Database(settings, wait_seconds=wait_for_database)
    async with contextlib.AsyncExitStack() as stack:
        if owns_database:
            await database.open()
            stack.push_async_callback(database.close)
        pool = database.pool
        checkpoints = Checkpoints(
            pool, savers=settings.checkpointers, patience=settings.lease_seconds
        )
        await checkpoints.setup()
        store_items = StoreItems(pool)
        catalog = Catalog(
            WorkflowStore(pool),
            registry,
            cache_size=settings.compile_cache_size,
            tenant_store=lambda tenant: TenantStore(store_items, tenant),
        )
        threads = ThreadStore(pool)
        states = ThreadStateAPI(catalog, threads, checkpoints, pool)
        runs = RunStore(pool)
        events = EventLog(pool)
        bus = await create_bus(settings.redis_url)
        stack.push_async_callback(bus.close)
        sink = EventSink(events, bus)
        stack.push_async_callback(sink.close)
        owner = database.owner
        run_service = RunService(
            catalog=catalog,
            threads=threads,
            states=states,
            runs=runs,
            events=events,
            bus=bus,
            pool=pool,
            settings=settings,
            owner=owner,
        )
        streams = RunStreams(runs=runs, threads=threads, events=events, bus=bus, settings=settings)
        approval_store = ApprovalStore(pool)
        approvals = ApprovalService(states, approval_store, run_service)
        run_service.on_resume.append(approvals.close_on_resume)
        secrets = SecretStore(pool, cipher=SecretCipher.from_setting(settings.secret_key))
        rate_limits = RateLimits(registry.rate_limits(), redis_url=settings.redis_url)
        stack.push_async_callback(rate_limits.close)
        executor = RunExecutor(
            settings,
            owner=owner,
            catalog=catalog,
            checkpoints=checkpoints,
            threads=threads,
            runs=runs,
            events=events,
            sink=sink,
            secrets=TenantSecrets(secrets, known=Redactor(process_known_values(settings))),
            rate_limits=rate_limits,
        )
        metrics = ServiceMetrics(
            runs=runs, approvals=approval_store, streams=streams, executor=executor
        )
        executor.hooks.extend([approvals.record_run_end, metrics.observe_run_end])
        executor.event_hooks.append(metrics.observe_event)
        rate_limits.observers.append(metrics.observe_rate_limit_wait)
        readiness = Readiness(pool, settings.redis_url)
        stack.push_async_callback(readiness.close)
        runtime = Runtime(
            settings=settings,
            database=database,
            registry=registry,
            catalog=catalog,
            checkpoints=checkpoints,
            threads=threads,
            states=states,
            runs=runs,
            events=events,
            bus=bus,
            sink=sink,
            run_service=run_service,
            streams=streams,
            approvals=approvals,
            metrics=metrics,
            readiness=readiness,
            executor=executor,
            secrets=secrets,
            rate_limits=rate_limits,
            store_items=store_items,
        )
        if start_workers and settings.workers > 0:
            workers = WorkerPool(
                executor,
                runs,
                events,
                settings,
                database_url=database.url,
                tenants=settings.worker_tenants or None,
            )
            # Runs created in this process may start in one of its idle slots at once.
            run_service.local_workers = workers
            runtime.workers = workers
            sweeper = ApprovalSweeper(approvals)
            approvals.on_expiry_scheduled.append(sweeper.wake)
            runtime.sweeper = sweeper
            await sweeper.start()
            # Thread TTL and checkpoint pruning (GW_THREAD_TTL_*, GW_PRUNE_*).
            hygiene = HygieneSweeper(pool, settings)
            runtime.hygiene = hygiene
            await hygiene.start()
            stack.push_async_callback(hygiene.stop)
            store_sweeper = StoreSweeper(store_items, interval_seconds=settings.store_sweep_seconds)
            runtime.store_sweeper = store_sweeper
            await store_sweeper.start()
            stack.push_async_callback(store_sweeper.stop)
            # Webhooks of runs that end while workers drain still go out: the
            # deliverer stops after the workers (callbacks run last-in, first-out).
            deliverer = WebhookDeliverer.for_process(
                settings, pool, owner=owner, database_url=database.url
            )
            runtime.webhooks = deliverer
            await deliverer.start()
            stack.push_async_callback(deliverer.stop)
            # Stop the sweeper before workers drain, so nothing queues new runs
            # during the drain (callbacks run last-in, first-out).
            stack.push_async_callback(workers.stop)
            stack.push_async_callback(sweeper.stop)
            runtime.scheduler = cron_scheduler(runtime)  # fires schedules; stopped first
            await runtime.scheduler.start()
            stack.push_async_callback(runtime.scheduler.stop)
            await workers.start()
        yield runtime
