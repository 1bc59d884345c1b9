"""Semantic checks of ``crew`` nodes (part of :mod:`graphwright.graphs.validate`).

Checks that crewai is installed, that the registered crew, LLMs and tools exist,
that templates compile and read only the node's inputs, that tasks name defined
agents, and that every output names a state field and a crew result whose type
can fit it. None of it imports crewai.
"""

from __future__ import annotations

import importlib.util
from typing import Protocol

from graphwright.errors import Problem
from graphwright.expressions import ExpressionError, compile_template
from graphwright.graphs.pointers import pointer
from graphwright.graphs.spec import (
    CrewAgentSpec,
    CrewNodeSpec,
    FieldSpec,
    InlineCrewSpec,
    WorkflowSpec,
)
from graphwright.nodes.crew_outputs import OutputSource, parse_source
from graphwright.registry import Registry

__all__ = ["check_crew", "crew_binding_problems", "crewai_installed"]
_TEMPLATE_CONTEXT = frozenset({"inputs"})


class _Checker(Protocol):
    spec: WorkflowSpec
    registry: Registry | None
    problems: list[Problem]

    def add(self, code: str, where: str, message: str, suggestion: str | None = None) -> None: ...

    def check_expr(self, source: str, where: str, allowed: frozenset[str]) -> None: ...

    def check_field(self, name: str, where: str, *, role: str = "field") -> bool: ...


def crewai_installed() -> bool:
    """Whether ``crewai`` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("crewai") is not None
    except (ImportError, ValueError):
        return False


def check_crew(
    checker: _Checker, node: CrewNodeSpec, where: str, ctx: frozenset[str], *, in_map: bool
) -> None:
    """Add every problem of the crew node at ``where`` to ``checker``."""
    checker.problems.extend(_installed_problems(where))
    for key, source in node.inputs.items():
        checker.check_expr(source, where + pointer("inputs", key), ctx)
    if (node.ref is None) == (node.crew is None):
        checker.problems.append(
            Problem(
                "crew.invalid",
                where,
                "a crew node has either 'ref' (a registered crew) or 'crew' (an inline crew)",
            )
        )
    checker.problems.extend(_ref_problems(node, where, checker.registry))
    if node.crew is not None:
        _check_inline(checker, node, node.crew, where + "/crew")
    _check_outputs(checker, node, where, in_map=in_map)


def crew_binding_problems(node: CrewNodeSpec, where: str, registry: Registry) -> list[Problem]:
    """Problems of what the crew node at ``where`` needs outside its document.

    That is crewai itself and the registered crew, LLMs and tools it names (see
    :mod:`graphwright.graphs.bindings`); :func:`check_crew` reports them too.
    """
    problems = [*_installed_problems(where), *_ref_problems(node, where, registry)]
    crew = node.crew
    if crew is not None:
        for key, agent in crew.agents.items():
            problems.extend(
                _agent_problems(agent, where + pointer("crew", "agents", key), registry)
            )
        problems.extend(_manager_problems(crew, where + "/crew", registry))
    return problems


def _installed_problems(where: str) -> list[Problem]:
    if crewai_installed():
        return []
    from graphwright.nodes.crew import INSTALL_HINT  # here: nodes.crew imports LangGraph

    return [
        Problem(
            "crew.not_installed",
            where + "/kind",
            f"crew nodes need the crewai package, which is not installed: {INSTALL_HINT}",
        )
    ]


def _ref_problems(node: CrewNodeSpec, where: str, registry: Registry | None) -> list[Problem]:
    from graphwright.graphs.validate import suggest

    if node.ref is None or registry is None or registry.has_crew(node.ref):
        return []
    return [
        Problem(
            "crew.unknown_ref",
            where + "/ref",
            f"no crew is registered as '{node.ref}'",
            suggest(node.ref, registry.crew_names()),
        )
    ]


def _agent_problems(agent: CrewAgentSpec, base: str, registry: Registry | None) -> list[Problem]:
    from graphwright.graphs.validate import suggest

    if registry is None:
        return []
    problems: list[Problem] = []
    if not registry.has_llm(agent.llm):
        problems.append(
            Problem(
                "crew.unknown_llm",
                base + "/llm",
                f"no LLM is registered as '{agent.llm}' (LLMs are named in settings, GW_LLMS)",
                suggest(agent.llm, registry.llm_names()),
            )
        )
    for index, tool in enumerate(agent.tools):
        if not registry.has_tool(tool):
            problems.append(
                Problem(
                    "crew.unknown_tool",
                    base + pointer("tools", index),
                    f"no tool is registered as '{tool}'",
                    suggest(tool, registry.tool_names()),
                )
            )
    return problems


def _manager_problems(crew: InlineCrewSpec, where: str, registry: Registry | None) -> list[Problem]:
    from graphwright.graphs.validate import suggest

    manager = crew.manager_llm
    if manager is None or registry is None or registry.has_llm(manager):
        return []
    return [
        Problem(
            "crew.unknown_llm",
            where + "/manager_llm",
            f"no LLM is registered as '{manager}'",
            suggest(manager, registry.llm_names()),
        )
    ]


def _check_inline(checker: _Checker, node: CrewNodeSpec, crew: InlineCrewSpec, where: str) -> None:
    from graphwright.graphs.validate import suggest

    for key, agent in crew.agents.items():
        base = where + pointer("agents", key)
        for attribute in ("goal", "backstory"):
            _check_template(checker, node, getattr(agent, attribute), base + "/" + attribute)
        checker.problems.extend(_agent_problems(agent, base, checker.registry))
    checker.problems.extend(_manager_problems(crew, where, checker.registry))
    agents = list(crew.agents)
    for index, task in enumerate(crew.tasks):
        base = where + pointer("tasks", index)
        _check_template(checker, node, task.description, base + "/description")
        _check_template(checker, node, task.expected_output, base + "/expected_output")
        if task.agent is not None and task.agent not in crew.agents:
            checker.problems.append(
                Problem(
                    "crew.unknown_agent",
                    base + "/agent",
                    f"task {index} names agent '{task.agent}', which the crew does not define",
                    suggest(task.agent, agents),
                )
            )
        if task.output_schema is not None:
            checker.check_field(task.output_schema, base + "/output_schema", role="output_schema")


def _check_template(checker: _Checker, node: CrewNodeSpec, text: str, where: str) -> None:
    from graphwright.graphs.validate import suggest

    try:
        template = compile_template(text, allowed=_TEMPLATE_CONTEXT)
    except ExpressionError as exc:
        checker.add(exc.code, where, exc.message)
        return
    for _, name in sorted(template.fields):
        if name not in node.inputs:
            checker.problems.append(
                Problem(
                    "crew.unknown_input",
                    where,
                    f"the template reads inputs.{name}, which is not one of the node's inputs",
                    suggest(name, list(node.inputs)),
                )
            )


def _check_outputs(checker: _Checker, node: CrewNodeSpec, where: str, *, in_map: bool) -> None:
    state = checker.spec.state
    for field_name, text in node.outputs.items():
        at = where + pointer("outputs", field_name)
        known = checker.check_field(field_name, at)
        try:
            source = parse_source(text)
        except ValueError as exc:
            checker.problems.append(Problem("crew.output_path", at, str(exc)))
            continue
        produced = _source_type(checker, node, source, at)
        if not known:
            continue
        field = state[field_name]
        if in_map and (field.type != "array" or field.reducer not in ("append", "extend")):
            checker.problems.append(
                Problem(
                    "map.writes_reducer",
                    at,
                    f"'{field_name}' gathers one result per item, so it must be an array "
                    "with reducer 'append' (or 'extend' for list results)",
                )
            )
            continue
        expected = _written_type(field)
        if produced is not None and not _fits(produced, expected):
            checker.problems.append(
                Problem(
                    "crew.output_type",
                    at,
                    f"'{text}' gives a {produced} but '{field_name}' takes a {expected} "
                    f"(type {field.type}, reducer {field.reducer})",
                )
            )
    if in_map and not node.outputs:
        checker.problems.append(
            Problem(
                "map.no_output",
                where,
                "a crew in a map needs 'outputs' (results gathered in array fields)",
            )
        )


def _source_type(
    checker: _Checker, node: CrewNodeSpec, source: OutputSource, where: str
) -> str | None:
    """The JSON type ``source`` gives when it is known statically (else ``None``)."""
    if source.part == "usage":
        if not source.path:
            return "object"
        return "number" if source.path[0] == "duration_ms" else "integer"
    crew = node.crew
    index = None
    if crew is not None:
        index = len(crew.tasks) - 1 if source.task is None else source.task
        if index >= len(crew.tasks):
            checker.problems.append(
                Problem(
                    "crew.output_path",
                    where,
                    f"'{source.text}': the crew has {len(crew.tasks)} task(s) (tasks[0] to "
                    f"tasks[{len(crew.tasks) - 1}])",
                )
            )
            return None
    if source.part == "raw":
        return "string"
    if crew is None or index is None:
        return None  # a registered crew's tasks are unknown until it is built
    schema = crew.tasks[index].output_schema
    if source.part == "pydantic" and schema is None:
        checker.problems.append(
            Problem(
                "crew.output_path",
                where,
                f"'{source.text}': task {index} has no 'output_schema', so no pydantic output",
            )
        )
        return None
    if schema is None or schema not in checker.spec.state:
        return None
    if not source.path:
        return "object"
    if source.path[0] != schema:
        checker.problems.append(
            Problem(
                "crew.output_path",
                where,
                f"'{source.text}': task {index} answers {{\"{schema}\": ...}}, so paths start "
                f"with '{schema}'",
            )
        )
        return None
    return checker.spec.state[schema].type if len(source.path) == 1 else None


def _written_type(field: FieldSpec) -> str:
    if field.reducer == "append":
        return field.items.type if field.items is not None else "any"
    return field.type


def _fits(produced: str, expected: str) -> bool:
    if "any" in (produced, expected) or produced == expected:
        return True
    return produced == "integer" and expected == "number"
