"""RunStore: runs on new threads (queued or claimed at once), claims, queue hints."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from graphwright.store import Pool, apply_migrations
from graphwright.store.run_payload import RunPayload
from graphwright.store.runs import NewRun, RunStore
from graphwright.store.threads import ThreadStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_pool(fresh_pool: Pool) -> Pool:
    """A migrated database of its own: claims span tenants, so no sharing."""
    await apply_migrations(fresh_pool)
    return fresh_pool


def run_row(thread_id: str, **payload: Any) -> NewRun:
    """A new run of workflow ``wf`` version 1."""
    return NewRun(
        run_id=str(uuid.uuid4()),
        thread_id=thread_id,
        assistant_id="wf",
        workflow_version=1,
        payload=RunPayload(input={}, **payload),
        metadata={"by": "test"},
        multitask_strategy="reject",
        max_attempts=3,
    )


async def test_run_on_new_thread_creates_both_or_nothing(own_pool: Pool, tenant: str) -> None:
    """The first call creates a bound idle thread and a pending run; a second writes nothing."""
    runs, threads = RunStore(own_pool), ThreadStore(own_pool)
    first = await runs.insert_on_new_thread(tenant, run_row("t1"))
    assert first is not None
    assert (first.status, first.thread_id, first.metadata) == ("pending", "t1", {"by": "test"})
    thread = await threads.get(tenant, "t1")
    assert (thread.status, thread.workflow_id, thread.workflow_version) == ("idle", "wf", 1)

    assert await runs.insert_on_new_thread(tenant, run_row("t1")) is None
    assert [r.run_id for r in await runs.list(tenant, "t1")] == [first.run_id]


async def test_claim_leases_the_queued_run(own_pool: Pool, tenant: str) -> None:
    """A claim takes the oldest runnable run with a lease; then nothing else is runnable."""
    runs = RunStore(own_pool)
    queued = await runs.insert_on_new_thread(tenant, run_row("t2"))
    assert queued is not None
    claimed = await runs.claim("worker-a", 30)
    assert claimed is not None
    assert (claimed.run_id, claimed.status, claimed.attempts) == (queued.run_id, "running", 1)
    assert (claimed.lease_owner, claimed.lease_expires_at is not None) == ("worker-a", True)
    assert await runs.claim("worker-b", 30) is None


async def test_run_claimed_at_creation_holds_run_and_thread(own_pool: Pool, tenant: str) -> None:
    """With an owner the new run starts claimed, its thread running under it; no one else claims."""
    runs, threads = RunStore(own_pool), ThreadStore(own_pool)
    run = await runs.insert_on_new_thread(tenant, run_row("t4"), owner="worker-a", lease_seconds=30)
    assert run is not None
    assert (run.status, run.attempts, run.lease_owner) == ("running", 1, "worker-a")
    thread = await threads.get(tenant, "t4")
    assert (thread.status, thread.run_id, thread.lease_owner) == ("running", run.run_id, "worker-a")
    assert thread.lease_expires_at is None  # the run row holds the only lease
    assert await runs.claim("worker-b", 30) is None


async def test_forget_new_thread_clears_the_hint_of_pending_runs(
    own_pool: Pool, tenant: str
) -> None:
    """After a state write, queued runs no longer claim their thread has no checkpoint."""
    runs = RunStore(own_pool)
    queued = await runs.insert_on_new_thread(tenant, run_row("t3", new_thread=True))
    assert queued is not None
    assert queued.payload.new_thread is True
    await runs.forget_new_thread(tenant, "t3")
    assert (await runs.get(tenant, queued.run_id)).payload.new_thread is False


async def test_claim_limited_to_tenants(own_pool: Pool, tenant: str) -> None:
    """A worker limited to other tenants leaves this tenant's run queued; an open claim takes it."""
    runs = RunStore(own_pool)
    queued = await runs.insert_on_new_thread(tenant, run_row("t-limited"))
    assert queued is not None
    assert await runs.claim("worker-x", 30, tenants=["someone-else"]) is None
    claimed = await runs.claim("worker-y", 30, tenants=[tenant, "someone-else"])
    assert claimed is not None
    assert (claimed.run_id, claimed.lease_owner) == (queued.run_id, "worker-y")
