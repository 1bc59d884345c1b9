"""Running crews: build inline crews, forward their progress, measure their usage.

This module (with :mod:`graphwright.nodes.crew_interrupts`, which only it imports) is
the only one importing crewai; :func:`graphwright.nodes.crew.load_runtime` imports it
on the first crew run. A crew runs in a worker thread (crewai's
``kickoff`` is synchronous), and reports on the run's stream through an
:class:`~graphwright.nodes.progress.Emitter` captured in the node:

- ``crew.started``: crew label, agent roles, number of tasks, process;
- ``crew.agent_step``: an agent's step (``kind`` ``tool_call`` or ``final_answer``,
  its thought, the tool and input it chose, or its answer), from step callbacks,
  with ``tokens``: the crew's total tokens so far;
- ``crew.tool_used``: a tool call with input, output or error, from crewai's event
  bus (its handlers run on crewai's own threads, so these may interleave with steps);
- ``crew.task_completed``: a task's agent, index, output, ``tasks_done``/``tasks_total``
  and ``tokens`` so far;
- ``crew.usage``: ``tokens`` (total), prompt and completion tokens, requests,
  ``duration_ms`` and ``status`` (``completed``, ``failed``, ``cancelled`` or
  ``interrupted``).

Texts in events are cut at :data:`MAX_TEXT` characters.

A crew factory or a tool that calls LangGraph's ``interrupt()`` pauses the run
(see :mod:`graphwright.nodes.crew_interrupts`).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

from langgraph.errors import GraphBubbleUp

from graphwright.registry.llms import apply_crewai_privacy_defaults

apply_crewai_privacy_defaults()  # before crewai's first import reads the environment

from crewai import Agent, Crew, Process, Task  # noqa: E402
from crewai.agents.parser import AgentAction, AgentFinish  # noqa: E402
from crewai.events.event_bus import crewai_event_bus  # noqa: E402
from crewai.events.types.tool_usage_events import (  # noqa: E402
    ToolUsageErrorEvent,
    ToolUsageFinishedEvent,
)
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.tools import tool as make_tool  # noqa: E402

from graphwright.errors import GraphwrightError, NodeExecutionError  # noqa: E402
from graphwright.nodes.crew import InlineCrewPlan, render  # noqa: E402
from graphwright.nodes.crew_interrupts import (  # noqa: E402
    CrewInterrupted,
    InterruptLatch,
    guard_tool,
)
from graphwright.nodes.crew_outputs import USAGE_KEYS  # noqa: E402
from graphwright.nodes.progress import Emitter  # noqa: E402

__all__ = ["MAX_TEXT", "CrewCancelledError", "build_inline", "run_crew"]

MAX_TEXT = 2000

# The crew run whose thread (or crewai handler thread, which copies the emitting
# thread's context) is current. crewai's event bus is process-wide; one handler,
# registered once, routes tool events to the run that caused them through this.
_ACTIVE: contextvars.ContextVar[_Observer | None] = contextvars.ContextVar(
    "graphwright_crew_run", default=None
)
_LISTENING = threading.Event()
_LISTEN_LOCK = threading.Lock()


class CrewCancelledError(BaseException):
    """Raised inside a crew's thread at its next step once the node attempt was cancelled.

    A ``BaseException``, so crewai's broad ``except Exception`` blocks let it through.
    """


async def run_crew(
    build: Callable[[ModuleType], Any],
    *,
    label: str,
    kickoff_inputs: Mapping[str, Any] | None,
    emit: Emitter,
) -> tuple[Any, dict[str, int | float]]:
    """Build and kick off a crew in a worker thread; return its output and usage.

    Cancelling the awaiting task (a node timeout, a cancelled run) stops the crew
    at its next step or task; the LLM call in flight, if any, finishes first.

    Raises:
        GraphBubbleUp: the factory or a tool called ``interrupt()`` (the run pauses).
        NodeExecutionError: ``crew.failed`` when building or running the crew raises,
            ``crew.invalid_crew`` when ``build`` does not return a ``crewai.Crew``.
    """
    _listen_for_tools()
    observer = _Observer(label, emit)
    runtime = _module()

    def work() -> Any:
        _ACTIVE.set(observer)  # this thread runs in a copy of the caller's context
        observer.interrupts.activate()
        try:
            crew = build(runtime)
        except GraphBubbleUp:
            raise  # the factory called interrupt(): a pause, not a failure
        except GraphwrightError:
            raise  # already coded (an LLM's key missing, ...)
        except Exception as exc:  # the user's factory may raise anything
            raise _failed(label, "building the crew", exc) from exc
        if not isinstance(crew, Crew):
            raise NodeExecutionError(
                f"crew factory '{label}' returned {type(crew).__name__}, not a crewai.Crew",
                code="crew.invalid_crew",
                details={"crew": label, "type": type(crew).__name__},
            )
        observer.attach(crew)
        try:
            output = crew.kickoff(inputs=dict(kickoff_inputs) if kickoff_inputs else None)
        except CrewInterrupted as carrier:  # a tool called interrupt()
            observer.report_usage(crew, "interrupted")
            raise carrier.interrupt from None
        except GraphBubbleUp:
            observer.report_usage(crew, "interrupted")
            raise
        except GraphwrightError:
            observer.raise_interrupt_if_any()  # crewai swallowed the carrier, then failed
            observer.report_usage(crew, "failed")
            raise
        except Exception as exc:  # a crew fails in many ways (LLM, tools, parsing)
            observer.raise_interrupt_if_any()
            observer.report_usage(crew, "failed")
            raise _failed(label, "running the crew", exc) from exc
        observer.raise_interrupt_if_any()
        usage = observer.report_usage(crew, "completed")
        return output, usage

    try:
        output, usage = await asyncio.to_thread(work)
    except asyncio.CancelledError:
        observer.cancel()
        raise
    return output, usage


def build_inline(plan: InlineCrewPlan, inputs: Mapping[str, Any], *, label: str) -> Any:
    """Build a ``crewai.Crew`` from an inline plan, templates filled from ``inputs``.

    Each LLM name gets one new LLM from its registered factory; tools named by
    the registry get a fresh crewai tool per crew.
    """
    llms = {name: factory() for name, factory in plan.llms.items()}
    agents: dict[str, Any] = {}
    for agent in plan.agents:
        options: dict[str, Any] = {}
        if agent.max_iter is not None:
            options["max_iter"] = agent.max_iter
        agents[agent.key] = Agent(
            role=agent.role,
            goal=render(agent.goal, inputs),
            backstory=render(agent.backstory, inputs),
            llm=llms[agent.llm],
            tools=[_tool(entry) for entry in agent.tools],
            allow_delegation=agent.allow_delegation,
            verbose=False,
            **options,
        )
    tasks = [
        Task(
            name=task.name,
            description=render(task.description, inputs),
            expected_output=render(task.expected_output, inputs),
            agent=agents[task.agent] if task.agent is not None else None,
            output_pydantic=task.schema,
        )
        for task in plan.tasks
    ]
    hierarchical = plan.process == "hierarchical"
    return Crew(
        name=label,
        agents=list(agents.values()),
        tasks=tasks,
        process=Process.hierarchical if hierarchical else Process.sequential,
        manager_llm=llms[plan.manager_llm] if plan.manager_llm is not None else None,
        verbose=False,
    )


def _tool(entry: Any) -> Any:
    if entry.is_function:
        return make_tool(entry.tool_name)(entry.tool)
    return entry.tool.model_copy()  # a BaseTool: usage counters per crew


def _module() -> ModuleType:
    import sys

    return sys.modules[__name__]


def _failed(label: str, what: str, exc: BaseException) -> NodeExecutionError:
    message = str(exc).strip() or type(exc).__name__
    return NodeExecutionError(
        f"crew '{label}' failed {what}: {type(exc).__name__}: {message}",
        code="crew.failed",
        details={"crew": label, "type": type(exc).__name__, "message": message},
    )


def _cut(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def _listen_for_tools() -> None:
    """Register (once per process) the crewai bus handlers forwarding tool events."""
    if _LISTENING.is_set():
        return
    with _LISTEN_LOCK:
        if _LISTENING.is_set():
            return
        crewai_event_bus.register_handler(ToolUsageFinishedEvent, _on_tool_event)
        crewai_event_bus.register_handler(ToolUsageErrorEvent, _on_tool_event)
        _LISTENING.set()


def _on_tool_event(source: Any, event: Any) -> None:
    observer = _ACTIVE.get()
    if observer is not None:
        observer.tool_used(event)


class _Observer:
    """One crew run: forwards its callbacks as events, measures duration and tokens."""

    def __init__(self, label: str, emit: Emitter) -> None:
        self.label = label
        self.emit = emit
        self.cancelled = threading.Event()
        self.started = time.monotonic()
        self.tasks_total = 0
        self.tasks_done = 0
        self.crew: Any = None
        self._baseline: dict[int, dict[str, int]] = {}
        self._lock = threading.Lock()
        self._reported = False
        self.interrupts = InterruptLatch()

    def attach(self, crew: Any) -> None:
        """Hook the crew's callbacks, record token baselines, report ``crew.started``."""
        self.crew = crew
        self.tasks_total = len(crew.tasks)
        for tool in _tools(crew):
            guard_tool(tool)
        crew.stream = False  # kickoff must return the CrewOutput, not a chunk iterator
        original_step = crew.step_callback
        for agent in _agents(crew):
            agent.step_callback = self._step(agent.role, agent.step_callback or original_step)
        crew.step_callback = self._step(None, original_step)
        crew.task_callback = self._task(crew.task_callback)
        self._baseline = {id(llm): _counts(llm) for llm in _llms(crew)}
        self.started = time.monotonic()
        self.emit(
            "crew.started",
            {
                "crew": self.label,
                "agents": [str(agent.role) for agent in crew.agents],
                "tasks_total": self.tasks_total,
                "process": str(getattr(crew.process, "value", crew.process)),
            },
        )

    def _step(self, role: str | None, original: Callable[..., Any] | None) -> Callable[..., Any]:
        def on_step(step: Any) -> Any:
            self._check()
            self.agent_step(role, step)
            return original(step) if original is not None else None

        return on_step

    def _task(self, original: Callable[..., Any] | None) -> Callable[..., Any]:
        def on_task(output: Any) -> Any:
            self._check()
            self.task_completed(output)
            return original(output) if original is not None else None

        return on_task

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise CrewCancelledError(f"crew '{self.label}' was cancelled")
        self.interrupts.check()

    def raise_interrupt_if_any(self) -> None:
        """Raise the interrupt a tool raised, if any, after reporting usage as ``interrupted``.

        For a crew that went on (or failed) after crewai swallowed the carrier.
        """
        interrupt = self.interrupts.pending
        if interrupt is not None:
            self.report_usage(self.crew, "interrupted")
            raise interrupt

    def agent_step(self, role: str | None, step: Any) -> None:
        """Report an agent's tool choice or final answer (``crew.agent_step``)."""
        payload: dict[str, Any] = {"crew": self.label, "agent": role}
        if isinstance(step, AgentAction):
            payload.update(
                kind="tool_call",
                thought=_cut(step.thought),
                tool=step.tool,
                tool_input=_cut(step.tool_input),
            )
        elif isinstance(step, AgentFinish):
            payload.update(
                kind="final_answer", thought=_cut(step.thought), output=_cut(step.output)
            )
        else:
            return  # tool results arrive as crew.tool_used
        payload["tokens"] = self.tokens_so_far()["total_tokens"]
        self.emit("crew.agent_step", payload)

    def task_completed(self, output: Any) -> None:
        """Report a finished task (``crew.task_completed``)."""
        with self._lock:
            self.tasks_done += 1
            done = self.tasks_done
        self.emit(
            "crew.task_completed",
            {
                "crew": self.label,
                "task": getattr(output, "name", None),
                "task_index": done - 1,
                "agent": getattr(output, "agent", None),
                "output": _cut(getattr(output, "raw", "") or ""),
                "tasks_done": done,
                "tasks_total": self.tasks_total,
                "tokens": self.tokens_so_far()["total_tokens"],
            },
        )

    def tool_used(self, event: Any) -> None:
        """Report a tool call from crewai's bus (``crew.tool_used``)."""
        error = getattr(event, "error", None)
        output = getattr(event, "output", None)
        if output is None and error is None and self.interrupts.pending is not None:
            return  # the tool interrupted: the run's pending interrupt says so
        arguments = event.tool_args
        self.emit(
            "crew.tool_used",
            {
                "crew": self.label,
                "agent": event.agent_role,
                "tool": event.tool_name,
                "input": arguments if isinstance(arguments, dict) else _cut(arguments),
                "output": None if output is None else _cut(output),
                "error": None if error is None else _cut(error),
                "from_cache": bool(getattr(event, "from_cache", False)),
            },
        )

    def cancel(self) -> None:
        """Stop the crew at its next step and report usage so far as ``cancelled``."""
        self.cancelled.set()
        if self.crew is not None:
            self.report_usage(self.crew, "cancelled")

    def tokens_so_far(self, crew: Any = None) -> dict[str, int]:
        """Tokens and requests of the crew's LLMs since :meth:`attach`."""
        totals = dict.fromkeys(USAGE_KEYS[:-1], 0)
        for llm in _llms(crew if crew is not None else self.crew):
            before = self._baseline.get(id(llm), {})
            for key, value in _counts(llm).items():
                totals[key] += max(value - before.get(key, 0), 0)
        return totals

    def report_usage(self, crew: Any, status: str) -> dict[str, int | float]:
        """Tokens since :meth:`attach` and the duration; reported once (``crew.usage``)."""
        totals = self.tokens_so_far(crew)
        usage: dict[str, int | float] = {
            **totals,
            "duration_ms": round((time.monotonic() - self.started) * 1000, 3),
        }
        with self._lock:
            if self._reported:
                return usage
            self._reported = True
        self.emit(
            "crew.usage",
            {"crew": self.label, "tokens": usage["total_tokens"], "status": status, **usage},
        )
        return usage


def _agents(crew: Any) -> list[Any]:
    found: dict[int, Any] = {id(agent): agent for agent in crew.agents}
    for task in crew.tasks:
        if task.agent is not None:
            found.setdefault(id(task.agent), task.agent)
    return list(found.values())


def _tools(crew: Any) -> Iterator[Any]:
    """The tools of the crew's agents and tasks (crewai adds its own ones at kickoff)."""
    for agent in _agents(crew):
        yield from agent.tools or ()
    for task in crew.tasks:
        yield from task.tools or ()


def _llms(crew: Any) -> list[Any]:
    """Distinct LLM objects of the crew (agents, manager, function calling)."""
    owners = [*_agents(crew), vars(crew).get("manager_agent")]
    candidates = [vars(crew).get("manager_llm"), vars(crew).get("function_calling_llm")]
    for owner in owners:
        if owner is not None:
            # vars(): crewai marks some of these fields deprecated and warns on attribute access.
            candidates += [vars(owner).get("llm"), vars(owner).get("function_calling_llm")]
    found: dict[int, Any] = {}
    for llm in candidates:
        if isinstance(llm, BaseLLM):
            found.setdefault(id(llm), llm)
    return list(found.values())


def _counts(llm: Any) -> dict[str, int]:
    summary = llm.get_token_usage_summary()
    return {key: int(getattr(summary, key, 0) or 0) for key in USAGE_KEYS[:-1]}
