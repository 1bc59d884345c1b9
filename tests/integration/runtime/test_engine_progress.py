"""Progress events a UI renders: steps, map progress, attempts, node progress, decisions."""

from __future__ import annotations

from typing import Any

import pytest

from graphwright import NodeExecutionError, Registry, RunEvent, progress
from tests.integration.runtime.conftest import OpenEngine

pytestmark = pytest.mark.integration

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "progressive",
    "state": {
        "items": {"type": "array", "items": {"type": "integer"}, "default": [1, 2, 3, 4]},
        "out": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
        "flaky": {"type": "string", "nullable": True},
        "review": {"type": "object", "nullable": True},
    },
    "nodes": {
        "work": {
            "kind": "map",
            "over": "state.items",
            "max_concurrency": 2,
            "node": {"kind": "function", "ref": "p.square", "writes": "out"},
        },
        "flaky": {
            "kind": "function",
            "ref": "p.flaky",
            "writes": "flaky",
            "retry": {"max_attempts": 3, "initial_interval": 0, "jitter": False},
        },
        "gate": {
            "kind": "approval",
            "prompt": "ok?",
            "decisions": ["approve", "reject"],
            "writes": "review",
        },
    },
    "edges": [
        {"from": "START", "to": "work"},
        {"from": "work", "to": "flaky"},
        {"from": "flaky", "to": "gate"},
        {"from": "gate", "to": "END"},
    ],
}


def registry() -> Registry:
    """Functions: square reports progress; flaky fails twice then succeeds."""
    reg = Registry()
    calls = {"flaky": 0}

    async def square(item: int) -> int:
        progress(0.5, f"squaring {item}", item=item)
        return item * item

    async def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise NodeExecutionError("not yet", code="crm.unavailable")
        return "ok"

    reg.add_function("p.square", square)
    reg.add_function("p.flaky", flaky)
    return reg


async def collect(events: Any) -> list[RunEvent]:
    """All events of a stream."""
    return [event async for event in events]


async def test_progress_events_for_a_ui(open_engine: OpenEngine) -> None:
    """map.progress counts up to the total, retries report attempts, decisions are reported."""
    engine = await open_engine(registry())
    await engine.publish(DOC)
    first = await collect(engine.stream("progressive"))
    done = [e.data["done"] for e in first if e.type == "map.progress"]
    totals = {e.data["total"] for e in first if e.type == "map.progress"}
    assert done == [1, 2, 3, 4]
    assert totals == {4}

    reports = [e for e in first if e.type == "node.progress"]
    assert len(reports) == 4
    assert {e.data["fraction"] for e in reports} == {0.5}
    assert sorted(e.data["data"]["item"] for e in reports) == [1, 2, 3, 4]
    assert all(e.node == "work" for e in reports)

    failures = [e for e in first if e.type == "node.failed"]
    assert [(e.data["attempt"], e.data["will_retry"]) for e in failures] == [(1, True), (2, True)]
    assert all(e.data["error"]["code"] == "crm.unavailable" for e in failures)

    steps = [e.data["step"] for e in first if e.type == "node.started"]
    assert steps == sorted(steps)
    assert steps[0] >= 1

    thread_id = first[-1].thread_id
    second = await collect(engine.stream_resume(thread_id, {"decision": "approve", "by": "ana"}))
    [decided] = [e for e in second if e.type == "approval.decided"]
    assert decided.node == "gate"
    assert decided.data["decision"] == "approve"
    assert decided.data["by"] == "ana"


async def test_final_failure_is_reported_once(open_engine: OpenEngine) -> None:
    """A node that exhausts its retries is reported with will_retry false exactly once."""
    reg = Registry()

    async def always() -> str:
        raise NodeExecutionError("down", code="crm.unavailable")

    reg.add_function("p.always", always)
    doc = {
        "dsl": "graphwright/v1",
        "id": "always-fails",
        "state": {"x": {"type": "string", "nullable": True}},
        "nodes": {
            "a": {
                "kind": "function",
                "ref": "p.always",
                "writes": "x",
                "retry": {"max_attempts": 2, "initial_interval": 0, "jitter": False},
            }
        },
        "edges": [{"from": "START", "to": "a"}, {"from": "a", "to": "END"}],
    }
    engine = await open_engine(reg)
    await engine.publish(doc)
    events = await collect(engine.stream("always-fails"))
    failures = [e for e in events if e.type == "node.failed"]
    assert [(e.data["attempt"], e.data["will_retry"]) for e in failures] == [(1, True), (2, False)]
    assert events[-1].data == {"status": "failed"}
