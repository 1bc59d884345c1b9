"""ServiceMetrics on a real PostgreSQL: each tenant's figures under its own ``tenant`` label."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphwright.runtime.bus import InProcessBus
from graphwright.runtime.metrics import ServiceMetrics
from graphwright.runtime.results import RunEvent, RunResult
from graphwright.runtime.streams import RunStreams
from graphwright.settings import Settings
from graphwright.store import Pool, ThreadStore, apply_migrations, open_pool
from graphwright.store.approvals import ApprovalStore, NewApproval
from graphwright.store.events import EventLog
from graphwright.store.run_payload import RunPayload
from graphwright.store.runs import NewRun, RunRecord, RunStore

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
async def own_pool(create_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Pool]:
    """A migrated database of this module's own: its queued runs are no worker's to claim."""
    opened = await open_pool(await create_database(), min_size=1, max_size=4)
    try:
        await apply_migrations(opened)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def metrics(own_pool: Pool) -> ServiceMetrics:
    """Metrics of a process without workers, on ``own_pool``."""
    runs, threads = RunStore(own_pool), ThreadStore(own_pool)
    streams = RunStreams(
        runs=runs,
        threads=threads,
        events=EventLog(own_pool),
        bus=InProcessBus(),
        settings=Settings(),
    )
    return ServiceMetrics(
        runs=runs, approvals=ApprovalStore(own_pool), streams=streams, executor=None
    )


@pytest.fixture
def tenants() -> tuple[str, str]:
    """Two tenant ids no other test uses."""
    return f"a-{secrets.token_hex(4)}", f"b-{secrets.token_hex(4)}"


async def queue_run(pool: Pool, tenant: str) -> RunRecord:
    """A pending run of workflow ``wf`` on a new thread of ``tenant``."""
    run = await RunStore(pool).insert_on_new_thread(
        tenant,
        NewRun(
            run_id=str(uuid.uuid4()),
            thread_id=uuid.uuid4().hex,
            assistant_id="wf",
            workflow_version=1,
            payload=RunPayload(input={}),
            metadata={},
            multitask_strategy="reject",
            max_attempts=3,
        ),
    )
    assert run is not None
    return run


async def gate_run(pool: Pool, run: RunRecord, *, gates: int) -> None:
    """Leave ``gates`` pending approvals on ``run``'s thread (0 cancels those it had)."""
    pending = [
        NewApproval(
            approval_id=uuid.uuid4().hex,
            node="review",
            prompt="Publish?",
            decisions=("approve", "reject"),
            editable=(),
            payload={"kind": "approval", "node": "review"},
        )
        for _ in range(gates)
    ]
    await ApprovalStore(pool).sync_thread(
        run.tenant_id, run.thread_id, run_id=run.run_id, workflow_id="wf", pending=pending
    )


async def scrape(metrics: ServiceMetrics) -> Samples:
    """render() parsed into {(sample name, sorted labels): value}."""
    text = (await metrics.render()).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """One sample's value (None when there is no such series)."""
    return samples.get((name, tuple(sorted(labels.items()))))


def gauges(samples: Samples, tenant: str) -> dict[str, float | None]:
    """The database-wide gauges of ``tenant``."""
    return {
        "pending": value(samples, "graphwright_runs", tenant=tenant, status="pending"),
        "running": value(samples, "graphwright_runs", tenant=tenant, status="running"),
        "success": value(samples, "graphwright_runs", tenant=tenant, status="success"),
        "queue": value(samples, "graphwright_queue_depth", tenant=tenant),
        "approvals": value(samples, "graphwright_approvals_pending", tenant=tenant),
    }


async def test_each_tenant_has_its_own_run_queue_and_approval_counts(
    own_pool: Pool, metrics: ServiceMetrics, tenants: tuple[str, str]
) -> None:
    """Two tenants' runs, queue depth and pending approvals are counted apart, 0 where none."""
    a, b = tenants
    first = await queue_run(own_pool, a)
    await queue_run(own_pool, a)
    await gate_run(own_pool, first, gates=2)
    await queue_run(own_pool, b)
    assert await RunStore(own_pool).claim("worker-b", 30, tenants=[b]) is not None

    samples = await scrape(metrics)

    expected_a = {"pending": 2, "running": 0, "success": 0, "queue": 2, "approvals": 2}
    assert gauges(samples, a) == expected_a
    expected_b = {"pending": 0, "running": 1, "success": 0, "queue": 0, "approvals": 0}
    assert gauges(samples, b) == expected_b
    counted = ("graphwright_runs", "graphwright_queue_depth", "graphwright_approvals_pending")
    assert all("tenant" in dict(labels) for name, labels in samples if name in counted)


async def test_a_count_that_falls_to_zero_reads_zero(
    own_pool: Pool, metrics: ServiceMetrics, tenants: tuple[str, str]
) -> None:
    """Once a tenant's queued runs are claimed and its approvals cancelled, its gauges read 0."""
    a, _ = tenants
    run = await queue_run(own_pool, a)
    await gate_run(own_pool, run, gates=1)
    before = gauges(await scrape(metrics), a)

    assert await RunStore(own_pool).claim("worker-a", 30, tenants=[a]) is not None
    await gate_run(own_pool, run, gates=0)
    after = gauges(await scrape(metrics), a)

    assert (before["queue"], before["pending"], before["approvals"]) == (1, 1, 1)
    assert (after["queue"], after["pending"], after["approvals"]) == (0, 0, 0)
    assert after["running"] == 1


async def test_durations_and_crew_usage_are_labelled_with_the_runs_tenant(
    own_pool: Pool, metrics: ServiceMetrics, tenants: tuple[str, str]
) -> None:
    """Run, node and crew observations of two tenants' runs land in separate series."""
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "duration_ms": 40}
    for tenant in tenants:
        run = await queue_run(own_pool, tenant)
        event = partial(
            RunEvent,
            run_id=run.run_id,
            thread_id=run.thread_id,
            workflow_id="wf",
            workflow_version=1,
            at=dt.datetime.now(dt.UTC),
        )
        metrics.observe_event(run, event("node.finished", node="n", data={"duration_ms": 5}))
        metrics.observe_event(run, event("crew.usage", node="c", data=usage))
        result = RunResult(
            run.run_id, run.thread_id, "wf", 1, status="completed", output={}, values={}
        )
        await metrics.observe_run_end(run, result)

    samples = await scrape(metrics)

    observed = {
        tenant: [
            value(samples, name, tenant=tenant, workflow_id="wf", **labels)
            for name, labels in (
                ("graphwright_run_duration_seconds_count", {"status": "success"}),
                ("graphwright_node_duration_seconds_count", {"node": "n", "outcome": "finished"}),
                ("graphwright_crew_tokens_total", {"node": "c", "kind": "prompt"}),
                ("graphwright_crew_tokens_total", {"node": "c", "kind": "completion"}),
                ("graphwright_crew_duration_seconds_count", {"node": "c", "status": "completed"}),
            )
        ]
        for tenant in tenants
    }
    assert observed == {tenant: [1, 1, 7, 3, 1] for tenant in tenants}
