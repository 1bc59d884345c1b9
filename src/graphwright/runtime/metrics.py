"""What an operator watches: readiness checks and Prometheus metrics of one process.

Counts that every process sees alike (runs by status, queue depth, runs
failed in the last hour, pending approvals) are read from PostgreSQL at scrape
time. Durations are observed by the process that executes runs (its worker
hook), and live counts (SSE streams, active runs) are this process's own. Every
metric that counts or times tenants' runs carries a ``tenant`` label, so no
tenant's figures are mixed with another's; the process-level gauges do not.
Each :class:`ServiceMetrics` has its own registry: nothing is registered in
``prometheus_client``'s global one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from graphwright.runtime.executor import RunExecutor
from graphwright.runtime.results import RunEvent, RunResult
from graphwright.runtime.streams import RunStreams
from graphwright.store.approvals import ApprovalStore
from graphwright.store.migrations import applied_migrations, load_migrations
from graphwright.store.pool import Pool, ping
from graphwright.store.runs import RunRecord, RunStore

__all__ = ["CONTENT_TYPE_LATEST", "Check", "Readiness", "ServiceMetrics"]

RUN_STATUSES = ("pending", "running", "success", "error", "timeout", "interrupted")
_RESULT_STATUS = {"completed": "success", "interrupted": "interrupted", "failed": "error"}
_RUN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_NODE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_CREW_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class ServiceMetrics:
    """Prometheus metrics of one process, in a registry of its own."""

    def __init__(
        self,
        *,
        runs: RunStore,
        approvals: ApprovalStore,
        streams: RunStreams,
        executor: RunExecutor | None,
    ) -> None:
        self._runs = runs
        self._approvals = approvals
        self.registry = CollectorRegistry()
        self.runs_by_status = Gauge(
            "graphwright_runs",
            "Runs stored, by tenant and status.",
            ["tenant", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "graphwright_queue_depth",
            "Runs waiting for a worker (status pending), by tenant.",
            ["tenant"],
            registry=self.registry,
        )
        self.failed_recently = Gauge(
            "graphwright_runs_failed_last_hour",
            "Runs that ended error or timeout in the last hour, by tenant.",
            ["tenant"],
            registry=self.registry,
        )
        self.approvals_pending = Gauge(
            "graphwright_approvals_pending",
            "Approvals waiting for a decision, by tenant.",
            ["tenant"],
            registry=self.registry,
        )
        streams_active = Gauge(
            "graphwright_sse_streams_active",
            "Run event streams this process is serving now.",
            registry=self.registry,
        )
        streams_active.set_function(lambda: float(streams.active_streams))
        active = Gauge(
            "graphwright_worker_active_runs",
            "Runs executing in this process now.",
            registry=self.registry,
        )
        active.set_function(lambda: float(executor.active_runs if executor is not None else 0))
        self.run_duration = Histogram(
            "graphwright_run_duration_seconds",
            "From a run's creation to its end (queue wait included), observed by this "
            "process's workers.",
            ["tenant", "workflow_id", "status"],
            buckets=_RUN_BUCKETS,
            registry=self.registry,
        )
        self.node_duration = Histogram(
            "graphwright_node_duration_seconds",
            "Duration of node executions, observed by this process's workers.",
            ["tenant", "workflow_id", "node", "outcome"],
            buckets=_NODE_BUCKETS,
            registry=self.registry,
        )
        self.crew_tokens = Counter(
            "graphwright_crew_tokens",
            "LLM tokens used by crew runs (crew.usage events), observed by this process's workers.",
            ["tenant", "workflow_id", "node", "kind"],
            registry=self.registry,
        )
        self.crew_duration = Histogram(
            "graphwright_crew_duration_seconds",
            "Duration of crew runs (crew.usage events), observed by this process's workers.",
            ["tenant", "workflow_id", "node", "status"],
            buckets=_CREW_BUCKETS,
            registry=self.registry,
        )

        self.rate_limit_wait = Histogram(
            "graphwright_rate_limit_wait_seconds",
            "Time nodes waited for their turn under a named rate limit (0 for a turn taken at "
            "once), by limit and tenant, observed by this process's workers.",
            ["limiter", "tenant"],
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "graphwright_rate_limit_waits",
            "Turns under a named rate limit that had to wait, by limit and tenant.",
            ["limiter", "tenant"],
            registry=self.registry,
        )
        self.requests_limited = Counter(
            "graphwright_api_requests_limited",
            "API requests refused with 429 rate_limit.exceeded (GW_API_RATE_LIMIT) by this "
            "process, by tenant.",
            ["tenant"],
            registry=self.registry,
        )

    def observe_rate_limit_wait(self, limiter: str, tenant: str, seconds: float) -> None:
        """Rate-limit hook: one turn taken under ``limiter`` after ``seconds`` of waiting."""
        self.rate_limit_wait.labels(limiter=limiter, tenant=tenant).observe(seconds)
        if seconds > 0:
            self.rate_limit_waits.labels(limiter=limiter, tenant=tenant).inc()

    def observe_request_limited(self, tenant: str) -> None:
        """API hook: a request of ``tenant`` was refused by the request rate limit."""
        self.requests_limited.labels(tenant=tenant).inc()

    async def observe_run_end(self, run: RunRecord, result: RunResult) -> None:
        """Worker hook: observe the run's duration (creation to now)."""
        elapsed = (dt.datetime.now(dt.UTC) - run.created_at).total_seconds()
        self.run_duration.labels(
            tenant=run.tenant_id,
            workflow_id=run.assistant_id,
            status=_RESULT_STATUS.get(result.status, "error"),
        ).observe(max(elapsed, 0.0))

    def observe_event(self, run: RunRecord, event: RunEvent) -> None:
        """Worker event hook: node durations, and tokens and durations of crew runs.

        Events carry no tenant; the run's record (``run.tenant_id``) gives it.
        """
        if event.type == "crew.usage" and event.node is not None:
            self._observe_crew(run.tenant_id, event)
            return
        if event.type not in ("node.finished", "node.failed") or event.node is None:
            return
        duration = event.data.get("duration_ms")
        if not isinstance(duration, int | float):
            return
        self.node_duration.labels(
            tenant=run.tenant_id,
            workflow_id=event.workflow_id,
            node=event.node,
            outcome="finished" if event.type == "node.finished" else "failed",
        ).observe(duration / 1000)

    def _observe_crew(self, tenant: str, event: RunEvent) -> None:
        labels = {"tenant": tenant, "workflow_id": event.workflow_id, "node": event.node or ""}
        for kind in ("prompt", "completion"):
            tokens = event.data.get(f"{kind}_tokens")
            if isinstance(tokens, int) and tokens > 0:
                self.crew_tokens.labels(**labels, kind=kind).inc(tokens)
        duration = event.data.get("duration_ms")
        if isinstance(duration, int | float):
            status = str(event.data.get("status") or "completed")
            self.crew_duration.labels(**labels, status=status).observe(duration / 1000)

    async def render(self) -> bytes:
        """Refresh the database-wide gauges and return the text exposition format.

        Each tenant with a run or a pending approval gets every run status, its
        queue depth, its runs failed in the last hour and its pending approvals,
        0 where it has none; a tenant with neither (its runs deleted) has no
        series left.
        """
        counts = await self._runs.count_by_status()
        pending = await self._approvals.count_pending()
        failed = await self._runs.count_failed_since()
        # From here to the exposition nothing awaits, so a concurrent scrape never
        # sees the gauges cleared and half set.
        gauges = (
            self.runs_by_status,
            self.queue_depth,
            self.approvals_pending,
            self.failed_recently,
        )
        for gauge in gauges:
            gauge.clear()
        for tenant in sorted({t for t, _ in counts} | pending.keys() | failed.keys()):
            for status in RUN_STATUSES:
                self.runs_by_status.labels(tenant=tenant, status=status).set(
                    counts.get((tenant, status), 0)
                )
            self.queue_depth.labels(tenant=tenant).set(counts.get((tenant, "pending"), 0))
            self.approvals_pending.labels(tenant=tenant).set(pending.get(tenant, 0))
            self.failed_recently.labels(tenant=tenant).set(failed.get(tenant, 0))
        return generate_latest(self.registry)


@dataclass(frozen=True)
class Check:
    """The outcome of one readiness check."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"ok": self.ok, "detail": self.detail}


class Readiness:
    """Whether this process can serve: PostgreSQL, Redis (when configured), migrations."""

    def __init__(self, pool: Pool, redis_url: str | None, *, timeout: float = 2.0) -> None:
        self._pool = pool
        self._redis_url = redis_url
        self._timeout = timeout
        self._redis: Any = None

    async def check(self) -> list[Check]:
        """Run every check concurrently, each bounded by the timeout."""
        return list(
            await asyncio.gather(
                self._bounded("postgres", self._postgres()),
                self._bounded("redis", self._redis_ping()),
                self._bounded("migrations", self._migrations()),
            )
        )

    async def close(self) -> None:
        """Close the Redis connection, if one was opened."""
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    async def _bounded(self, name: str, probe: Coroutine[Any, Any, str]) -> Check:
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(self._timeout):
                detail = await probe
        except TimeoutError:
            return Check(name, False, f"no answer within {self._timeout:g}s")
        except (psycopg.Error, RedisError, OSError, _NotReady) as exc:
            return Check(name, False, str(exc).strip() or type(exc).__name__)
        return Check(name, True, detail)

    async def _postgres(self) -> str:
        await ping(self._pool, timeout=self._timeout)
        return "reachable"

    async def _redis_ping(self) -> str:
        if self._redis_url is None:
            return "not configured (in-process messaging)"
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(
                self._redis_url, socket_connect_timeout=self._timeout, socket_timeout=self._timeout
            )
        await self._redis.ping()
        return "reachable"

    async def _migrations(self) -> str:
        applied = await applied_migrations(self._pool, timeout=self._timeout)
        missing = [m.name for m in load_migrations() if m.name not in applied]
        if missing:
            raise _NotReady(f"not applied: {', '.join(missing)}")
        return f"{len(applied)} applied"


class _NotReady(Exception):
    """A readiness check found the process unable to serve."""
