"""Tests of ThreadStore: creation, status changes, take-over fencing and tenant isolation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store import Pool, ThreadStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(pool: Pool) -> ThreadStore:
    """A ThreadStore on the session's migrated database."""
    return ThreadStore(pool)


async def new_thread(store: ThreadStore, tenant: str, thread_id: str = "th-1") -> None:
    await store.create(tenant, thread_id, workflow_id="review-flow", workflow_version=1)


async def test_create_and_get(store: ThreadStore, tenant: str) -> None:
    """A created thread is idle, keeps its metadata and reads back equal."""
    created = await store.create(
        tenant, "th-1", workflow_id="review-flow", workflow_version=3, metadata={"owner": "ana"}
    )

    assert (created.status, created.run_id, created.error) == ("idle", None, None)
    assert (created.workflow_id, created.workflow_version) == ("review-flow", 3)
    assert created.metadata == {"owner": "ana"}
    assert await store.get(tenant, "th-1") == created


async def test_duplicate_create_raises_thread_exists(store: ThreadStore, tenant: str) -> None:
    """Creating a thread id twice in one tenant raises thread.exists."""
    await new_thread(store, tenant)

    with pytest.raises(WorkflowConflictError) as caught:
        await new_thread(store, tenant)

    assert caught.value.code == "thread.exists"


async def test_get_missing_raises_thread_not_found(store: ThreadStore, tenant: str) -> None:
    """Reading an unknown thread raises thread.not_found."""
    with pytest.raises(NotFoundError) as caught:
        await store.get(tenant, "nope")

    assert caught.value.code == "thread.not_found"


async def test_take_over_marks_running_for_the_owner(store: ThreadStore, tenant: str) -> None:
    """take_over sets running, the run id and owner, clears the error; the thread has no lease."""
    await new_thread(store, tenant)
    await store.mark(tenant, "th-1", status="failed", error={"code": "node.failed"})

    taken = await store.take_over(tenant, "th-1", run_id="run-1", owner="worker-a")

    assert (taken.status, taken.run_id, taken.error) == ("running", "run-1", None)
    assert (taken.lease_owner, taken.lease_expires_at) == ("worker-a", None)


async def test_mark_with_owner_is_fenced(store: ThreadStore, tenant: str) -> None:
    """Once another owner took the thread over, the old owner's mark raises thread.lease_lost."""
    await new_thread(store, tenant)
    await store.take_over(tenant, "th-1", run_id="run-1", owner="worker-a")
    await store.take_over(tenant, "th-1", run_id="run-1", owner="worker-b")

    with pytest.raises(WorkflowConflictError) as caught:
        await store.mark(tenant, "th-1", status="completed", owner="worker-a")
    done = await store.mark(tenant, "th-1", status="completed", owner="worker-b")

    assert caught.value.code == "thread.lease_lost"
    assert (done.status, done.lease_owner) == ("completed", None)


async def test_mark_keeps_unset_columns(store: ThreadStore, tenant: str) -> None:
    """mark() changes the given columns only; None clears a column."""
    await new_thread(store, tenant)
    await store.take_over(tenant, "th-1", run_id="run-1", owner="worker-a")

    failed = await store.mark(tenant, "th-1", status="failed", error={"code": "node.timeout"})
    cleared = await store.mark(tenant, "th-1", status="idle", run_id=None, error=None)

    assert (failed.status, failed.run_id, failed.error) == (
        "failed",
        "run-1",
        {"code": "node.timeout"},
    )
    assert (cleared.status, cleared.run_id, cleared.error) == ("idle", None, None)
    assert cleared.updated_at >= failed.updated_at > failed.created_at


async def test_list_filters_and_pages(store: ThreadStore, tenant: str) -> None:
    """list() filters by status and metadata and pages newest-updated first."""
    for n in range(4):
        await store.create(
            tenant, f"th-{n}", workflow_id="wf", workflow_version=1, metadata={"batch": n % 2}
        )
    await store.mark(tenant, "th-2", status="completed")

    everything = await store.list(tenant)
    completed = await store.list(tenant, status="completed")
    odd = await store.list(tenant, metadata={"batch": 1})
    page = await store.list(tenant, limit=2, offset=1)

    assert [t.thread_id for t in everything] == ["th-2", "th-3", "th-1", "th-0"]
    assert [t.thread_id for t in completed] == ["th-2"]
    assert sorted(t.thread_id for t in odd) == ["th-1", "th-3"]
    assert [t.thread_id for t in page] == ["th-3", "th-1"]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1001, 0), (10, -1)], ids=str)
async def test_list_rejects_bad_pages(
    store: ThreadStore, tenant: str, limit: int, offset: int
) -> None:
    """An out-of-range limit or offset raises ValueError."""
    with pytest.raises(ValueError, match="limit"):
        await store.list(tenant, limit=limit, offset=offset)


async def test_tenants_do_not_see_each_other(store: ThreadStore, tenant: str) -> None:
    """Another tenant can neither read, list, mark nor take over a tenant's thread."""
    other = f"{tenant}-other"
    await new_thread(store, tenant)

    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: store.get(other, "th-1"),
        lambda: store.mark(other, "th-1", status="failed"),
        lambda: store.take_over(other, "th-1", run_id="run-x", owner="worker-x"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError) as caught:
            await attempt()
        assert caught.value.code == "thread.not_found"
    assert await store.list(other) == []
    assert (await store.get(tenant, "th-1")).status == "idle"
    await new_thread(store, other)  # the same thread id is free in another tenant
