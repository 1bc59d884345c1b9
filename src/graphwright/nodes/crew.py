"""``crew`` nodes: run a CrewAI crew with inputs from state and outputs mapped back.

A :class:`CrewCall` is compiled with the workflow: input expressions, output
sources, and for inline crews the templates, LLM factories, tools and answer
schemas. It imports nothing from crewai; the first crew run imports
:mod:`graphwright.nodes.crew_runtime` (and crewai, which takes seconds) in a
worker thread, so a workflow without crew nodes never loads crewai and the
event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel, create_model

from graphwright.errors import InvalidInputError, NodeExecutionError
from graphwright.expressions import (
    CompiledExpression,
    CompiledTemplate,
    compile_expression,
    compile_template,
)
from graphwright.graphs.spec import CrewNodeSpec, InlineCrewSpec
from graphwright.nodes.crew_outputs import OutputSource, Usage, parse_source, read_source
from graphwright.nodes.progress import Emitter
from graphwright.registry import CrewEntry, Registry, ToolEntry
from graphwright.registry.llms import apply_crewai_privacy_defaults
from graphwright.state.model import CompiledState, python_type

__all__ = [
    "INSTALL_HINT",
    "AgentPlan",
    "CrewCall",
    "InlineCrewPlan",
    "TaskPlan",
    "load_runtime",
    "render",
]

INSTALL_HINT = "pip install 'graphwright[crew]'"
_TEMPLATE_CONTEXT = frozenset({"inputs"})


@dataclass(frozen=True)
class AgentPlan:
    """An inline agent, compiled: templates, its LLM's name and its tools."""

    key: str
    role: str
    goal: CompiledTemplate
    backstory: CompiledTemplate
    llm: str
    tools: tuple[ToolEntry, ...]
    allow_delegation: bool
    max_iter: int | None


@dataclass(frozen=True)
class TaskPlan:
    """An inline task, compiled: templates, its agent and its answer schema."""

    name: str | None
    description: CompiledTemplate
    expected_output: CompiledTemplate
    agent: str | None
    schema: type[BaseModel] | None


@dataclass(frozen=True)
class InlineCrewPlan:
    """An inline crew, compiled; :mod:`crew_runtime` builds crewai objects from it."""

    agents: tuple[AgentPlan, ...]
    tasks: tuple[TaskPlan, ...]
    process: str
    manager_llm: str | None
    llms: Mapping[str, Callable[[], Any]]


def render(template: CompiledTemplate, inputs: Mapping[str, Any]) -> str:
    """Fill a crew template: strings as they are, other values as JSON (``null`` as '')."""
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = part.evaluate({"inputs": dict(inputs)})
        if value is None:
            continue
        out.append(value if isinstance(value, str) else json.dumps(value, default=str))
    return "".join(out)


class CrewCall:
    """A compiled ``crew`` node: evaluate inputs, run the crew, map its outputs."""

    def __init__(
        self,
        name: str,
        spec: CrewNodeSpec,
        registry: Registry,
        state: CompiledState,
        *,
        in_map: bool,
    ) -> None:
        self.name = name
        self.spec = spec
        self.state = state
        allowed = frozenset({"state", "input", "item", "index"} if in_map else {"state", "input"})
        self.inputs: dict[str, CompiledExpression] = {
            key: compile_expression(src, allowed=allowed) for key, src in spec.inputs.items()
        }
        self.outputs: dict[str, OutputSource] = {
            field: parse_source(src) for field, src in spec.outputs.items()
        }
        self.entry: CrewEntry | None = registry.get_crew(spec.ref) if spec.ref else None
        self.plan = _plan(spec.crew, registry, state) if spec.crew is not None else None
        self.label = spec.ref or name
        self.runtime: ModuleType | None = None

    async def ready(self) -> ModuleType:
        """Load the crew runtime (crewai) once; its import time is not the crew's.

        Raises:
            NodeExecutionError: ``crew.not_installed``, or ``crew.failed`` when
                importing crewai raises.
        """
        if self.runtime is None:
            self.runtime = await load_runtime()
        return self.runtime

    async def evaluate(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The crew's inputs: each CEL expression evaluated over ``context``."""
        return {key: await expr.evaluate_async(context) for key, expr in self.inputs.items()}

    async def run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the crew (in a worker thread) and return the validated state update.

        Progress goes to the run's stream as ``crew.*`` events (see
        :mod:`graphwright.nodes.crew_runtime`).

        Raises:
            GraphBubbleUp: the factory or a tool called LangGraph's ``interrupt()``; the
                run pauses, and the node runs again (a new crew) when it is resumed.
            NodeExecutionError: ``crew.failed`` (the crew or its factory raised),
                ``crew.invalid_crew`` (a factory returned something else than a crew),
                ``crew.output_invalid`` (an output cannot be read or does not fit the state).
        """
        runtime = await self.ready()
        emit = Emitter()
        try:
            output, usage = await runtime.run_crew(
                self.builder(inputs),
                label=self.label,
                kickoff_inputs=inputs if self.entry is not None else None,
                emit=emit,
            )
        finally:
            emit.close()
        return self.to_update(output, usage)

    def builder(self, inputs: dict[str, Any]) -> Callable[[ModuleType], Any]:
        """A function building the crew (called in the worker thread with the runtime)."""
        entry, plan = self.entry, self.plan
        if entry is not None:
            if entry.takes_inputs:
                return lambda runtime: entry.factory(inputs=dict(inputs))
            return lambda runtime: entry.factory()
        assert plan is not None  # the spec has exactly one of ref and crew
        return lambda runtime: runtime.build_inline(plan, inputs, label=self.label)

    def to_update(self, output: Any, usage: Usage) -> dict[str, Any]:
        """Read every output source and validate the update against the state model.

        Raises:
            NodeExecutionError: ``crew.output_invalid``.
        """
        values = {field: read_source(src, output, usage) for field, src in self.outputs.items()}
        try:
            return self.state.validate_update(self.name, values)
        except InvalidInputError as exc:
            raise NodeExecutionError(
                f"crew node '{self.name}': {exc.message}",
                code="crew.output_invalid",
                details={"node": self.name, **exc.details},
            ) from exc


async def load_runtime() -> ModuleType:
    """Import :mod:`graphwright.nodes.crew_runtime` (and crewai) in a worker thread.

    Raises:
        NodeExecutionError: ``crew.not_installed`` when crewai is missing.
    """
    apply_crewai_privacy_defaults()
    try:
        return await asyncio.to_thread(_import_runtime)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "crewai":
            raise
        raise NodeExecutionError(
            f"crew nodes need the crewai package, which is not installed: {INSTALL_HINT}",
            code="crew.not_installed",
        ) from exc
    except Exception as exc:  # crewai's import may fail in other ways (its dependencies)
        raise NodeExecutionError(
            f"importing crewai failed: {type(exc).__name__}: {exc}",
            code="crew.failed",
            details={"type": type(exc).__name__, "message": str(exc)},
        ) from exc


def _import_runtime() -> ModuleType:
    from graphwright.nodes import crew_runtime

    return crew_runtime


def _plan(crew: InlineCrewSpec, registry: Registry, state: CompiledState) -> InlineCrewPlan:
    agents = tuple(
        AgentPlan(
            key=key,
            role=agent.role,
            goal=compile_template(agent.goal, allowed=_TEMPLATE_CONTEXT),
            backstory=compile_template(agent.backstory, allowed=_TEMPLATE_CONTEXT),
            llm=agent.llm,
            tools=tuple(registry.get_tool(name) for name in agent.tools),
            allow_delegation=agent.allow_delegation,
            max_iter=agent.max_iter,
        )
        for key, agent in crew.agents.items()
    )
    tasks = tuple(
        TaskPlan(
            name=task.name,
            description=compile_template(task.description, allowed=_TEMPLATE_CONTEXT),
            expected_output=compile_template(task.expected_output, allowed=_TEMPLATE_CONTEXT),
            agent=task.agent,
            schema=_answer_model(task.output_schema, state) if task.output_schema else None,
        )
        for task in crew.tasks
    )
    names = {agent.llm for agent in crew.agents.values()}
    if crew.manager_llm is not None:
        names.add(crew.manager_llm)
    return InlineCrewPlan(
        agents=agents,
        tasks=tasks,
        process=crew.process,
        manager_llm=crew.manager_llm,
        llms={name: registry.get_llm(name) for name in sorted(names)},
    )


def _answer_model(field: str, state: CompiledState) -> type[BaseModel]:
    """The answer of a task with ``output_schema: field``: ``{field: <the field's type>}``."""
    title = "".join(part.capitalize() for part in field.split("_")) + "Answer"
    fields: dict[str, Any] = {field: (python_type(state.fields[field]), ...)}
    model: type[BaseModel] = create_model(title, **fields)
    return model
