"""A caller that stops listening to ``stream``: the thread is recorded as resumable."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "abandoned",
    "state": {"trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        "first": {"kind": "function", "ref": "ab.first", "writes": "trail"},
        "second": {"kind": "function", "ref": "ab.second", "writes": "trail"},
    },
    "edges": [
        {"from": "START", "to": "first"},
        {"from": "first", "to": "second"},
        {"from": "second", "to": "END"},
    ],
}


async def settle(engine: Engine, thread_id: str) -> None:
    """Give a late clean-up of the abandoned run a moment, so it never outlives the test."""
    for _ in range(20):
        if (await engine.get_state(thread_id)).status != "running":
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("stop_after", "node"),
    [
        pytest.param("run.started", None, id="after-run-started"),
        pytest.param("node.started", "second", id="during-second-node"),
    ],
)
async def test_closed_stream_leaves_thread_resumable(
    open_engine: OpenEngine, stop_after: str, node: str | None
) -> None:
    """Closing the stream early marks the thread failed (run.cancelled); resume then completes."""
    calls: Counter[str] = Counter()
    registry = Registry()

    async def first() -> str:
        calls["first"] += 1
        return "first"

    async def second() -> str:
        calls["second"] += 1
        return "second"

    registry.add_function("ab.first", first)
    registry.add_function("ab.second", second)
    engine = await open_engine(registry)
    await engine.publish(DOC)

    try:
        async with aclosing(engine.stream("abandoned", thread_id="left")) as events:
            async for event in events:
                if event.type == stop_after and event.node == node:
                    break
        state = await engine.get_state("left")

        assert state.status == "failed"
        assert state.error is not None
        assert state.error["code"] == "run.cancelled"
        result = await engine.resume("left")
        assert result.status == "completed"
        assert result.values["trail"] == ["first", "second"]
    finally:
        await settle(engine, "left")


async def test_stream_closed_before_run_finished_ends_the_run_row(
    open_engine: OpenEngine,
) -> None:
    """Stopping after the last node's event never leaves the run row running or the thread stuck."""
    registry = Registry()
    registry.add_function("ab.first", lambda: "first")
    registry.add_function("ab.second", lambda: "second")
    engine = await open_engine(registry)
    await engine.publish(DOC)
    run_id = ""
    async with aclosing(engine.stream("abandoned", thread_id="late")) as events:
        async for event in events:
            run_id = event.run_id
            if event.type == "node.finished" and event.node == "second":
                break
    row = await engine.runtime.runs.get(engine.tenant, run_id)
    state = await engine.get_state("late")
    assert (row.status, state.status) in (("success", "completed"), ("error", "failed"))
    if state.status == "failed":
        result = await engine.resume("late")
        assert (result.status, result.run_id) == ("completed", run_id)
    assert (await engine.get_state("late")).values["trail"] == ["first", "second"]
