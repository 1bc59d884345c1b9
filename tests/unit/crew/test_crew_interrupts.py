"""LangGraph interrupts raised inside crews (by a factory or a tool) pause the run."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphInterrupt
from langgraph.types import Command, Interrupt, interrupt

from graphwright.registry import Registry
from graphwright.testing import Answer, final_answer, scripted_llm, scripted_llms, tool_call

from .helpers import Run, crew_document, run_graph

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")

SUMMARY = final_answer({"summary": {"title": "Web tier", "assets": 1}})


def observed(messages: list[dict[str, Any]]) -> str:
    """A scripted final answer repeating the last tool result the agent observed."""
    text = "\n".join(str(m.get("content", "")) for m in messages)
    return final_answer(re.findall(r"Observation: (.*)", text)[-1])


def asking_registry(script: list[Answer], calls: list[str]) -> Registry:
    """LLM ``scripted`` and tool ``demo.lookup``, which asks a human (``interrupt()``)."""
    registry = Registry()
    registry.add_llm("scripted", scripted_llms(script))

    @registry.tool("demo.lookup")
    def lookup(name: str) -> str:
        """Look up an asset by name."""
        calls.append(name)
        owner = interrupt({"question": f"who owns {name}?"})
        return f"{name} is owned by {owner}"

    return registry


async def pause_then_resume(
    doc: dict[str, Any], registry: Registry, answer: str
) -> tuple[Run, Run]:
    """Run ``doc`` until it pauses, then resume it with ``answer``."""
    saver = InMemorySaver()
    paused = await run_graph(doc, registry, saver=saver)
    resumed = await run_graph(doc, registry, saver=saver, resume=Command(resume=answer))
    return paused, resumed


async def test_tool_interrupt_pauses_the_run_and_resume_answers_it() -> None:
    """A tool calling interrupt() pauses the node (no failure); on resume the crew runs again
    and interrupt() returns the resume value, which reaches state through the tool's result."""
    calls: list[str] = []
    script: list[Answer] = [tool_call("demo_lookup", {"name": "web-1"}), observed, SUMMARY]

    paused, resumed = await pause_then_resume(
        crew_document(), asking_registry(script, calls), "team-a"
    )

    [pending] = paused.interrupts
    assert pending.value == {"question": "who owns web-1?"}
    assert paused.state.get("facts") is None
    assert paused.of("node.failed") == []
    assert [u["status"] for u in paused.of("crew.usage")] == ["interrupted"]
    assert paused.of("crew.tool_used") == []  # the interrupted call reports no output
    assert resumed.interrupts == ()
    assert resumed.state["facts"] == "web-1 is owned by team-a"
    assert resumed.state["summary"] == {"title": "Web tier", "assets": 1}
    assert calls == ["web-1", "web-1"]  # code before interrupt() runs again on resume


async def test_factory_interrupt_pauses_the_run_and_resume_answers_it() -> None:
    """A crew factory calling interrupt() pauses the node without crew.failed; on resume the
    factory gets the value and builds the crew with it."""
    registry = Registry()

    @registry.crew("demo.asking")
    def asking() -> Any:
        from crewai import Agent, Crew, Task

        topic = interrupt("which topic?")
        agent = Agent(
            role="Writer", goal="Write", backstory="b", llm=scripted_llm([final_answer(topic)])
        )
        return Crew(agents=[agent], tasks=[Task(description="d", expected_output="e", agent=agent)])

    doc = crew_document({"kind": "crew", "ref": "demo.asking", "outputs": {"report": "raw"}})

    paused, resumed = await pause_then_resume(doc, registry, "databases")

    assert [i.value for i in paused.interrupts] == ["which topic?"]
    assert paused.of("node.failed") == []
    assert paused.kinds() == []  # the crew was never built
    assert resumed.state["report"] == "databases"


async def test_interrupt_in_a_factory_crews_own_tool_burns_no_retry() -> None:
    """A tool of a factory-built crew that interrupts pauses a node with a retry policy: no
    attempt is reported failed or retried, and the resumed run completes."""
    calls: list[str] = []

    def ask(name: str) -> str:
        """Ask a human about an asset."""
        calls.append(name)
        return f"{name}: {interrupt(name)}"

    def build() -> Any:
        from crewai import Agent, Crew, Task
        from crewai.tools import tool

        agent = Agent(
            role="Checker",
            goal="Check",
            backstory="b",
            llm=scripted_llm([tool_call("ask", {"name": "db-1"}), observed]),
            tools=[tool("ask")(ask)],
        )
        return Crew(agents=[agent], tasks=[Task(description="d", expected_output="e", agent=agent)])

    registry = Registry()
    registry.add_crew("demo.checker", build)
    doc = crew_document(
        {
            "kind": "crew",
            "ref": "demo.checker",
            "outputs": {"report": "raw"},
            "retry": {"max_attempts": 3, "initial_interval": 0, "jitter": False},
        }
    )

    paused, resumed = await pause_then_resume(doc, registry, "fine")

    assert [i.value for i in paused.interrupts] == ["db-1"]
    assert calls == ["db-1", "db-1"]  # one attempt before the pause, one after
    assert paused.of("node.failed") == resumed.of("node.failed") == []
    assert resumed.state["report"] == "db-1: fine"


def raising(exc: BaseException | None) -> Callable[[], str]:
    """A documented function raising ``exc`` (returning ``"ok"`` for None)."""

    def act() -> str:
        """Act."""
        if exc is not None:
            raise exc
        return "ok"

    return act


def base_tool(exc: BaseException | None) -> Any:
    """A ``crewai.tools.BaseTool`` subclass instance whose ``_run`` is :func:`raising`."""
    from crewai.tools import BaseTool

    class Acting(BaseTool):
        name: str = "acting"
        description: str = "Acts."

        def _run(self) -> str:
            return raising(exc)()

    return Acting()


def function_tool(exc: BaseException | None) -> Any:
    """A crewai function tool (``crewai.tools.tool``) of :func:`raising`."""
    from crewai.tools import tool

    return tool("acting")(raising(exc))


@pytest.mark.parametrize("make", [function_tool, base_tool], ids=["function-tool", "base-tool"])
def test_guarded_tool_outside_a_crew_run_raises_the_interrupt_itself(
    make: Callable[[BaseException | None], Any],
) -> None:
    """Outside a crew run a guarded tool raises GraphInterrupt unchanged; other exceptions
    and results pass through; guarding twice wraps once."""
    from graphwright.nodes.crew_interrupts import guard_tool

    bubble = GraphInterrupt((Interrupt(value="x"),))
    interrupting, failing, fine = make(bubble), make(ValueError("bad")), make(None)
    unguarded = vars(interrupting).copy()
    for tool in (interrupting, failing, fine):
        guard_tool(tool)
    guarded = vars(interrupting).copy()
    guard_tool(interrupting)

    assert unguarded != guarded == vars(interrupting)
    with pytest.raises(GraphInterrupt) as caught:
        interrupting.run()
    assert caught.value is bubble
    with pytest.raises(ValueError, match="bad"):
        failing.run()
    assert fine.run() == "ok"
