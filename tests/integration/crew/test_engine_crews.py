"""Crew nodes through the real Engine on PostgreSQL: registered and inline crews, progress
events in the run's stream, output validation, maps and subworkflows."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from graphwright import Registry, RunEvent
from graphwright.examples import register
from tests.integration.crew.conftest import INLINE_DOC, NODES
from tests.integration.runtime.conftest import OpenEngine
from tests.integration.service.conftest import EXAMPLES
from tests.unit.crew.helpers import Probe, crew_registry

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")
pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())
CREW_EVENTS = ("crew.started", "crew.agent_step", "crew.tool_used", "crew.task_completed")


async def collect(events: Any) -> list[RunEvent]:
    """All events of a stream."""
    return [event async for event in events]


def example_registry() -> Registry:
    """The examples' registry plus the crew test module (LLM ``scripted``, tool lookup)."""
    from graphwright.registry import load_registry_modules

    registry = Registry()
    register(registry)
    return load_registry_modules([str(NODES)], registry)


async def test_registered_crew_runs_in_the_asset_discovery_example(
    open_engine: OpenEngine,
) -> None:
    """The example's crew runs on the engine: its events are in the run's stream with the
    run's identity, its outputs are in state, and the run continues to the approval gate."""
    engine = await open_engine(example_registry())
    await engine.publish((EXAMPLES / "asset-discovery.json").read_text())

    events = await collect(engine.stream("asset-discovery", DISCOVERY_INPUT))

    crew = [e for e in events if e.type.startswith("crew.")]
    assert {e.type for e in crew} >= {*CREW_EVENTS[:1], *CREW_EVENTS[2:], "crew.usage"}
    assert {e.node for e in crew} == {"analyse"}
    assert {(e.workflow_id, e.run_id) for e in crew} == {("asset-discovery", events[0].run_id)}
    assert [e.data["tool"] for e in crew if e.type == "crew.tool_used"] == [
        "infer_dependencies",
        "write_asset_plan",
    ]
    [usage] = [e for e in crew if e.type == "crew.usage"]
    assert usage.data["tokens"] > 0
    assert usage.data["status"] == "completed"
    result = events[-1].result
    assert result is not None
    assert result.status == "interrupted"
    assert [(d["from"], d["to"]) for d in result.values["dependencies"]] == [
        ("web-01", "lb-01"),
        ("web-02", "lb-01"),
    ]
    assert result.values["report"].startswith("Asset plan for acme")

    finished = await engine.resume(result.thread_id, {"decision": "approve"})
    assert finished.status == "completed"
    assert finished.output["published"]["dependencies"] == 2


async def test_inline_crew_runs_through_the_engine(open_engine: OpenEngine) -> None:
    """An inline crew on a settings-named LLM and a registered tool maps its outputs."""
    engine = await open_engine(example_registry())
    await engine.publish(INLINE_DOC)

    events = await collect(engine.stream("crew-inline", {"topic": "web-1"}))

    result = events[-1].result
    assert result is not None
    assert result.status == "completed", result.error
    assert result.output["facts"] == "web-1 is a web server"
    assert result.output["summary"] == {"title": "Web tier", "assets": 1}
    usage = next(e for e in events if e.type == "crew.usage")
    assert result.output["usage"]["total_tokens"] == usage.data["tokens"]
    kinds = [e.type for e in events if e.type.startswith("crew.")]
    assert kinds[0] == "crew.started"
    assert kinds[-1] == "crew.usage"
    assert kinds.count("crew.task_completed") == 2
    assert "crew.tool_used" in kinds
    assert "crew.agent_step" in kinds


async def test_wrong_shape_fails_the_run_with_crew_output_invalid(
    open_engine: OpenEngine,
) -> None:
    """A crew result that does not fit its state field fails the run with a coded error."""
    doc = copy.deepcopy(INLINE_DOC)
    doc["id"] = "crew-wrong-shape"
    doc["state"]["facts"] = {"type": "integer", "nullable": True}
    doc["nodes"]["analyse"]["outputs"] = {"facts": "json.summary.title"}
    engine = await open_engine(example_registry())
    await engine.publish(doc)

    events = await collect(engine.stream("crew-wrong-shape", {"topic": "web-1"}))

    result = events[-1].result
    assert result is not None
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "crew.output_invalid"
    assert result.error["details"]["problems"][0]["pointer"] == "/facts"
    [failed] = [e for e in events if e.type == "node.failed"]
    assert (failed.node, failed.data["error"]["code"]) == ("analyse", "crew.output_invalid")


async def test_crews_in_a_map_run_concurrently_through_the_engine(
    open_engine: OpenEngine,
) -> None:
    """A map of four crews with max_concurrency 2 overlaps two at a time; map.progress counts
    them; results are gathered in item order."""
    probe = Probe()
    doc = {
        "dsl": "graphwright/v1",
        "id": "crew-map",
        "state": {
            "items": {"type": "array", "items": {"type": "integer"}},
            "results": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        },
        "input": ["items"],
        "nodes": {
            "check": {
                "kind": "map",
                "over": "state.items",
                "max_concurrency": 2,
                "node": {
                    "kind": "crew",
                    "ref": "demo.item",
                    "inputs": {"item": "item"},
                    "outputs": {"results": "raw"},
                    "timeout": 30,
                },
            }
        },
        "edges": [{"from": "START", "to": "check"}, {"from": "check", "to": "END"}],
    }
    engine = await open_engine(crew_registry(probe=probe, slow_seconds=0.3))
    await engine.publish(doc)

    events = await collect(engine.stream("crew-map", {"items": [1, 2, 3, 4]}))

    result = events[-1].result
    assert result is not None
    assert result.output["results"] == ["done 1", "done 2", "done 3", "done 4"]
    assert (probe.calls, probe.most) == (4, 2)
    assert [e.data["done"] for e in events if e.type == "map.progress"] == [1, 2, 3, 4]
    assert [e.node for e in events if e.type == "crew.usage"] == ["check"] * 4


async def test_crew_in_a_subworkflow_through_the_engine(open_engine: OpenEngine) -> None:
    """A published child workflow with a crew runs as a parent's node; its crew events carry
    the subworkflow path."""
    child = copy.deepcopy(INLINE_DOC)
    child["id"] = "crew-child"
    parent = {
        "dsl": "graphwright/v1",
        "id": "crew-parent",
        "state": {"topic": {"type": "string"}, "summary": {"type": "object", "nullable": True}},
        "input": ["topic"],
        "nodes": {
            "delegate": {
                "kind": "subworkflow",
                "workflow": "crew-child",
                "inputs": {"topic": "state.topic"},
                "outputs": {"summary": "summary"},
            }
        },
        "edges": [{"from": "START", "to": "delegate"}, {"from": "delegate", "to": "END"}],
    }
    engine = await open_engine(example_registry())
    await engine.publish(child)
    await engine.publish(parent)

    events = await collect(engine.stream("crew-parent", {"topic": "web-1"}))

    result = events[-1].result
    assert result is not None
    assert result.output["summary"] == {"title": "Web tier", "assets": 1}
    usage = [e for e in events if e.type == "crew.usage"]
    assert [(e.node, e.data["subworkflow_path"]) for e in usage] == [("analyse", ["delegate"])]
