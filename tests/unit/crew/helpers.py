"""Documents, registries and a runner shared by the crew unit tests."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, Interrupt

from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.validate import WorkflowResolver
from graphwright.nodes.context import RunContext
from graphwright.nodes.progress import GW_EVENT
from graphwright.registry import Registry
from graphwright.testing import Answer, final_answer, scripted_llm, scripted_llms, tool_call

__all__ = [
    "INLINE_NODE",
    "Probe",
    "Run",
    "crew_document",
    "crew_registry",
    "run_graph",
]

INLINE_NODE: dict[str, Any] = {
    "kind": "crew",
    "inputs": {"topic": "state.topic"},
    "crew": {
        "agents": {
            "researcher": {
                "role": "Researcher",
                "goal": "Find facts about ${inputs.topic}",
                "backstory": "A careful analyst.",
                "llm": "scripted",
                "tools": ["demo.lookup"],
            },
            "writer": {
                "role": "Writer",
                "goal": "Summarise what the researcher found",
                "backstory": "Writes short, plain reports.",
                "llm": "scripted",
            },
        },
        "tasks": [
            {
                "name": "research",
                "description": "Research ${inputs.topic}.",
                "expected_output": "Facts about ${inputs.topic}.",
                "agent": "researcher",
            },
            {
                "name": "summary",
                "description": "Summarise the facts.",
                "expected_output": '{"summary": {"title": ..., "assets": ...}}',
                "agent": "writer",
                "output_schema": "summary",
            },
        ],
    },
    "outputs": {"facts": "tasks[0].raw", "summary": "json.summary", "usage": "usage"},
}

INLINE_SCRIPT: list[Answer] = [
    tool_call("demo_lookup", {"name": "web-1"}),
    final_answer("web-1 is a web server"),
    final_answer({"summary": {"title": "Web tier", "assets": 1}}),
]


def crew_document(
    node: dict[str, Any] | None = None, *, workflow_id: str = "crewed", **state: Any
) -> dict[str, Any]:
    """A one-node document (START -> analyse -> END) with a crew node."""
    fields: dict[str, Any] = {
        "topic": {"type": "string"},
        "facts": {"type": "string", "nullable": True},
        "summary": {"type": "object", "nullable": True},
        "usage": {"type": "object", "nullable": True},
        "report": {"type": "string", "nullable": True},
        "count": {"type": "integer", "nullable": True},
        "items": {"type": "array", "items": {"type": "integer"}, "default": []},
        "results": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        **state,
    }
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": fields,
        "input": ["topic", "items"],
        "nodes": {"analyse": copy.deepcopy(node if node is not None else INLINE_NODE)},
        "edges": [{"from": "START", "to": "analyse"}, {"from": "analyse", "to": "END"}],
    }


@dataclass
class Probe:
    """Counts tool calls and the most crews inside the slow tool at once (thread-safe)."""

    calls: int = 0
    active: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        """One more call inside."""
        with self.lock:
            self.calls += 1
            self.active += 1
            self.most = max(self.most, self.active)

    def leave(self) -> None:
        """One call left."""
        with self.lock:
            self.active -= 1


def crew_registry(
    script: Sequence[Answer] = INLINE_SCRIPT,
    *,
    probe: Probe | None = None,
    slow_seconds: float = 0.2,
) -> Registry:
    """A registry with LLM ``scripted`` (``script``), tools ``demo.lookup`` and
    ``demo.slow``, and crews ``demo.pair`` (two agents, two tasks) and ``demo.item``
    (one agent calling ``slow`` then answering ``done <item>``)."""
    registry = Registry()
    registry.add_llm("scripted", scripted_llms(script))
    seen = probe if probe is not None else Probe()

    @registry.tool("demo.lookup")
    def lookup(name: str) -> str:
        """Look up an asset by name."""
        return f"{name} is a web server"

    def slow(label: str = "") -> str:
        """Wait for a slow inventory system, then return the label."""
        seen.enter()
        try:
            time.sleep(slow_seconds)
        finally:
            seen.leave()
        return f"checked {label}"

    registry.add_tool("demo.slow", slow)

    @registry.crew("demo.pair")
    def pair(inputs: dict[str, Any]) -> Any:
        return _pair_crew(inputs)

    @registry.crew("demo.item")
    def item_crew(inputs: dict[str, Any]) -> Any:
        return _item_crew(inputs, slow)

    return registry


def _pair_crew(inputs: dict[str, Any]) -> Any:
    from crewai import Agent, Crew, Task

    analyst = Agent(
        role="Analyst",
        goal="Count the assets of {topic}",
        backstory="Counts things.",
        llm=scripted_llm([final_answer({"count": 3, "names": ["a", "b", "c"]})]),
    )
    writer = Agent(
        role="Writer",
        goal="Report on {topic}",
        backstory="Writes.",
        llm=scripted_llm([final_answer(f"Report on {inputs['topic']}: 3 assets")]),
    )
    return Crew(
        agents=[analyst, writer],
        tasks=[
            Task(description="Count the assets of {topic}.", expected_output="JSON", agent=analyst),
            Task(description="Write the report.", expected_output="Text", agent=writer),
        ],
    )


def _item_crew(inputs: dict[str, Any], slow: Callable[..., str]) -> Any:
    from crewai import Agent, Crew, Task
    from crewai.tools import tool

    item = inputs["item"]
    checker = Agent(
        role="Checker",
        goal="Check one item",
        backstory="Checks.",
        llm=scripted_llm([tool_call("slow", {"label": str(item)}), final_answer(f"done {item}")]),
        tools=[tool("slow")(slow)],
    )
    return Crew(
        agents=[checker],
        tasks=[Task(description="Check item {item}.", expected_output="done", agent=checker)],
    )


@dataclass
class Run:
    """What :func:`run_graph` saw: the final state, the graphwright progress events and
    the interrupts pending when the run stopped."""

    state: dict[str, Any]
    events: list[dict[str, Any]]
    namespaces: list[tuple[str, ...]]
    interrupts: tuple[Interrupt, ...] = ()

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The events of one kind, in order."""
        return [e for e in self.events if e[GW_EVENT] == kind]

    def kinds(self, prefix: str = "crew.") -> list[str]:
        """Event kinds starting with ``prefix``, in order."""
        return [e[GW_EVENT] for e in self.events if e[GW_EVENT].startswith(prefix)]


async def run_graph(
    doc: dict[str, Any],
    registry: Registry,
    data: dict[str, Any] | None = None,
    *,
    resolve: WorkflowResolver | None = None,
    thread: str = "t1",
    events: list[dict[str, Any]] | None = None,
    saver: InMemorySaver | None = None,
    resume: Command[Any] | None = None,
) -> Run:
    """Compile ``doc`` and run it on an in-memory thread, collecting progress events.

    Events are also appended to ``events`` when given, so a caller sees them when the
    run raises. To resume a paused thread, pass the ``saver`` of the first run and
    ``resume`` (a ``Command``); ``data`` is then ignored.
    """
    compiled = compile_workflow(doc, registry=registry, resolve=resolve)
    graph = compiled.graph(saver if saver is not None else InMemorySaver())
    config: Any = {"configurable": {"thread_id": thread}}
    events = events if events is not None else []
    namespaces: list[tuple[str, ...]] = []
    state: dict[str, Any] = {}
    stream: Any = graph.astream(
        resume if resume is not None else compiled.make_input(data or {"topic": "web-1"}),
        config,
        context=RunContext(),
        stream_mode=["custom", "values"],
        subgraphs=True,
    )
    async for namespace, mode, chunk in stream:
        if mode == "custom" and isinstance(chunk, dict) and GW_EVENT in chunk:
            events.append(chunk)
            namespaces.append(namespace)
        elif mode == "values" and not namespace:
            state = chunk
    snapshot = await graph.aget_state(config)
    return Run(
        state=state, events=events, namespaces=namespaces, interrupts=tuple(snapshot.interrupts)
    )
