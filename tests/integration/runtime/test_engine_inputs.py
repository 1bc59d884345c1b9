"""Validation of run input and of node updates through the engine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import InvalidInputError, NotFoundError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.store import Pool
from graphwright.store.run_payload import RunPayload
from graphwright.store.runs import NewRun

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "typed",
    "state": {
        "name": {"type": "string"},
        "count": {"type": "integer", "default": 0},
        "result": {"type": "string", "nullable": True},
    },
    "input": ["name", "count"],
    "nodes": {
        "produce": {
            "kind": "function",
            "ref": "in.produce",
            "retry": {"max_attempts": 3, "initial_interval": 0, "jitter": False},
        }
    },
    "edges": [{"from": "START", "to": "produce"}, {"from": "produce", "to": "END"}],
}


class Producer:
    """``in.produce`` returns ``update`` and counts its calls."""

    def __init__(self, update: Any) -> None:
        self.update = update
        self.calls: Counter[str] = Counter()

    def registry(self) -> Registry:
        registry = Registry()

        async def produce() -> Any:
            self.calls["produce"] += 1
            return self.update

        registry.add_function("in.produce", produce)
        return registry


async def thread_rows(pool: Pool, tenant: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select count(*) as n from gw_threads where tenant_id = %s", (tenant,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


async def checkpoint_rows(pool: Pool, thread_id: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select count(*) as n from checkpoints where thread_id = %s", (thread_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize(
    ("run_input", "pointer"),
    [
        pytest.param({"name": "x", "count": "many"}, "/count", id="wrong-type"),
        pytest.param({"name": "x", "bogus": 1}, "/bogus", id="unknown-field"),
        pytest.param({"name": "x", "result": "y"}, "/result", id="state-field-not-input"),
        pytest.param({"count": 1}, "/name", id="missing-required"),
    ],
)
async def test_invalid_input_creates_nothing(
    open_engine: OpenEngine,
    pool: Pool,
    tenant: str,
    run_input: dict[str, Any],
    pointer: str,
) -> None:
    """Bad input raises state.invalid_input naming the field; no thread or checkpoint is made."""
    producer = Producer({"result": "ok"})
    engine = await open_engine(producer.registry())
    await engine.publish(DOC)

    with pytest.raises(InvalidInputError) as caught:
        await engine.run("typed", run_input, thread_id="t-invalid")

    assert caught.value.code == "state.invalid_input"
    assert pointer in [p["pointer"] for p in caught.value.details["problems"]]
    assert await thread_rows(pool, tenant) == 0
    assert await checkpoint_rows(pool, "t-invalid") == 0
    with pytest.raises(NotFoundError):
        await engine.get_state("t-invalid")
    assert not producer.calls


async def test_stream_with_invalid_input_yields_no_event(open_engine: OpenEngine) -> None:
    """``stream`` raises state.invalid_input before yielding run.started."""
    engine = await open_engine(Producer({"result": "ok"}).registry())
    await engine.publish(DOC)
    seen: list[str] = []

    async def drain() -> None:
        async for event in engine.stream("typed", {"count": "many"}):
            seen.append(event.type)

    with pytest.raises(InvalidInputError) as caught:
        await drain()

    assert caught.value.code == "state.invalid_input"
    assert seen == []


async def test_valid_input_runs_with_defaults(open_engine: OpenEngine) -> None:
    """Valid input runs; missing optional inputs take their defaults."""
    engine = await open_engine(Producer({"result": "ok"}).registry())
    await engine.publish(DOC)

    result = await engine.run("typed", {"name": "x"})

    assert result.status == "completed"
    assert result.values == {"name": "x", "count": 0, "result": "ok"}


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"nope": 1}, id="unknown-field"),
        pytest.param({"result": 5}, id="wrong-type"),
        pytest.param("just text", id="not-a-mapping"),
    ],
)
async def test_bad_update_fails_run_naming_the_node(open_engine: OpenEngine, update: Any) -> None:
    """A bad node update fails the run with state.invalid_update naming the node, unretried."""
    producer = Producer(update)
    engine = await open_engine(producer.registry())
    await engine.publish(DOC)

    result = await engine.run("typed", {"name": "x"})
    state = await engine.get_state(result.thread_id)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "state.invalid_update"
    assert result.error["details"]["node"] == "produce"
    assert state.status == "failed"
    assert state.values["result"] is None
    assert producer.calls == Counter(produce=1)


async def test_queued_run_stopped_before_start_settles_its_thread(
    open_engine: OpenEngine, tenant: str
) -> None:
    """A claimed run whose input no longer fits fails and leaves its thread failed, not running."""
    engine = await open_engine(Producer({"result": "ok"}).registry())
    published = await engine.publish(DOC)
    runtime = engine.runtime
    await engine.threads.create(
        tenant, "t-claimed", workflow_id="typed", workflow_version=published.version
    )
    new = NewRun(
        run_id="r-1",
        thread_id="t-claimed",
        assistant_id="typed",
        workflow_version=published.version,
        payload=RunPayload(input={"name": 5}),
        metadata={},
        multitask_strategy="reject",
        max_attempts=3,
    )
    async with runtime.pool.connection() as conn:
        run = await runtime.runs.insert(conn, tenant, new, owner=engine.owner, lease_seconds=30)
    # What the run queue's claim does to the thread.
    await engine.threads.take_over(tenant, "t-claimed", run_id="r-1", owner=engine.owner)
    events = [e async for e in runtime.executor.process(run, taken_over=True)]
    final = events[-1].result
    assert final is not None
    assert final.error is not None
    assert final.error["code"] == "state.invalid_input"
    thread = await engine.threads.get(tenant, "t-claimed")
    assert thread.status == "failed"
    assert thread.error is not None
    assert thread.error["code"] == "state.invalid_input"
    assert thread.lease_owner is None
    row = await runtime.runs.get(tenant, "r-1")
    assert (row.status, row.error["code"] if row.error else None) == (
        "error",
        "state.invalid_input",
    )
