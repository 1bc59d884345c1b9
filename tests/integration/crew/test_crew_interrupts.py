"""Crews that call LangGraph's ``interrupt()`` (in a tool or in their factory) through the
real Engine on PostgreSQL: the run pauses with the interrupt pending and resumes with a value."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from langgraph.types import interrupt

from graphwright import Registry, RunEvent
from graphwright.testing import final_answer, scripted_llm, scripted_llms, tool_call
from tests.integration.crew.conftest import INLINE_DOC
from tests.integration.runtime.conftest import OpenEngine

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")
pytestmark = pytest.mark.integration

FAILURES = ("node.failed", "crew.failed")


async def collect(events: Any) -> list[RunEvent]:
    """All events of a stream."""
    return [event async for event in events]


def repeat_observation(messages: list[dict[str, Any]]) -> str:
    """A scripted final answer repeating the last tool result the agent observed."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    return final_answer(text.rsplit("Observation: ", 1)[-1].split("\n", 1)[0])


def asking_registry(calls: list[str]) -> Registry:
    """LLM ``scripted`` and tool ``crewtest.lookup``, which asks a human with interrupt()."""
    registry = Registry()
    registry.add_llm(
        "scripted",
        scripted_llms(
            [
                tool_call("crewtest_lookup", {"name": "web-1"}),
                repeat_observation,
                final_answer({"summary": {"title": "Web tier", "assets": 1}}),
            ]
        ),
    )

    @registry.tool("crewtest.lookup")
    def lookup(name: str) -> str:
        """Look up an asset by name."""
        calls.append(name)
        owner = interrupt({"question": f"who owns {name}?"})
        return f"{name} is owned by {owner}"

    return registry


async def test_tool_interrupt_pauses_the_run_and_resume_completes_it(
    open_engine: OpenEngine,
) -> None:
    """A crew tool calling interrupt() ends the run interrupted (not failed) with the tool's
    value pending; resuming with a value completes the run with the tool's result in state."""
    calls: list[str] = []
    doc = copy.deepcopy(INLINE_DOC)
    doc["id"] = "crew-asking-tool"
    doc["nodes"]["analyse"]["retry"] = {"max_attempts": 3, "initial_interval": 0}
    engine = await open_engine(asking_registry(calls))
    await engine.publish(doc)

    events = await collect(engine.stream("crew-asking-tool", {"topic": "web-1"}))

    paused = events[-1].result
    assert paused is not None
    assert paused.status == "interrupted", paused.error
    assert paused.error is None
    assert [i["value"] for i in paused.interrupts] == [{"question": "who owns web-1?"}]
    assert [e.type for e in events if e.type in FAILURES] == []
    assert [e.data["status"] for e in events if e.type == "crew.usage"] == ["interrupted"]
    assert calls == ["web-1"]  # one attempt: the interrupt burned no retry
    state = await engine.get_state(paused.thread_id)
    assert (state.status, state.next) == ("interrupted", ("analyse",))
    assert [i["value"] for i in state.interrupts] == [{"question": "who owns web-1?"}]

    finished = await engine.resume(paused.thread_id, "team-a")

    assert finished.status == "completed", finished.error
    assert finished.output["facts"] == "web-1 is owned by team-a"
    assert finished.output["summary"] == {"title": "Web tier", "assets": 1}
    assert calls == ["web-1", "web-1"]


async def test_factory_interrupt_pauses_the_run_and_resume_completes_it(
    open_engine: OpenEngine,
) -> None:
    """A crew factory calling interrupt() ends the run interrupted with its value pending and
    no crew.failed; resuming gives the factory the value and the run completes."""
    registry = Registry()

    @registry.crew("crewtest.asking")
    def asking() -> Any:
        from crewai import Agent, Crew, Task

        topic = interrupt("which topic?")
        agent = Agent(
            role="Writer", goal="Write", backstory="b", llm=scripted_llm([final_answer(topic)])
        )
        return Crew(agents=[agent], tasks=[Task(description="d", expected_output="e", agent=agent)])

    doc = {
        "dsl": "graphwright/v1",
        "id": "crew-asking-factory",
        "state": {"report": {"type": "string", "nullable": True}},
        "output": ["report"],
        "nodes": {
            "write": {"kind": "crew", "ref": "crewtest.asking", "outputs": {"report": "raw"}}
        },
        "edges": [{"from": "START", "to": "write"}, {"from": "write", "to": "END"}],
    }
    engine = await open_engine(registry)
    await engine.publish(doc)

    events = await collect(engine.stream("crew-asking-factory", {}))

    paused = events[-1].result
    assert paused is not None
    assert paused.status == "interrupted", paused.error
    assert [i["value"] for i in paused.interrupts] == ["which topic?"]
    assert [e.type for e in events if e.type in FAILURES] == []

    finished = await engine.resume(paused.thread_id, "databases")

    assert finished.status == "completed", finished.error
    assert finished.output == {"report": "databases"}
