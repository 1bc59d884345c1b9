"""Thread TTL and checkpoint pruning on real threads: what goes, what stays, what still works."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import GraphwrightError, NotFoundError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.run_request import RunRequest
from graphwright.store import Pool, open_pool
from graphwright.store.pruning import PrunePolicy, prune_threads
from graphwright.store.thread_removal import ThreadRef
from graphwright.store.thread_ttl import expire_threads, get_thread_ttl, set_thread_ttl
from tests.integration.hygiene_rows import checkpoint_counts, run_ids, thread_rows

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

CHILD: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-child",
    "state": {"label": {"type": "string", "nullable": True}},
    "nodes": {"mark": {"kind": "function", "ref": "hy.mark", "writes": "label"}},
    "edges": [{"from": "START", "to": "mark"}, {"from": "mark", "to": "END"}],
}
CHAIN: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-chain",
    "state": {
        "note": {"type": "string"},
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "label": {"type": "string", "nullable": True},
    },
    "input": ["note"],
    "nodes": {
        "one": {
            "kind": "function",
            "ref": "hy.step",
            "inputs": {"name": "'one'"},
            "writes": "trail",
        },
        "sub": {"kind": "subworkflow", "workflow": "hy-child", "outputs": {"label": "label"}},
        "two": {
            "kind": "function",
            "ref": "hy.step",
            "inputs": {"name": "'two'"},
            "writes": "trail",
        },
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "sub"},
        {"from": "sub", "to": "two"},
        {"from": "two", "to": "END"},
    ],
}
GATED: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-gated",
    "state": {
        "note": {"type": "string"},
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["note"],
    "nodes": {
        "one": {
            "kind": "function",
            "ref": "hy.step",
            "inputs": {"name": "'one'"},
            "writes": "trail",
        },
        "gate": {"kind": "approval", "prompt": "Go on?", "writes": "review"},
        "two": {
            "kind": "function",
            "ref": "hy.step",
            "inputs": {"name": "'two'"},
            "writes": "trail",
        },
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "gate"},
        {"from": "gate", "to": "two"},
        {"from": "two", "to": "END"},
    ],
}
SLOW: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-slow",
    "state": {"note": {"type": "string"}, "done": {"type": "boolean", "default": False}},
    "input": ["note"],
    "nodes": {"wait": {"kind": "function", "ref": "hy.wait", "writes": "done"}},
    "edges": [{"from": "START", "to": "wait"}, {"from": "wait", "to": "END"}],
}


class Gate:
    """Holds ``hy.wait`` until released."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    """This module's own database: a live server of another module claims no run here."""
    return module_database_url


@pytest.fixture(scope="module")
def pool(module_pool: Pool) -> Pool:
    """The pool on this module's own database."""
    return module_pool


@pytest.fixture
def gate() -> Gate:
    """The event ``hy.wait`` waits for."""
    return Gate()


@pytest.fixture
async def engine(open_engine: OpenEngine, gate: Gate) -> Engine:
    """An engine with the chain (with a subworkflow), gated and slow workflows published."""
    registry = Registry()

    async def step(name: str) -> str:
        return name

    async def wait() -> bool:
        gate.started.set()
        await gate.release.wait()
        return True

    registry.add_function("hy.step", step)
    registry.add_function("hy.mark", lambda: "marked")
    registry.add_function("hy.wait", wait)
    engine = await open_engine(registry)
    for doc in (CHILD, CHAIN, GATED, SLOW):
        await engine.publish(doc)
    return engine


async def expire_soon(pool: Pool, tenant: str, *thread_ids: str) -> None:
    """Give the threads a TTL of 60 ms and let it pass."""
    for thread_id in thread_ids:
        await set_thread_ttl(pool, tenant, thread_id, minutes=0.001)
    await asyncio.sleep(0.15)


async def test_expired_threads_go_with_every_row(engine: Engine, pool: Pool, tenant: str) -> None:
    """Expired threads lose their rows in every table (checkpoints of every namespace
    included); threads with a later TTL or none keep every row."""
    done = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=done.thread_id)
    paused = await engine.run("hy-gated", {"note": "c"})
    later = await engine.run("hy-chain", {"note": "d"})
    plain = await engine.run("hy-chain", {"note": "e"})
    await set_thread_ttl(pool, tenant, later.thread_id, minutes=60)
    expired = [(tenant, done.thread_id), (tenant, paused.thread_id)]
    kept = [(tenant, later.thread_id), (tenant, plain.thread_id)]
    expired_runs, kept_runs = await run_ids(pool, expired), await run_ids(pool, kept)
    before = await thread_rows(pool, expired, expired_runs)
    kept_before = await thread_rows(pool, kept, kept_runs)
    await expire_soon(pool, tenant, done.thread_id, paused.thread_id)

    report = await expire_threads(pool, default_minutes=None, tenant=tenant)

    assert sorted(report.deleted) == sorted(ThreadRef(*ref) for ref in expired)
    assert report.pruned == []
    for table in ("gw_threads", "gw_runs", "gw_run_events", "gw_approvals"):
        assert before[table] > 0, table
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        assert before[table] > 0, table
    assert len(await checkpoint_counts(pool, expired[0])) == 0
    assert await thread_rows(pool, expired, expired_runs) == dict.fromkeys(before, 0)
    assert await thread_rows(pool, kept, kept_runs) == kept_before
    assert sum(report.rows.values()) == sum(before.values())


async def test_default_ttl_expires_threads_without_their_own(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """With a default TTL, idle threads without a TTL go; a thread with its own longer one stays."""
    idle = await engine.run("hy-chain", {"note": "a"})
    own = await engine.run("hy-chain", {"note": "b"})
    await set_thread_ttl(pool, tenant, own.thread_id, minutes=60)
    await asyncio.sleep(0.15)

    report = await expire_threads(pool, default_minutes=0.001, tenant=tenant)

    assert report.deleted == [ThreadRef(tenant, idle.thread_id)]
    assert (await engine.get_state(own.thread_id)).status == "completed"
    default = await get_thread_ttl(pool, tenant, own.thread_id, default_minutes=5)
    assert default is not None
    assert default.ttl_minutes == 60
    assert not default.default


async def test_keep_latest_ttl_prunes_and_the_thread_goes_on(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """TTL keep_latest prunes to the newest checkpoint, keeps the thread, stops the clock until
    the next activity, and a new run continues from the latest state."""
    first = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=first.thread_id)
    thread_id = first.thread_id
    values = (await engine.get_state(thread_id)).values
    await set_thread_ttl(pool, tenant, thread_id, minutes=0.001, strategy="keep_latest")
    await asyncio.sleep(0.15)

    report = await expire_threads(pool, default_minutes=None, tenant=tenant)
    again = await expire_threads(pool, default_minutes=None, tenant=tenant)
    ttl = await get_thread_ttl(pool, tenant, thread_id, default_minutes=None)
    after = await engine.run("hy-chain", {"note": "c"}, thread_id=thread_id)

    assert report.pruned == [ThreadRef(tenant, thread_id)]
    assert report.deleted == []
    assert again.pruned == []
    assert again.deleted == []
    assert ttl is not None
    assert ttl.expires_at is None
    assert ttl.strategy == "keep_latest"
    assert (await engine.history(thread_id, limit=100))[-1].parent_checkpoint_id is None
    assert after.values["trail"] == [*values["trail"], "one", "two"]
    ttl = await get_thread_ttl(pool, tenant, thread_id, default_minutes=None)
    assert ttl is not None
    assert ttl.expires_at is not None


async def test_busy_threads_are_neither_removed_nor_pruned(
    engine: Engine, pool: Pool, tenant: str, gate: Gate
) -> None:
    """A thread with a running run, or with a queued one, survives expiry and pruning whole;
    the running run then ends normally and the thread expires after it."""
    task = asyncio.create_task(engine.run("hy-slow", {"note": "slow"}, thread_id="hy-running"))
    await asyncio.wait_for(gate.started.wait(), 30)
    queued = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=queued.thread_id)
    await engine.runtime.run_service.create(
        tenant,
        queued.thread_id,
        RunRequest(assistant_id="hy-chain", input={"note": "c"}, multitask_strategy="enqueue"),
    )  # no worker here: it stays pending
    refs = [(tenant, "hy-running"), (tenant, queued.thread_id)]
    rows_before = await thread_rows(pool, refs, await run_ids(pool, refs))
    await expire_soon(pool, tenant, "hy-running", queued.thread_id)

    expired = await expire_threads(pool, default_minutes=None, tenant=tenant)
    pruned = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant, again=True))

    assert expired.deleted == []
    assert expired.pruned == []
    assert pruned.threads == []
    assert await thread_rows(pool, refs, await run_ids(pool, refs)) == rows_before
    gate.release.set()
    result = await asyncio.wait_for(task, 30)
    assert (result.status, result.values["done"]) == ("completed", True)
    await expire_soon(pool, tenant, "hy-running")
    later = await expire_threads(pool, default_minutes=None, tenant=tenant)
    assert later.deleted == [ThreadRef(tenant, "hy-running")]


async def test_interrupted_thread_is_left_whole_and_resumes(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """Pruning skips a thread waiting at a gate; approving it later completes the run."""
    paused = await engine.run("hy-gated", {"note": "a"})
    ref = (tenant, paused.thread_id)
    before = await thread_rows(pool, [ref])

    report = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant, again=True))
    done = await engine.resume(paused.thread_id, "approve")

    assert report.threads == []
    assert before["checkpoints"] > 1
    assert done.status == "completed"
    assert done.values["trail"] == ["one", "two"]
    after = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant))
    assert after.threads == [ThreadRef(*ref)]


async def test_prune_keeps_the_latest_n_and_history_pages_still_work(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """keep=3 leaves the 3 newest checkpoints per namespace with their values; history pages
    walk exactly those, the oldest has no parent; pruned ids are checkpoint.not_found; a new
    run continues from the latest state."""
    first = await engine.run("hy-chain", {"note": "a"})
    thread_id = first.thread_id
    for note in ("b", "c", "d"):
        await engine.run("hy-chain", {"note": note}, thread_id=thread_id)
    ref = (tenant, thread_id)
    states = engine.runtime.states
    full = await engine.history(thread_id, limit=1000)
    namespaces = await checkpoint_counts(pool, ref)
    kept_values = {s.checkpoint_id: s.values for s in full[:3]}

    report = await prune_threads(pool, PrunePolicy(keep=3, tenant=tenant))

    assert report.threads == [ThreadRef(*ref)]
    totals = report.table_totals()
    after = await checkpoint_counts(pool, ref)
    assert len(namespaces) == 5  # the root's, and one per subworkflow call (4 runs)
    # The root keeps 3; of the subworkflow calls only the last one's is newer than them.
    assert after[""] == 3
    assert sorted(after.values()) == [3, 3]
    assert len(after) == 2
    assert totals["checkpoints"] == sum(namespaces.values()) - 6
    assert totals["checkpoint_writes"] > 0
    assert totals["checkpoint_blobs"] > 0
    assert totals["parent_unlinked"] == 1  # the oldest kept root checkpoint
    pages: list[Any] = []
    before: str | None = None
    while page := await engine.history(thread_id, limit=1, before=before):
        pages += page
        before = page[-1].checkpoint_id
    assert [p.checkpoint_id for p in pages] == [s.checkpoint_id for s in full[:3]]
    assert [p.parent_checkpoint_id for p in pages] == [
        pages[1].checkpoint_id,
        pages[2].checkpoint_id,
        None,
    ]
    assert {p.checkpoint_id: p.values for p in pages} == kept_values
    for checkpoint_id in kept_values:
        snap = await states.snapshot(tenant, thread_id, checkpoint_id)
        assert snap is not None
        assert snap.values == kept_values[checkpoint_id]
    with pytest.raises(NotFoundError) as caught:
        await states.snapshot(tenant, thread_id, full[3].checkpoint_id)
    assert caught.value.code == "checkpoint.not_found"
    snapshots = await states.snapshot_history(tenant, thread_id, limit=10)
    assert snapshots[-1].parent_config is None
    nxt = await engine.run("hy-chain", {"note": "e"}, thread_id=thread_id)
    assert nxt.values["trail"] == ["one", "two"] * 5
    assert nxt.values["label"] == "marked"


async def test_a_pruned_thread_is_pruned_again_only_after_activity(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """A second pass skips an unchanged pruned thread (unless ``again``); a run makes it due."""
    done = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=done.thread_id)
    ref = ThreadRef(tenant, done.thread_id)

    first = await prune_threads(pool, PrunePolicy(keep=2, tenant=tenant))
    second = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant))
    forced = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant, again=True))
    await engine.run("hy-chain", {"note": "c"}, thread_id=done.thread_id)
    third = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant))

    assert (first.threads, second.threads, forced.threads, third.threads) == (
        [ref],
        [],
        [ref],
        [ref],
    )
    assert (await checkpoint_counts(pool, (tenant, done.thread_id)))[""] == 1


async def test_dry_run_reports_exactly_what_a_real_pass_deletes(
    engine: Engine, pool: Pool, tenant: str
) -> None:
    """A dry run deletes nothing and reports the rows the real pass then deletes."""
    done = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=done.thread_id)
    gone = await engine.run("hy-chain", {"note": "c"})
    await expire_soon(pool, tenant, gone.thread_id)
    refs = [(tenant, done.thread_id), (tenant, gone.thread_id)]
    before = await thread_rows(pool, refs, await run_ids(pool, refs))
    policy = PrunePolicy(keep=1, tenant=tenant, thread_ids=[done.thread_id])

    dry_expiry = await expire_threads(pool, default_minutes=None, tenant=tenant, dry_run=True)
    dry = await prune_threads(pool, policy, dry_run=True)
    unchanged = await thread_rows(pool, refs, await run_ids(pool, refs))
    real_expiry = await expire_threads(pool, default_minutes=None, tenant=tenant)
    real = await prune_threads(pool, policy)

    assert unchanged == before
    assert dry.threads == real.threads == [ThreadRef(tenant, done.thread_id)]
    assert dry.rows == real.rows
    assert sum(real.rows.values()) > 0
    assert dry_expiry.deleted == real_expiry.deleted == [ThreadRef(tenant, gone.thread_id)]
    assert dry_expiry.rows == real_expiry.rows


async def test_two_sweepers_at_once_share_the_work(
    engine: Engine, pool: Pool, database_url: str, tenant: str
) -> None:
    """Two sweepers on separate connections remove 120 expired threads and prune 60 others
    together: no error, no thread handled twice, none left."""
    source = await engine.run("hy-chain", {"note": "a"})
    await engine.run("hy-chain", {"note": "b"}, thread_id=source.thread_id)
    states = engine.runtime.states
    doomed = [f"doomed-{i:03}" for i in range(120)]
    pruned = [f"pruned-{i:03}" for i in range(60)]
    for thread_id in doomed + pruned:
        await states.copy_thread(tenant, source.thread_id, thread_id)
    await expire_soon(pool, tenant, *doomed)
    other = await open_pool(database_url, min_size=1, max_size=2)
    try:
        one, two = await asyncio.gather(
            expire_threads(pool, default_minutes=None, tenant=tenant, batch=7),
            expire_threads(other, default_minutes=None, tenant=tenant, batch=7),
        )
        policy = PrunePolicy(keep=1, tenant=tenant)
        three, four = await asyncio.gather(
            prune_threads(pool, policy, batch=5), prune_threads(other, policy, batch=5)
        )
    finally:
        await other.close()

    assert not set(one.deleted) & set(two.deleted)
    assert sorted(one.deleted + two.deleted) == [ThreadRef(tenant, t) for t in doomed]
    assert not set(three.threads) & set(four.threads)
    pruned_refs = {ThreadRef(tenant, t) for t in [*pruned, source.thread_id]}
    assert set(three.threads + four.threads) == pruned_refs
    assert await thread_rows(pool, [(tenant, t) for t in doomed]) == dict.fromkeys(
        await thread_rows(pool, []), 0
    )
    for thread_id in pruned:
        assert (await checkpoint_counts(pool, (tenant, thread_id)))[""] == 1


FLAKY_CHILD: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-flaky-child",
    "state": {"trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        "first": {
            "kind": "function",
            "ref": "hy.count",
            "inputs": {"name": "'first'"},
            "writes": "trail",
        },
        "second": {"kind": "function", "ref": "hy.flaky", "writes": "trail"},
    },
    "edges": [
        {"from": "START", "to": "first"},
        {"from": "first", "to": "second"},
        {"from": "second", "to": "END"},
    ],
}
FLAKY_PARENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hy-flaky",
    "state": {
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "child_trail": {"type": "array", "items": {"type": "string"}, "nullable": True},
    },
    "nodes": {
        "prepare": {
            "kind": "function",
            "ref": "hy.count",
            "inputs": {"name": "'prepare'"},
            "writes": "trail",
        },
        "sub": {
            "kind": "subworkflow",
            "workflow": "hy-flaky-child",
            "outputs": {"child_trail": "trail"},
        },
    },
    "edges": [
        {"from": "START", "to": "prepare"},
        {"from": "prepare", "to": "sub"},
        {"from": "sub", "to": "END"},
    ],
}


async def test_failed_thread_pruned_then_retried_reruns_no_finished_node(
    open_engine: OpenEngine, pool: Pool, tenant: str
) -> None:
    """A run that failed inside a subworkflow, pruned to its latest checkpoint, resumes
    without running a finished node of the parent or the child again."""
    calls: Counter[str] = Counter()
    registry = Registry()

    async def count(name: str) -> str:
        calls[name] += 1
        return name

    async def flaky() -> str:
        calls["second"] += 1
        if calls["second"] == 1:
            raise GraphwrightError("the CRM is away", code="crm.unavailable")
        return "second"

    registry.add_function("hy.count", count)
    registry.add_function("hy.flaky", flaky)
    engine = await open_engine(registry)
    await engine.publish(FLAKY_CHILD)
    await engine.publish(FLAKY_PARENT)
    failed = await engine.run("hy-flaky")
    await engine.run("hy-flaky", thread_id="hy-other")  # older thread: pruned as well

    report = await prune_threads(pool, PrunePolicy(keep=1, tenant=tenant))
    resumed = await engine.resume(failed.thread_id)

    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error["code"] == "crm.unavailable"
    assert ThreadRef(tenant, failed.thread_id) in report.threads
    assert resumed.status == "completed", (resumed.error, report.rows)
    assert resumed.values["child_trail"] == ["first", "second"]
    assert calls == Counter(prepare=2, first=2, second=3)  # 2 threads; one retry of "second"
