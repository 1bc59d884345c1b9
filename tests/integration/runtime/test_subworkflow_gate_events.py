"""An approval gate inside a subworkflow: its events name the subworkflow they happen in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunEvent

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

CHILD: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "gated-child",
    "state": {
        "x": {"type": "string", "default": ""},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["x"],
    "output": ["x", "review"],
    "nodes": {"gate": {"kind": "approval", "prompt": "Keep ${state.x}?", "writes": "review"}},
    "edges": [{"from": "START", "to": "gate"}, {"from": "gate", "to": "END"}],
}
PARENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "gated-parent",
    "state": {"x": {"type": "string", "default": ""}, "out": {"type": "object", "nullable": True}},
    "input": ["x"],
    "nodes": {
        "inner": {
            "kind": "subworkflow",
            "workflow": "gated-child",
            "inputs": {"x": "state.x"},
            "writes": "out",
        }
    },
    "edges": [{"from": "START", "to": "inner"}, {"from": "inner", "to": "END"}],
}


async def collect(events: Any) -> list[RunEvent]:
    return [event async for event in events]


async def test_gate_in_a_subworkflow_is_requested_and_decided_with_its_path(
    open_engine: OpenEngine,
) -> None:
    """approval.requested and approval.decided of a gate in a subworkflow both carry
    subworkflow_path, so a UI can show the waiting gate inside the subworkflow's graph."""
    engine = await open_engine(Registry())
    await engine.publish(CHILD)
    await engine.publish(PARENT)

    paused = await collect(engine.stream("gated-parent", {"x": "a"}))
    [requested] = [e for e in paused if e.type == "approval.requested"]
    assert (requested.node, requested.data["subworkflow_path"]) == ("gate", ["inner"])
    assert requested.data["prompt"] == "Keep a?"
    result = paused[-1].result
    assert result is not None
    assert result.approvals[0].id == requested.data["id"]

    resumed = await collect(engine.stream_resume(result.thread_id, "approve"))
    [decided] = [e for e in resumed if e.type == "approval.decided"]
    assert (decided.node, decided.data["subworkflow_path"]) == ("gate", ["inner"])
    assert resumed[-1].result is not None
    assert resumed[-1].result.status == "completed"
