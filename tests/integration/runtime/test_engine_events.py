"""Run events from ``stream``/``stream_resume``, parallel branches and the step limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunEvent

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

PIPELINE_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "pipeline",
    "state": {
        "items": {"type": "array", "items": {"type": "integer"}, "default": []},
        "doubled": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
        "total": {"type": "integer", "nullable": True},
        "review": {"type": "object", "nullable": True},
    },
    "nodes": {
        "load": {"kind": "function", "ref": "ev.load", "writes": "items"},
        "double": {
            "kind": "map",
            "over": "state.items",
            "node": {"kind": "function", "ref": "ev.double", "writes": "doubled"},
        },
        "total": {
            "kind": "function",
            "ref": "ev.total",
            "inputs": {"values": "state.doubled"},
            "writes": "total",
        },
        "gate": {"kind": "approval", "prompt": "Total ${state.total}?", "writes": "review"},
    },
    "edges": [
        {"from": "START", "to": "load"},
        {"from": "load", "to": "double"},
        {"from": "double", "to": "total"},
        {"from": "total", "to": "gate"},
        {"from": "gate", "to": "END"},
    ],
}

FAN_OUT_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "fan-out",
    "state": {"done": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        name: {
            "kind": "function",
            "ref": "ev.branch",
            "inputs": {"name": f"'{name}'"},
            "writes": "done",
        }
        for name in ("north", "south", "west")
    },
    "edges": [
        {"from": "START", "to": ["north", "south", "west"]},
        {"from": ["north", "south", "west"], "to": "END"},
    ],
}

CYCLE_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "cycle",
    "state": {"turns": {"type": "integer", "reducer": "add"}},
    "nodes": {
        "ping": {"kind": "function", "ref": "ev.turn", "writes": "turns"},
        "pong": {"kind": "function", "ref": "ev.turn", "writes": "turns"},
    },
    "edges": [
        {"from": "START", "to": "ping"},
        {"from": "ping", "to": "pong"},
        {
            "from": "pong",
            "cases": [{"when": "state.turns > 1000", "to": "END"}],
            "default": "ping",
        },
    ],
    "limits": {"max_steps": 5},
}

FAILING_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "failing",
    "state": {"turns": {"type": "integer", "reducer": "add"}},
    "nodes": {"broken": {"kind": "function", "ref": "ev.broken", "writes": "turns"}},
    "edges": [{"from": "START", "to": "broken"}, {"from": "broken", "to": "END"}],
}


@pytest.fixture
def spans() -> dict[str, tuple[float, float]]:
    """``(start, end)`` of each fan-out branch, from ``time.monotonic()``."""
    return {}


@pytest.fixture
def registry(spans: dict[str, tuple[float, float]]) -> Registry:
    """Functions of this module's workflows."""
    registry = Registry()

    async def load() -> list[int]:
        return [1, 2, 3]

    async def double(item: int) -> int:
        return item * 2

    async def total(values: list[int]) -> int:
        return sum(values)

    async def branch(name: str) -> str:
        start = time.monotonic()
        await asyncio.sleep(0.05)  # long enough for the siblings to start if they run together
        spans[name] = (start, time.monotonic())
        return name

    async def turn() -> int:
        return 1

    async def broken() -> int:
        raise NodeExecutionError("the CRM is down", code="crm.unavailable")

    for name, func in {
        "ev.load": load,
        "ev.double": double,
        "ev.total": total,
        "ev.branch": branch,
        "ev.turn": turn,
        "ev.broken": broken,
    }.items():
        registry.add_function(name, func)
    return registry


@pytest.fixture
async def engine(open_engine: OpenEngine, registry: Registry) -> Engine:
    """An engine with this module's workflows published."""
    engine = await open_engine(registry)
    for document in (PIPELINE_DOC, FAN_OUT_DOC, CYCLE_DOC, FAILING_DOC):
        await engine.publish(document)
    return engine


async def collect(events: Any) -> list[RunEvent]:
    return [event async for event in events]


def assert_well_formed(events: list[RunEvent]) -> None:
    """run.started first, run.finished last with the result, one run id, starts before ends."""
    assert events[0].type == "run.started"
    assert events[-1].type == "run.finished"
    assert [e.type for e in events].count("run.started") == 1
    assert [e.type for e in events].count("run.finished") == 1
    assert events[-1].result is not None
    assert {e.run_id for e in events} == {events[0].run_id}
    started: set[str] = set()
    for event in events:
        task_id = event.data.get("task_id")
        if event.type == "node.started":
            started.add(task_id)
        elif event.type in ("node.finished", "node.failed"):
            assert task_id in started, f"{event.type} of {event.node} before its node.started"


async def test_stream_orders_events_and_reports_map_items(engine: Engine) -> None:
    """Events start with run.started, end with run.finished; map item events carry item_index."""
    events = await collect(engine.stream("pipeline"))

    assert_well_formed(events)
    result = events[-1].result
    assert result is not None
    assert result.status == "interrupted"
    assert events[-1].data == {"status": "interrupted"}
    finished = [e.node for e in events if e.type == "node.finished"]
    assert {"load", "double", "total"} <= set(finished)
    item_starts = [e for e in events if e.type == "node.started" and e.data.get("map")]
    assert sorted(e.data["item_index"] for e in item_starts) == [0, 1, 2]
    assert {e.node for e in item_starts} == {"double"}
    index_of_task = {e.data["task_id"]: e.data["item_index"] for e in item_starts}
    item_ends = [
        e for e in events if e.type == "node.finished" and e.data["task_id"] in index_of_task
    ]
    assert sorted(e.data["item_index"] for e in item_ends) == [0, 1, 2]
    assert all(e.data["item_index"] == index_of_task[e.data["task_id"]] for e in item_ends)
    requested = [e for e in events if e.type == "approval.requested"]
    assert [(e.node, e.data["id"]) for e in requested] == [("gate", result.approvals[0].id)]
    assert requested[0].data["prompt"] == "Total 12?"


async def test_stream_resume_reports_the_resumed_run(engine: Engine) -> None:
    """``stream_resume`` yields a well-formed run that finishes the gate and completes."""
    paused = await engine.run("pipeline")

    events = await collect(engine.stream_resume(paused.thread_id, "approve"))

    assert_well_formed(events)
    result = events[-1].result
    assert result is not None
    assert (result.status, result.thread_id) == ("completed", paused.thread_id)
    assert result.run_id != paused.run_id
    assert "gate" in [e.node for e in events if e.type == "node.finished"]
    assert "load" not in [e.node for e in events if e.type == "node.started"]


async def test_failing_node_reports_node_failed(engine: Engine) -> None:
    """A failing node yields node.failed with its error code, then run.finished failed."""
    events = await collect(engine.stream("failing"))

    assert_well_formed(events)
    failed = [e for e in events if e.type == "node.failed"]
    assert [e.node for e in failed] == ["broken"]
    assert failed[0].data["error"]["code"] == "crm.unavailable"
    assert events[-1].data == {"status": "failed"}


async def test_parallel_branches_overlap(
    engine: Engine, spans: dict[str, tuple[float, float]]
) -> None:
    """Three fan-out branches run at the same time: every one starts before any one ends."""
    result = await engine.run("fan-out")

    assert result.status == "completed"
    assert sorted(result.values["done"]) == ["north", "south", "west"]
    assert sorted(spans) == ["north", "south", "west"]
    assert max(start for start, _ in spans.values()) < min(end for _, end in spans.values())


async def test_cycle_stops_at_step_limit(engine: Engine) -> None:
    """A cycle with limits.max_steps=5 fails the run and the thread with run.step_limit."""
    result = await engine.run("cycle")
    state = await engine.get_state(result.thread_id)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "run.step_limit"
    assert result.error["details"]["max_steps"] == 5
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["code"] == "run.step_limit"
    assert 0 < state.values["turns"] <= 5
