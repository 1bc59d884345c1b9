"""Approval gates: parse_decision and the interrupt/resume cycle of an approval node."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphwright.errors import ApprovalError
from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.spec import ApprovalNodeSpec, WorkflowSpec
from graphwright.nodes.approval import decision_schema, parse_decision
from graphwright.nodes.context import RunContext
from graphwright.registry import Registry
from graphwright.state import CompiledState, compile_state

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "approval",
    "state": {
        "draft": {"type": "string"},
        "score": {"type": "integer", "default": 0},
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "reducer": "extend",
            "default": ["old"],
        },
        "review": {"type": "object"},
    },
    "input": ["draft"],
    "nodes": {
        "gate": {
            "kind": "approval",
            "prompt": "Publish '${state.draft}' (score ${state.score})?",
            "decisions": ["approve", "reject", "edit"],
            "editable": ["draft", "score", "tags"],
            "show": {"length": "size(state.draft)"},
            "writes": "review",
        }
    },
    "edges": [{"from": "START", "to": "gate"}, {"from": "gate", "to": "END"}],
}


@pytest.fixture(scope="module")
def spec() -> ApprovalNodeSpec:
    """The approval node spec of DOC."""
    node = WorkflowSpec.model_validate(DOC).nodes["gate"]
    assert isinstance(node, ApprovalNodeSpec)
    return node


@pytest.fixture(scope="module")
def state() -> CompiledState:
    """The compiled state of DOC."""
    return compile_state(WorkflowSpec.model_validate(DOC))


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("approve", {"decision": "approve", "comment": None, "by": None, "edits": {}}),
        (
            {"decision": "reject", "comment": "too long", "by": "ann"},
            {"decision": "reject", "comment": "too long", "by": "ann", "edits": {}},
        ),
        (
            {"decision": "edit", "edits": {"draft": "shorter", "score": 3}},
            {
                "decision": "edit",
                "comment": None,
                "by": None,
                "edits": {"draft": "shorter", "score": 3},
            },
        ),
        (
            {"decision": "approve", "edits": {}},
            {"decision": "approve", "comment": None, "by": None, "edits": {}},
        ),
    ],
    ids=["name-only", "with-comment-and-by", "edit", "empty-edits"],
)
def test_valid_decision(
    spec: ApprovalNodeSpec, state: CompiledState, answer: Any, expected: dict[str, Any]
) -> None:
    """A valid answer becomes a decision record with validated edits."""
    assert parse_decision(answer, spec, state) == expected


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("publish", "approval.invalid_decision"),
        ({"decision": None}, "approval.invalid_decision"),
        ({}, "approval.invalid_decision"),
        (42, "approval.invalid_decision"),
        (None, "approval.invalid_decision"),
        (["approve"], "approval.invalid_decision"),
        ({"decision": "approve", "note": "x"}, "approval.invalid_decision"),
        ({"decision": "approve", "comment": 5}, "approval.invalid_decision"),
        ({"decision": "approve", "by": ["ann"]}, "approval.invalid_decision"),
        ({"decision": "edit", "edits": ["draft"]}, "approval.invalid_edit"),
        ({"decision": "approve", "edits": {"draft": "x"}}, "approval.invalid_edit"),
        ({"decision": "edit", "edits": {"review": {}}}, "approval.invalid_edit"),
        ({"decision": "edit", "edits": {"nope": 1}}, "approval.invalid_edit"),
        ({"decision": "edit", "edits": {"score": "high"}}, "approval.invalid_edit"),
        ({"decision": "edit", "edits": {"tags": "one"}}, "approval.invalid_edit"),
        ({"decision": "edit", "edits": {"draft": None}}, "approval.invalid_edit"),
    ],
    ids=[
        "unknown-decision",
        "null-decision",
        "missing-decision",
        "int-answer",
        "null-answer",
        "list-answer",
        "unknown-key",
        "comment-not-string",
        "by-not-string",
        "edits-not-object",
        "edits-without-edit-decision",
        "edit-non-editable-field",
        "edit-undeclared-field",
        "edit-wrong-type",
        "edit-item-instead-of-list",
        "edit-null-into-non-nullable",
    ],
)
def test_invalid_decision(
    spec: ApprovalNodeSpec, state: CompiledState, answer: Any, code: str
) -> None:
    """An unacceptable answer raises ApprovalError with a stable code."""
    with pytest.raises(ApprovalError) as info:
        parse_decision(answer, spec, state)
    assert info.value.code == code


def test_unknown_decision_lists_allowed(spec: ApprovalNodeSpec, state: CompiledState) -> None:
    """The error for an unknown decision lists the allowed decisions."""
    with pytest.raises(ApprovalError) as info:
        parse_decision("publish", spec, state)
    assert info.value.details["allowed"] == ["approve", "reject", "edit"]


def test_decision_schema(spec: ApprovalNodeSpec, state: CompiledState) -> None:
    """The response schema lists decisions and the JSON schema of each editable field."""
    schema = decision_schema(spec, state)
    assert schema["properties"]["decision"] == {"enum": ["approve", "reject", "edit"]}
    edits = schema["properties"]["edits"]
    assert set(edits["properties"]) == {"draft", "score", "tags"}
    assert edits["properties"]["score"] == {"type": "integer"}
    assert edits["additionalProperties"] is False
    assert schema["required"] == ["decision"]


# --- the gate in a running graph ---


async def test_gate_interrupts_and_applies_edit_on_resume() -> None:
    """The gate pauses with a rendered prompt, re-asks on a bad answer, then sets edited fields."""
    compiled = compile_workflow(DOC, registry=Registry())
    graph = compiled.graph(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "gate"}}
    context = RunContext()

    first = await graph.ainvoke(compiled.make_input({"draft": "hello"}), config, context=context)
    (pending,) = first["__interrupt__"]
    assert pending.value["prompt"] == "Publish 'hello' (score 0)?"
    assert pending.value["show"] == {"length": 5}
    assert pending.value["decisions"] == ["approve", "reject", "edit"]

    second = await graph.ainvoke(Command(resume="publish"), config, context=context)
    (again,) = second["__interrupt__"]
    assert again.value["error"]["code"] == "approval.invalid_decision"

    answer = {"decision": "edit", "by": "ann", "edits": {"draft": "bye", "tags": ["x"]}}
    final = await graph.ainvoke(Command(resume=answer), config, context=context)
    assert "__interrupt__" not in final
    assert final["draft"] == "bye"
    assert final["tags"] == ["x"]
    assert final["review"] == {
        "decision": "edit",
        "comment": None,
        "by": "ann",
        "edits": answer["edits"],
    }
