"""Validating crew nodes: every problem coded, pointed at its place, with suggestions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import check_workflow
from graphwright.registry import Registry

from ..factories import DROP, apply
from .helpers import crew_document, crew_registry

Found = list[tuple[str, str, str | None]]


def problems(doc: dict[str, Any], registry: Registry | None = None) -> Found:
    """``(code, pointer, suggestion)`` of every problem of ``doc``."""
    spec, found = check_workflow(doc, registry=registry or crew_registry())
    assert (spec is None) == bool(found)
    return [(p.code, p.pointer, p.suggestion) for p in found]


def registered(**node: Any) -> dict[str, Any]:
    """A document whose node runs the registered crew ``demo.pair``."""
    return crew_document(
        {"kind": "crew", "ref": "demo.pair", "inputs": {"topic": "state.topic"}, **node}
    )


def test_inline_and_registered_crews_validate() -> None:
    """The inline crew and a registered crew with outputs are valid documents."""
    assert problems(crew_document()) == []
    assert problems(registered(outputs={"report": "raw", "count": "tasks[0].json.count"})) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("/nodes/analyse/ref", "demo.piar")],
            [("crew.unknown_ref", "/nodes/analyse/ref", "demo.pair")],
        ),
        (
            [("/nodes/analyse/inputs/topic", "state.topik")],
            [("state.unknown_field", "/nodes/analyse/inputs/topic", "topic")],
        ),
        (
            [("/nodes/analyse/outputs", {"reprot": "raw"})],
            [("state.unknown_field", "/nodes/analyse/outputs/reprot", "report")],
        ),
        (
            [("/nodes/analyse/outputs", {"report": "text"})],
            [("crew.output_path", "/nodes/analyse/outputs/report", None)],
        ),
        (
            [("/nodes/analyse/outputs", {"report": "raw.title"})],
            [("crew.output_path", "/nodes/analyse/outputs/report", None)],
        ),
        (
            [("/nodes/analyse/outputs", {"usage": "usage.cost"})],
            [("crew.output_path", "/nodes/analyse/outputs/usage", None)],
        ),
        (
            [("/nodes/analyse/outputs", {"count": "raw"})],
            [("crew.output_type", "/nodes/analyse/outputs/count", None)],
        ),
        (
            [("/nodes/analyse/crew", {"agents": {}, "tasks": []})],
            [
                ("dsl.invalid_value", "/nodes/analyse/crew/agents", None),
                ("dsl.invalid_value", "/nodes/analyse/crew/tasks", None),
            ],
        ),
    ],
    ids=[
        "unknown-ref",
        "input-reads-unknown-field",
        "output-to-unknown-field",
        "output-not-a-result",
        "raw-with-a-path",
        "unknown-usage-key",
        "text-into-integer",
        "crew-and-ref",
    ],
)
def test_registered_crew_problems(
    changes: list[tuple[str, Any]], expected: list[tuple[str, str, str | None]]
) -> None:
    """Each mistake in a registered crew node is one coded problem at its pointer."""
    assert problems(apply(registered(outputs={"report": "raw"}), *changes)) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("/nodes/analyse/crew/agents/researcher/llm", "scriptd")],
            [("crew.unknown_llm", "/nodes/analyse/crew/agents/researcher/llm", "scripted")],
        ),
        (
            [("/nodes/analyse/crew/agents/researcher/tools/0", "demo.lokup")],
            [("crew.unknown_tool", "/nodes/analyse/crew/agents/researcher/tools/0", "demo.lookup")],
        ),
        (
            [("/nodes/analyse/crew/tasks/1/agent", "writter")],
            [("crew.unknown_agent", "/nodes/analyse/crew/tasks/1/agent", "writer")],
        ),
        (
            [("/nodes/analyse/crew/tasks/0/description", "Research ${inputs.topik}.")],
            [("crew.unknown_input", "/nodes/analyse/crew/tasks/0/description", "topic")],
        ),
        (
            [("/nodes/analyse/crew/agents/writer/goal", "Write ${state.topic}")],
            [("expr.unknown_variable", "/nodes/analyse/crew/agents/writer/goal", None)],
        ),
        (
            [("/nodes/analyse/crew/tasks/1/output_schema", "sumary")],
            [("state.unknown_field", "/nodes/analyse/crew/tasks/1/output_schema", "summary")],
        ),
        (
            [("/nodes/analyse/outputs/facts", "tasks[2].raw")],
            [("crew.output_path", "/nodes/analyse/outputs/facts", None)],
        ),
        (
            [("/nodes/analyse/outputs/facts", "tasks[0].pydantic")],
            [("crew.output_path", "/nodes/analyse/outputs/facts", None)],
        ),
        (
            [("/nodes/analyse/outputs/summary", "json.report")],
            [("crew.output_path", "/nodes/analyse/outputs/summary", None)],
        ),
        (
            [("/nodes/analyse/outputs/facts", "json.summary")],
            [("crew.output_type", "/nodes/analyse/outputs/facts", None)],
        ),
        (
            [("/nodes/analyse/crew/process", "hierarchical")],
            [("crew.invalid", "/nodes/analyse/crew", None)],
        ),
        (
            [("/nodes/analyse/crew/tasks/0/agent", DROP)],
            [("crew.invalid", "/nodes/analyse/crew", None)],
        ),
        (
            [("/nodes/analyse/ref", "demo.pair")],
            [("crew.invalid", "/nodes/analyse", None)],
        ),
        (
            [("/nodes/analyse/kind", "crw")],
            [("node.unknown_kind", "/nodes/analyse/kind", "crew")],
        ),
    ],
    ids=[
        "unknown-llm",
        "unknown-tool",
        "unknown-agent",
        "template-reads-unknown-input",
        "template-reads-state",
        "unknown-output-schema",
        "task-out-of-range",
        "pydantic-without-schema",
        "path-outside-schema",
        "object-into-string",
        "hierarchical-without-manager",
        "sequential-task-without-agent",
        "both-ref-and-crew",
        "kind-typo",
    ],
)
def test_inline_crew_problems(
    changes: list[tuple[str, Any]], expected: list[tuple[str, str, str | None]]
) -> None:
    """Each mistake in an inline crew is one coded problem at its pointer, with a suggestion."""
    assert problems(apply(crew_document(), *changes)) == expected


def test_crew_node_without_ref_or_crew_is_invalid() -> None:
    """A crew node with neither ``ref`` nor ``crew`` is crew.invalid at the node."""
    doc = crew_document({"kind": "crew", "outputs": {"report": "raw"}})
    assert problems(doc) == [("crew.invalid", "/nodes/analyse", None)]


def test_hierarchical_crew_names_a_registered_manager_llm() -> None:
    """A hierarchical crew validates with a registered manager LLM and not with an unknown one."""
    doc = apply(
        crew_document(),
        ("/nodes/analyse/crew/process", "hierarchical"),
        ("/nodes/analyse/crew/manager_llm", "scripted"),
    )
    assert problems(doc) == []
    doc["nodes"]["analyse"]["crew"]["manager_llm"] = "boss"
    assert problems(doc) == [("crew.unknown_llm", "/nodes/analyse/crew/manager_llm", None)]


def test_registry_checks_are_skipped_without_a_registry() -> None:
    """Without a registry, unknown crews, LLMs and tools are not problems (structure only)."""
    doc = apply(crew_document(), ("/nodes/analyse/crew/agents/writer/llm", "nowhere"))
    spec, found = check_workflow(doc)
    assert found == []
    assert isinstance(spec, WorkflowSpec)


def map_document(node: dict[str, Any]) -> dict[str, Any]:
    """A document mapping a crew over ``state.items``."""
    doc = crew_document()
    doc["nodes"]["analyse"] = {"kind": "map", "over": "state.items", "node": node}
    return doc


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({"results": "raw"}, []),
        (
            {"report": "raw"},
            [("map.writes_reducer", "/nodes/analyse/node/outputs/report", None)],
        ),
        ({}, [("map.no_output", "/nodes/analyse/node", None)]),
    ],
    ids=["append-field", "replace-field", "no-outputs"],
)
def test_crew_in_a_map_gathers_into_array_fields(
    outputs: dict[str, str], expected: list[tuple[str, str, str | None]]
) -> None:
    """A crew inside a map writes only to append/extend arrays, and must write something."""
    node = {
        "kind": "crew",
        "ref": "demo.item",
        "inputs": {"item": "item", "at": "index"},
        "outputs": outputs,
    }
    assert problems(map_document(node)) == expected


def test_crew_in_a_map_may_read_item_and_index_only_there() -> None:
    """``item`` is a crew input inside a map; outside a map it is an unknown variable."""
    outside = crew_document({"kind": "crew", "ref": "demo.item", "inputs": {"item": "item"}})
    assert problems(outside) == [("expr.unknown_variable", "/nodes/analyse/inputs/item", None)]


def test_unknown_key_in_an_inline_crew_suggests_the_known_one() -> None:
    """A misspelt key of an agent is dsl.unknown_key with the nearest crew key suggested."""
    doc = copy.deepcopy(crew_document())
    agent = doc["nodes"]["analyse"]["crew"]["agents"]["writer"]
    agent["backstroy"] = agent.pop("backstory")
    found = problems(doc)
    assert ("dsl.unknown_key", "/nodes/analyse/crew/agents/writer/backstroy", "backstory") in found
