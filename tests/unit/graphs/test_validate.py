"""check_workflow / validate_workflow: every problem with a stable code and a JSON pointer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphwright.errors import Problem, WorkflowValidationError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import check_workflow, suggest, validate_workflow

from ..factories import DROP, apply, demo_registry, resolver, valid_document, workflow

Expected = tuple[str, str, str | None]


def found(problems: list[Problem]) -> list[Expected]:
    """The (code, pointer, suggestion) triples of ``problems``."""
    return [(p.code, p.pointer, p.suggestion) for p in problems]


def check(doc: Any, **kwargs: Any) -> list[Expected]:
    """Problems of ``doc`` against the demo registry."""
    spec, problems = check_workflow(doc, registry=demo_registry(), **kwargs)
    assert (spec is None) == bool(problems)
    return found(problems)


def test_valid_document_has_no_problems() -> None:
    """A valid document yields its spec and no problems."""
    spec, problems = check_workflow(valid_document(), registry=demo_registry())
    assert problems == []
    assert isinstance(spec, WorkflowSpec)
    assert list(spec.nodes) == ["write", "score", "approve"]


@pytest.mark.parametrize(
    "data",
    [
        valid_document(),
        json.dumps(valid_document()),
        json.dumps(valid_document()).encode(),
        WorkflowSpec.model_validate(valid_document()),
    ],
    ids=["mapping", "json-text", "json-bytes", "spec"],
)
def test_validate_workflow_accepts_every_document_form(data: Any) -> None:
    """validate_workflow takes a mapping, JSON text, UTF-8 bytes or a spec and returns the spec."""
    spec = validate_workflow(data, registry=demo_registry())
    assert spec.id == "demo"


CASES: list[tuple[str, list[tuple[str, Any]], list[Expected]]] = [
    # --- structure (pydantic) ---
    (
        "unknown-node-kind",
        [("/nodes/write/kind", "functon")],
        [("node.unknown_kind", "/nodes/write/kind", "function")],
    ),
    (
        "unknown-node-kind-not-a-string",
        [("/nodes/write/kind", 5)],
        [("node.unknown_kind", "/nodes/write/kind", None)],
    ),
    (
        "missing-node-kind",
        [("/nodes/write/kind", DROP)],
        [("node.missing_kind", "/nodes/write", None)],
    ),
    ("missing-id", [("/id", DROP)], [("dsl.missing", "/id", None)]),
    ("missing-edges", [("/edges", DROP)], [("dsl.missing", "/edges", None)]),
    ("missing-node-ref", [("/nodes/write/ref", DROP)], [("dsl.missing", "/nodes/write/ref", None)]),
    (
        "missing-approval-writes",
        [("/nodes/approve/writes", DROP)],
        [("dsl.missing", "/nodes/approve/writes", None)],
    ),
    (
        "missing-map-inner-ref",
        [("/nodes/score/node/ref", DROP)],
        [("dsl.missing", "/nodes/score/node/ref", None)],
    ),
    ("unknown-top-level-key", [("/titel", "x")], [("dsl.unknown_key", "/titel", "title")]),
    (
        "unknown-retry-key",
        [("/nodes/write/retry", {"max_atempts": 3})],
        [("dsl.unknown_key", "/nodes/write/retry/max_atempts", "max_attempts")],
    ),
    (
        "unknown-field-key",
        [("/state/topic/reduce", "add")],
        [("dsl.unknown_key", "/state/topic/reduce", "reducer")],
    ),
    ("bad-dsl-version", [("/dsl", "graphwright/v2")], [("dsl.unsupported_version", "/dsl", None)]),
    ("bad-workflow-id", [("/id", "Bad Id")], [("dsl.invalid_name", "/id", None)]),
    (
        "bad-registry-name-syntax",
        [("/nodes/write/ref", "Demo.Write")],
        [("dsl.invalid_name", "/nodes/write/ref", None)],
    ),
    (
        "bad-field-type",
        [("/state/topic/type", "strng")],
        [("dsl.invalid_value", "/state/topic/type", None)],
    ),
    (
        "non-positive-timeout",
        [("/nodes/write/timeout", -1)],
        [("dsl.invalid_value", "/nodes/write/timeout", None)],
    ),
    (
        "zero-max-steps",
        [("/limits", {"max_steps": 0})],
        [("dsl.invalid_value", "/limits/max_steps", None)],
    ),
    (
        "edge-default-without-cases",
        [("/edges/-", {"from": "write", "to": "END", "default": "END"})],
        [("edge.invalid", "/edges/4", None)],
    ),
    ("edge-empty-join", [("/edges/1/from", [])], [("edge.invalid", "/edges/1", None)]),
    # --- graph ---
    (
        "edge-to-unknown-node",
        [("/edges/-", {"from": "approve", "to": "aprove"})],
        [("edge.unknown_node", "/edges/4/to", "approve")],
    ),
    (
        "edge-from-unknown-node",
        [("/edges/-", {"from": "writ", "to": "END"})],
        [("edge.unknown_node", "/edges/4/from", "write")],
    ),
    (
        "edge-to-start",
        [("/edges/-", {"from": "approve", "to": "START"})],
        [("edge.to_start", "/edges/4/to", None)],
    ),
    (
        "edge-from-end",
        [("/edges/-", {"from": "END", "to": "write"})],
        [("edge.from_end", "/edges/4/from", None)],
    ),
    (
        "join-with-cases",
        [
            (
                "/edges/-",
                {
                    "from": ["write", "score"],
                    "cases": [{"when": "true", "to": "END"}],
                    "default": "END",
                },
            )
        ],
        [("edge.invalid", "/edges/4", None)],
    ),
    (
        "join-with-two-targets",
        [("/edges/-", {"from": ["write", "score"], "to": ["END", "approve"]})],
        [("edge.invalid", "/edges/4/to", None)],
    ),
    (
        "start-in-join",
        [("/edges/-", {"from": ["START", "write"], "to": "END"})],
        [("edge.invalid", "/edges/4/from/0", None)],
    ),
    (
        "no-edge-from-start",
        [("/edges/0", {"from": "approve", "to": "write"})],
        [("graph.no_start", "/edges", None)],
    ),
    (
        "unreachable-node",
        [
            ("/nodes/orphan", {"kind": "function", "ref": "demo.noop"}),
            ("/edges/-", {"from": "orphan", "to": "END"}),
        ],
        [("graph.unreachable_node", "/nodes/orphan", None)],
    ),
    (
        "node-without-path-to-end",
        [
            ("/nodes/sink", {"kind": "function", "ref": "demo.noop"}),
            ("/edges/-", {"from": "write", "to": "sink"}),
        ],
        [("graph.no_path_to_end", "/nodes/sink", None)],
    ),
    (
        "reserved-node-name",
        [
            ("/nodes/a__b", {"kind": "function", "ref": "demo.noop"}),
            ("/edges/-", {"from": "write", "to": "a__b"}),
            ("/edges/-", {"from": "a__b", "to": "END"}),
        ],
        [("node.reserved_name", "/nodes/a__b", None)],
    ),
    # --- expressions ---
    (
        "cel-syntax-error",
        [("/edges/3/cases/0/when", "state.review.decision ==")],
        [("expr.syntax", "/edges/3/cases/0/when", None)],
    ),
    (
        "cel-empty-expression",
        [("/nodes/write/inputs/topic", " ")],
        [("expr.syntax", "/nodes/write/inputs/topic", None)],
    ),
    (
        "cel-unknown-variable",
        [("/edges/3/cases/0/when", "review.decision == 'approve'")],
        [("expr.unknown_variable", "/edges/3/cases/0/when", None)],
    ),
    (
        "item-outside-map",
        [("/nodes/write/inputs/topic", "item")],
        [("expr.unknown_variable", "/nodes/write/inputs/topic", None)],
    ),
    (
        "condition-reads-undeclared-state",
        [("/edges/3/cases/0/when", "state.reveiw.decision == 'approve'")],
        [("state.unknown_field", "/edges/3/cases/0/when", "review")],
    ),
    (
        "condition-reads-undeclared-input",
        [("/edges/3/cases/0/when", "input.topik == ''")],
        [("io.unknown_field", "/edges/3/cases/0/when", "topic")],
    ),
    (
        "template-reads-undeclared-state",
        [("/nodes/approve/prompt", "Publish ${state.drat}?")],
        [("state.unknown_field", "/nodes/approve/prompt", "draft")],
    ),
    (
        "template-unclosed-hole",
        [("/nodes/approve/prompt", "Publish ${state.draft")],
        [("expr.syntax", "/nodes/approve/prompt", None)],
    ),
    (
        "inputs-read-undeclared-state",
        [("/nodes/write/inputs/topic", "state.topc")],
        [("state.unknown_field", "/nodes/write/inputs/topic", "topic")],
    ),
    (
        "map-over-undeclared-state",
        [("/nodes/score/over", "state.itms")],
        [("state.unknown_field", "/nodes/score/over", "items")],
    ),
    (
        "show-reads-undeclared-state",
        [("/nodes/approve/show", {"d": "state.drafts"})],
        [("state.unknown_field", "/nodes/approve/show/d", "draft")],
    ),
    # --- state and io ---
    (
        "writes-undeclared-field",
        [("/nodes/write/writes", "drafts")],
        [("state.unknown_field", "/nodes/write/writes", "draft")],
    ),
    (
        "input-field-not-in-state",
        [("/input/-", "topik")],
        [("io.unknown_field", "/input/2", "topic")],
    ),
    (
        "output-field-not-in-state",
        [("/output/1", "reslts")],
        [("io.unknown_field", "/output/1", "results")],
    ),
    ("duplicate-input-field", [("/input/-", "topic")], [("io.duplicate_field", "/input", None)]),
    (
        "reducer-add-on-string",
        [("/state/topic/reducer", "add")],
        [("state.reducer_type_mismatch", "/state/topic/reducer", None)],
    ),
    (
        "reducer-merge-on-array",
        [("/state/items/reducer", "merge")],
        [("state.reducer_type_mismatch", "/state/items/reducer", None)],
    ),
    (
        "reducer-append-on-object",
        [("/state/extra", {"type": "object", "reducer": "append"})],
        [("state.reducer_type_mismatch", "/state/extra/reducer", None)],
    ),
    (
        "default-of-wrong-type",
        [("/state/topic/default", 5)],
        [("state.invalid_default", "/state/topic/default", None)],
    ),
    (
        "default-outside-enum",
        [("/state/mode", {"type": "string", "enum": ["a", "b"], "default": "c"})],
        [("state.invalid_default", "/state/mode/default", None)],
    ),
    (
        "default-with-wrong-item-type",
        [("/state/items/default", [1, "two"])],
        [("state.invalid_default", "/state/items/default", None)],
    ),
    (
        "items-on-non-array",
        [("/state/topic/items", {"type": "string"})],
        [("state.items_not_array", "/state/topic/items", None)],
    ),
    (
        "reserved-field-pydantic",
        [("/state/copy", {"type": "string"})],
        [("state.reserved_name", "/state/copy", None)],
    ),
    (
        "reserved-field-gw-prefix",
        [("/state/gw_x", {"type": "string"})],
        [("state.reserved_name", "/state/gw_x", None)],
    ),
    (
        "reserved-field-model-prefix",
        [("/state/model_x", {"type": "string"})],
        [("state.reserved_name", "/state/model_x", None)],
    ),
    # --- approval ---
    (
        "approval-writes-string-field",
        [("/nodes/approve/writes", "draft")],
        [("approval.writes_type", "/nodes/approve/writes", None)],
    ),
    (
        "approval-writes-array-field",
        [("/nodes/approve/writes", "results")],
        [("approval.writes_type", "/nodes/approve/writes", None)],
    ),
    (
        "editable-without-edit-decision",
        [("/nodes/approve/decisions", ["approve", "reject"])],
        [("approval.editable_without_edit", "/nodes/approve/editable", None)],
    ),
    (
        "duplicate-decision",
        [("/nodes/approve/decisions", ["approve", "approve", "edit"])],
        [("approval.duplicate_decision", "/nodes/approve/decisions", None)],
    ),
    (
        "editable-undeclared-field",
        [("/nodes/approve/editable", ["drat"])],
        [("state.unknown_field", "/nodes/approve/editable/0", "draft")],
    ),
    # --- map ---
    (
        "map-writes-string-field",
        [("/nodes/score/node/writes", "draft")],
        [("map.writes_reducer", "/nodes/score/node/writes", None)],
    ),
    (
        "map-writes-array-without-append",
        [("/nodes/score/node/writes", "items")],
        [("map.writes_reducer", "/nodes/score/node/writes", None)],
    ),
    (
        "map-subworkflow-without-output",
        [("/nodes/score/node", {"kind": "subworkflow", "workflow": "child"})],
        [("map.no_output", "/nodes/score/node", None)],
    ),
    # --- registry ---
    (
        "unknown-registry-name",
        [("/nodes/write/ref", "demo.writ")],
        [("registry.unknown_name", "/nodes/write/ref", "demo.write")],
    ),
    (
        "unknown-registry-name-in-map",
        [("/nodes/score/node/ref", "demo.dubble")],
        [("registry.unknown_name", "/nodes/score/node/ref", "demo.double")],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_code_and_pointer(changes: list[tuple[str, Any]], expected: list[Expected]) -> None:
    """Each defect yields exactly its problem: stable code, JSON pointer and suggestion."""
    assert check(apply(valid_document(), *changes)) == expected


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("{not json", "dsl.invalid_json"),
        ("", "dsl.invalid_json"),
        (b"\xff\xfe", "dsl.invalid_json"),
        ("[" * 100_000, "dsl.invalid_json"),
        ("x" * 2_000_001, "dsl.too_large"),
        ("[1, 2]", "dsl.wrong_type"),
        (None, "dsl.wrong_type"),
        (42, "dsl.wrong_type"),
    ],
    ids=[
        "bad-json",
        "empty-text",
        "not-utf8",
        "nested-too-deep",
        "too-large",
        "json-array",
        "none",
        "int",
    ],
)
def test_unusable_document_text(data: Any, code: str) -> None:
    """Text that is not a JSON object yields one problem at the document root."""
    assert check(data) == [(code, "", None)]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            [("/nodes/write/kind", "functon"), ("/titel", "x"), ("/id", "Bad Id")],
            [
                ("node.unknown_kind", "/nodes/write/kind", "function"),
                ("dsl.invalid_name", "/id", None),
                ("dsl.unknown_key", "/titel", "title"),
            ],
        ),
        (
            [
                ("/nodes/write/ref", "demo.writ"),
                ("/state/topic/reducer", "add"),
                ("/nodes/orphan", {"kind": "function", "ref": "demo.noop"}),
                ("/edges/-", {"from": "orphan", "to": "END"}),
            ],
            [
                ("state.reducer_type_mismatch", "/state/topic/reducer", None),
                ("registry.unknown_name", "/nodes/write/ref", "demo.write"),
                ("graph.unreachable_node", "/nodes/orphan", None),
            ],
        ),
        (
            [
                ("/nodes/score/kind", "mapp"),
                ("/nodes/write/inputs/topic", "state.topic +"),
                ("/edges/2/to", "aprove"),
            ],
            [
                ("node.unknown_kind", "/nodes/score/kind", "map"),
                ("expr.syntax", "/nodes/write/inputs/topic", None),
                ("edge.unknown_node", "/edges/2/to", "approve"),
                ("graph.no_path_to_end", "/nodes/write", None),
                ("graph.unreachable_node", "/nodes/approve", None),
            ],
        ),
    ],
    ids=["structural", "semantic", "node-shape-and-semantic"],
)
def test_all_problems_reported_at_once(
    changes: list[tuple[str, Any]], expected: list[Expected]
) -> None:
    """A document with three distinct errors yields all three problems in one pass."""
    assert sorted(check(apply(valid_document(), *changes))) == sorted(expected)


def test_validate_workflow_raises_with_every_problem() -> None:
    """validate_workflow raises WorkflowValidationError carrying every problem and the id."""
    doc = apply(
        valid_document(), ("/nodes/write/ref", "demo.writ"), ("/state/topic/reducer", "add")
    )
    with pytest.raises(WorkflowValidationError) as info:
        validate_workflow(doc, registry=demo_registry())
    error = info.value
    assert error.code == "workflow.invalid"
    assert {p.code for p in error.problems} == {
        "registry.unknown_name",
        "state.reducer_type_mismatch",
    }
    assert error.details["workflow_id"] == "demo"
    assert [p["code"] for p in error.details["problems"]] == [p.code for p in error.problems]


def test_registry_none_skips_registry_checks() -> None:
    """Without a registry, unknown function names are not a problem."""
    doc = apply(valid_document(), ("/nodes/write/ref", "nobody.knows"))
    assert check_workflow(doc)[1] == []


def test_problem_render_includes_pointer_code_and_hint() -> None:
    """Problem.render shows source, pointer, code, message and the 'did you mean' hint."""
    problem = Problem("dsl.unknown_key", "/titel", "unknown key 'titel'", "title")
    assert problem.render("wf.json") == (
        "wf.json:/titel: [dsl.unknown_key] unknown key 'titel' (did you mean 'title'?)"
    )
    assert Problem("dsl.wrong_type", "", "no").render() == "/: [dsl.wrong_type] no"


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [("titel", ["title", "id"], "title"), ("zzz", ["title", "id"], None), ("x", [], None)],
    ids=["close", "far", "no-candidates"],
)
def test_suggest(name: str, candidates: list[str], expected: str | None) -> None:
    """suggest returns the closest candidate, or None when nothing is close."""
    assert suggest(name, candidates) == expected


# --- subworkflows (resolve backed by a dict of specs) ---

SUBWORKFLOW_CASES: list[tuple[str, dict[str, Any], dict[str, dict[str, Any]], list[Expected]]] = [
    (
        "unknown-workflow",
        workflow("parent", "missing"),
        {},
        [("subworkflow.unknown", "/nodes/step/workflow", None)],
    ),
    (
        "unknown-pinned-version",
        workflow("parent", "missing", version=3),
        {},
        [("subworkflow.unknown", "/nodes/step/workflow", None)],
    ),
    (
        "unknown-child-input",
        workflow("parent", "child", inputs={"xx": "state.x"}),
        {"child": workflow("child")},
        [("subworkflow.unknown_input", "/nodes/step/inputs/xx", "x")],
    ),
    (
        "unknown-child-output",
        workflow("parent", "child", outputs={"x": "xz"}),
        {"child": workflow("child")},
        [("subworkflow.unknown_output", "/nodes/step/outputs/x", "x")],
    ),
    (
        "output-to-undeclared-parent-field",
        workflow("parent", "child", outputs={"xy": "x"}),
        {"child": workflow("child")},
        [("state.unknown_field", "/nodes/step/outputs/xy", "x")],
    ),
    (
        "self-cycle",
        workflow("parent", "parent"),
        {"parent": workflow("parent", "parent")},
        [("subworkflow.cycle", "/nodes/step/workflow", None)],
    ),
    (
        "two-step-cycle",
        workflow("parent", "child"),
        {"child": workflow("child", "parent"), "parent": workflow("parent", "child")},
        [("subworkflow.cycle", "/nodes/step", None)],
    ),
    (
        "cycle-below-root",
        workflow("parent", "child"),
        {"child": workflow("child", "grand"), "grand": workflow("grand", "child")},
        [("subworkflow.cycle", "/nodes/step", None)],
    ),
    (
        "acyclic-chain",
        workflow("parent", "child", inputs={"x": "state.x"}, outputs={"x": "x"}),
        {"child": workflow("child", "grand"), "grand": workflow("grand")},
        [],
    ),
]


@pytest.mark.parametrize(
    ("doc", "published", "expected"),
    [c[1:] for c in SUBWORKFLOW_CASES],
    ids=[c[0] for c in SUBWORKFLOW_CASES],
)
def test_subworkflow_problems(
    doc: dict[str, Any], published: dict[str, dict[str, Any]], expected: list[Expected]
) -> None:
    """Subworkflow references are checked against published workflows, including cycles."""
    assert check(doc, resolve=resolver(published)) == expected


def test_subworkflow_not_checked_without_resolver() -> None:
    """Without a resolver an unknown subworkflow is not a problem."""
    assert check(workflow("parent", "missing")) == []


def test_unknown_kind_pointer_escaped_once() -> None:
    """A node name with '/' gets one node.unknown_kind problem at its escaped pointer."""
    doc = valid_document()
    doc["nodes"]["a/b"] = {"kind": "functon", "ref": "demo.noop"}
    problems = [p for p in check(doc) if p[0] == "node.unknown_kind"]
    assert problems == [("node.unknown_kind", "/nodes/a~1b/kind", "function")]


def test_a_broken_node_hides_nothing_else_and_nothing_of_its_own() -> None:
    """Problems elsewhere are reported next to a node's shape problem; none at its stand-in."""
    doc = apply(
        valid_document(),
        ("/nodes/write/kind", "functon"),
        ("/nodes/write/ref", "demo.missing"),
        ("/edges/-", {"from": "write", "to": "nowhere"}),
    )
    problems = check(doc)
    assert ("node.unknown_kind", "/nodes/write/kind", "function") in problems
    assert ("edge.unknown_node", "/edges/4/to", None) in problems
    assert not [
        p for p in problems if p[1].startswith("/nodes/write") and p[0] != "node.unknown_kind"
    ]


def test_shape_problems_outside_nodes_stop_before_semantic_checks() -> None:
    """A malformed top level (here a wrong 'edges' type) reports only the shape problems."""
    doc = apply(valid_document(), ("/nodes/write/kind", "functon"), ("/edges", "none"))
    assert [p[0] for p in check(doc)] == ["node.unknown_kind", "dsl.invalid_value"]
