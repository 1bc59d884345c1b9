"""Crew nodes running in LangGraph (in-memory saver) on the scripted offline LLM."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from typing import Any

import pytest

from graphwright.errors import NodeExecutionError
from graphwright.graphs.render import render_mermaid
from graphwright.graphs.spec import WorkflowSpec
from graphwright.testing import final_answer, scripted_llm, tool_call

from ..factories import apply, resolver
from .helpers import Probe, crew_document, crew_registry, run_graph

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")


async def test_inline_crew_maps_outputs_and_reports_progress() -> None:
    """An inline crew runs its two tasks; outputs land in state; crew events are streamed."""
    run = await run_graph(crew_document(), crew_registry())

    assert run.state["facts"] == "web-1 is a web server"
    assert run.state["summary"] == {"title": "Web tier", "assets": 1}
    assert run.state["usage"]["successful_requests"] == 3
    kinds = run.kinds()
    assert kinds[0] == "crew.started"
    assert kinds[-1] == "crew.usage"
    assert kinds.count("crew.task_completed") == 2
    [started] = run.of("crew.started")
    assert started["agents"] == ["Researcher", "Writer"]
    assert (started["node"], started["tasks_total"], started["process"]) == (
        "analyse",
        2,
        "sequential",
    )
    [tool] = run.of("crew.tool_used")
    assert tool["agent"] == "Researcher"
    assert (tool["tool"], tool["input"], tool["output"]) == (
        "demo_lookup",
        {"name": "web-1"},
        "web-1 is a web server",
    )
    [step] = run.of("crew.agent_step")
    assert (step["agent"], step["kind"], step["tool"]) == ("Researcher", "tool_call", "demo_lookup")
    done = run.of("crew.task_completed")
    assert [(d["task"], d["agent"], d["tasks_done"], d["tasks_total"]) for d in done] == [
        ("research", "Researcher", 1, 2),
        ("summary", "Writer", 2, 2),
    ]
    [usage] = run.of("crew.usage")
    assert usage["status"] == "completed"
    assert usage["tokens"] == usage["total_tokens"] == run.state["usage"]["total_tokens"]
    assert usage["tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert usage["duration_ms"] > 0


async def test_registered_crew_gets_inputs_and_maps_task_outputs() -> None:
    """A registered factory receives the inputs; task JSON and the final text are mapped."""
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.pair",
            "inputs": {"topic": "state.topic"},
            "outputs": {"count": "tasks[0].json.count", "report": "raw"},
        }
    )
    run = await run_graph(doc, crew_registry(), {"topic": "acme"})

    assert run.state["count"] == 3
    assert run.state["report"] == "Report on acme: 3 assets"
    [started] = run.of("crew.started")
    assert started["crew"] == "demo.pair"
    assert [d["agent"] for d in run.of("crew.task_completed")] == ["Analyst", "Writer"]
    assert run.of("crew.usage")[0]["successful_requests"] == 2


async def test_wrong_shape_answer_is_crew_output_invalid() -> None:
    """A crew answer that does not fit the state field fails the node with crew.output_invalid."""
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.pair",
            "inputs": {"topic": "state.topic"},
            "outputs": {"count": "tasks[0].json.names"},
        }
    )
    with pytest.raises(NodeExecutionError) as caught:
        await run_graph(doc, crew_registry())

    assert caught.value.code == "crew.output_invalid"
    assert caught.value.details["node"] == "analyse"
    assert caught.value.details["problems"][0]["pointer"] == "/count"


async def test_answer_that_is_not_json_is_crew_output_invalid() -> None:
    """Reading JSON from a plain-text answer fails with crew.output_invalid naming the source."""
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.pair",
            "inputs": {"topic": "state.topic"},
            "outputs": {"count": "json.count"},
        }
    )
    with pytest.raises(NodeExecutionError) as caught:
        await run_graph(doc, crew_registry())

    assert caught.value.code == "crew.output_invalid"
    assert caught.value.details["source"] == "json.count"
    assert "not JSON" in caught.value.message


async def test_failing_crew_is_crew_failed_with_the_crews_message() -> None:
    """A crew whose LLM fails ends the node with crew.failed carrying the error message."""
    registry = crew_registry(script=[])  # the LLM has no answer at all
    events: list[dict[str, Any]] = []

    with pytest.raises(NodeExecutionError) as caught:
        await run_graph(crew_document(), registry, events=events)

    assert caught.value.code == "crew.failed"
    assert caught.value.details["type"] == "ScriptExhaustedError"
    assert "has no answer for call 1" in caught.value.message
    assert [e["status"] for e in events if e["gw_event"] == "crew.usage"] == ["failed"]
    [failed] = [e for e in events if e["gw_event"] == "node.failed"]
    assert failed["error"]["code"] == "crew.failed"


async def test_factory_returning_no_crew_is_crew_invalid_crew() -> None:
    """A registered factory returning something else than a Crew is crew.invalid_crew."""
    registry = crew_registry()
    registry.add_crew("demo.broken", lambda: {"not": "a crew"})
    doc = crew_document({"kind": "crew", "ref": "demo.broken", "outputs": {"report": "raw"}})

    with pytest.raises(NodeExecutionError) as caught:
        await run_graph(doc, registry)

    assert caught.value.code == "crew.invalid_crew"
    assert caught.value.details["type"] == "dict"


async def test_retry_policy_reruns_a_crew_with_a_bad_answer() -> None:
    """With a retry policy, a crew.output_invalid attempt is retried and the next one wins."""
    registry = crew_registry()
    attempts: list[int] = []

    def flaky_crew() -> Any:
        from crewai import Agent, Crew, Task

        attempts.append(1)
        answer = "no idea" if len(attempts) == 1 else '{"count": 7}'
        agent = Agent(
            role="Counter", goal="Count", backstory="b", llm=scripted_llm([final_answer(answer)])
        )
        return Crew(agents=[agent], tasks=[Task(description="d", expected_output="e", agent=agent)])

    registry.add_crew("demo.flaky", flaky_crew)
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.flaky",
            "outputs": {"count": "json.count"},
            "retry": {"max_attempts": 2, "initial_interval": 0, "jitter": False},
        }
    )
    run = await run_graph(doc, registry)

    assert run.state["count"] == 7
    assert len(attempts) == 2
    [failed] = run.of("node.failed")
    assert failed["error"]["code"] == "crew.output_invalid"
    assert (failed["attempt"], failed["will_retry"]) == (1, True)
    assert [u["status"] for u in run.of("crew.usage")] == ["completed", "completed"]


async def test_timeout_stops_the_crew_and_records_its_usage() -> None:
    """A crew past its node timeout fails with node.timeout, stops at its next step, and its
    usage so far is reported as cancelled."""
    probe = Probe()
    script = [tool_call("demo_slow", {"label": "a"}), tool_call("demo_slow", {"label": "b"})]
    registry = crew_registry(script, probe=probe, slow_seconds=0.5)
    node = {
        "kind": "crew",
        "timeout": 0.2,
        "crew": {
            "agents": {
                "checker": {
                    "role": "Checker",
                    "goal": "Check",
                    "backstory": "b",
                    "llm": "scripted",
                    "tools": ["demo.slow"],
                }
            },
            "tasks": [{"description": "Check.", "expected_output": "ok", "agent": "checker"}],
        },
        "outputs": {"report": "raw"},
    }
    events: list[dict[str, Any]] = []
    started = time.monotonic()
    with pytest.raises(NodeExecutionError) as caught:
        await run_graph(crew_document(node), registry, events=events)
    assert caught.value.code == "node.timeout"
    assert time.monotonic() - started < 0.45, "the node does not wait for the crew's thread"
    [usage] = [e for e in events if e["gw_event"] == "crew.usage"]
    assert usage["status"] == "cancelled"
    assert usage["successful_requests"] == 1

    await asyncio.sleep(0.8)  # the first tool call ends; the crew must not go on
    assert probe.calls == 1
    assert [e["gw_event"] for e in events].count("crew.usage") == 1


async def test_crew_does_not_block_the_event_loop() -> None:
    """While a crew's tool blocks for 0.3 s, other coroutines keep running."""
    probe = Probe()
    registry = crew_registry(probe=probe, slow_seconds=0.3)
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.item",
            "inputs": {"item": "state.topic"},
            "outputs": {"report": "raw"},
        }
    )
    ticks: list[float] = []
    gc.collect()  # a full collection inside the window stalls every thread, not the crew's

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        run = await run_graph(doc, registry, {"topic": "x"})
    finally:
        ticking.cancel()
    assert run.state["report"] == "done x"
    assert probe.calls == 1
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20
    assert max(gaps) < 0.2


async def test_crews_in_a_map_run_concurrently_up_to_the_limit() -> None:
    """A map over five items runs five crews, at most two at once, results in item order."""
    probe = Probe()
    registry = crew_registry(probe=probe, slow_seconds=0.25)
    doc = crew_document()
    doc["nodes"]["analyse"] = {
        "kind": "map",
        "over": "state.items",
        "max_concurrency": 2,
        "node": {
            "kind": "crew",
            "ref": "demo.item",
            "inputs": {"item": "item"},
            "outputs": {"results": "raw"},
        },
    }
    run = await run_graph(doc, registry, {"topic": "t", "items": [1, 2, 3, 4, 5]})

    assert run.state["results"] == [f"done {i}" for i in range(1, 6)]
    assert probe.calls == 5
    assert probe.most == 2
    assert run.kinds().count("crew.usage") == 5
    assert {e["node"] for e in run.events if e["gw_event"].startswith("crew.")} == {"analyse__item"}


async def test_inline_crew_in_a_map_reads_the_item() -> None:
    """Inline crew templates read map inputs; each item's crew answers from its own prompt."""

    def echo(messages: list[dict[str, Any]]) -> str:
        prompt = "\n".join(str(m["content"]) for m in messages)
        number = prompt.split("Item number ")[1].split(".")[0]
        return final_answer(f"seen {number}")

    registry = crew_registry([echo])
    doc = crew_document()
    doc["nodes"]["analyse"] = {
        "kind": "map",
        "over": "state.items",
        "max_concurrency": 3,
        "node": {
            "kind": "crew",
            "inputs": {"n": "item * 10"},
            "crew": {
                "agents": {
                    "a": {"role": "Reader", "goal": "Read", "backstory": "b", "llm": "scripted"}
                },
                "tasks": [
                    {
                        "description": "Item number ${inputs.n}.",
                        "expected_output": "seen",
                        "agent": "a",
                    }
                ],
            },
            "outputs": {"results": "raw"},
        },
    }
    run = await run_graph(doc, registry, {"topic": "t", "items": [1, 2, 3]})

    assert run.state["results"] == ["seen 10", "seen 20", "seen 30"]


async def test_crews_in_parallel_branches_both_run() -> None:
    """Two crew nodes fanned out from START run in one step and each writes its field."""
    probe = Probe()
    registry = crew_registry(probe=probe, slow_seconds=0.3)
    doc = crew_document()
    doc["nodes"] = {
        "left": {
            "kind": "crew",
            "ref": "demo.item",
            "inputs": {"item": "'left'"},
            "outputs": {"report": "raw"},
        },
        "right": {
            "kind": "crew",
            "ref": "demo.item",
            "inputs": {"item": "'right'"},
            "outputs": {"facts": "raw"},
        },
    }
    doc["edges"] = [
        {"from": "START", "to": ["left", "right"]},
        {"from": ["left", "right"], "to": "END"},
    ]
    run = await run_graph(doc, registry)

    assert (run.state["report"], run.state["facts"]) == ("done left", "done right")
    assert probe.most == 2, "the two crews overlap"
    assert sorted(e["node"] for e in run.of("crew.usage")) == ["left", "right"]


async def test_crew_in_a_subworkflow_reports_through_the_parent() -> None:
    """A crew node inside a child workflow runs; its events carry the child's namespace."""
    child = crew_document(workflow_id="child")
    parent = crew_document(workflow_id="parent")
    parent["nodes"] = {
        "analyse": {
            "kind": "subworkflow",
            "workflow": "child",
            "inputs": {"topic": "state.topic"},
            "outputs": {"summary": "summary", "facts": "facts"},
        }
    }
    run = await run_graph(
        parent, crew_registry(), resolve=resolver({"child": child, "parent": parent})
    )

    assert run.state["summary"] == {"title": "Web tier", "assets": 1}
    assert run.state["facts"] == "web-1 is a web server"
    crew_namespaces = {
        ns
        for ns, e in zip(run.namespaces, run.events, strict=True)
        if e["gw_event"] == "crew.usage"
    }
    assert len(crew_namespaces) == 1
    [namespace] = crew_namespaces
    assert namespace[0].startswith("analyse:")


async def test_hierarchical_inline_crew_runs_with_its_manager() -> None:
    """A hierarchical crew runs with a manager on the manager LLM; its answer is the output."""
    registry = crew_registry([final_answer("The manager's plan")])
    doc = apply(
        crew_document(),
        ("/nodes/analyse/crew/process", "hierarchical"),
        ("/nodes/analyse/crew/manager_llm", "scripted"),
        ("/nodes/analyse/crew/tasks", [{"description": "Plan.", "expected_output": "A plan."}]),
        ("/nodes/analyse/outputs", {"report": "raw"}),
    )
    run = await run_graph(doc, registry)

    assert run.state["report"] == "The manager's plan"
    assert run.of("crew.started")[0]["process"] == "hierarchical"


async def test_pydantic_output_of_a_schema_task() -> None:
    """A task with output_schema yields a structured answer readable as ``pydantic``."""
    doc = apply(crew_document(), ("/nodes/analyse/outputs", {"summary": "pydantic.summary"}))
    run = await run_graph(doc, crew_registry())

    assert run.state["summary"] == {"title": "Web tier", "assets": 1}


def test_crew_nodes_render_as_cylinders() -> None:
    """Mermaid draws crew nodes as cylinders naming the crew, also inside maps."""
    doc = crew_document()
    doc["nodes"]["each"] = {
        "kind": "map",
        "over": "state.items",
        "node": {"kind": "crew", "ref": "demo.item", "outputs": {"results": "raw"}},
    }
    doc["edges"] = [
        {"from": "START", "to": "analyse"},
        {"from": "analyse", "to": "each"},
        {"from": "each", "to": "END"},
    ]
    text = render_mermaid(WorkflowSpec.model_validate(doc))

    assert '    n_analyse[("analyse<br/>crew: Researcher, Writer (2 tasks, sequential)")]' in text
    assert "map: crew: demo.item" in text
    assert "classDef gw_crew" in text
