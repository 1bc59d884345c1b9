"""Fuzzing check_workflow: arbitrary JSON and mutated documents never make it raise."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphwright.errors import Problem, WorkflowValidationError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import check_workflow, validate_workflow

from ..factories import demo_registry, resolver, valid_document, workflow

CODE = re.compile(r"^[a-z_]+\.[a-z_]+$")
# database=None: the example database would be written outside tests/unit.
_FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(max_examples: int) -> settings:
    """Fuzz settings: no deadline, no example database, ``max_examples`` runs."""
    return settings(_FUZZ, max_examples=max_examples)


REGISTRY = demo_registry()
RESOLVE = resolver({"demo": valid_document(), "child": workflow("child")})

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)

NAMES = [
    "START", "END", "write", "score", "approve", "topic", "draft", "items", "results",
    "review", "demo.write", "demo.double", "demo.noop", "child", "demo", "edit", "", "a__b",
]  # fmt: skip
CEL_TOKENS = [
    "state", "input", "item", "index", ".", "topic", "draft", "items", "review", "decision",
    "==", "!=", "&&", "||", "!", "(", ")", "[", "]", "{", "}", ":", ",", "?", "'x'", '"',
    "1", "0", "-", "/", "%", "+", "true", "null", "size(", ".all(x,", "x", "${", "}", " ",
    "has(", ".map(", "in", "[0]", "\\", "\x00",
]  # fmt: skip
NODE_SPECS: list[Any] = [
    {"kind": "function", "ref": "demo.noop"},
    {"kind": "function", "ref": "demo.write"},
    {"kind": "subworkflow", "workflow": "demo"},
    {
        "kind": "subworkflow",
        "workflow": "child",
        "inputs": {"x": "state.topic"},
        "outputs": {"draft": "x"},
    },
    {"kind": "subworkflow", "workflow": "nowhere", "version": 2},
    {"kind": "approval", "prompt": "ok?", "writes": "review"},
    {
        "kind": "map",
        "over": "state.items",
        "node": {"kind": "subworkflow", "workflow": "child", "writes": "results"},
    },
    {"kind": "map", "over": "state.items", "node": {"kind": "function", "ref": "demo.double"}},
    {"kind": "crew"},
]
FIELD_SPECS: list[Any] = [
    {"type": "integer", "reducer": "add", "default": 1},
    {"type": "number", "enum": [1, 2.5], "default": 3},
    {"type": "array", "items": {"type": "array", "items": {"type": "object"}}},
    {"type": "object", "reducer": "merge", "nullable": True},
    {"type": "string", "items": {"type": "string"}},
]

cel_text = st.lists(st.sampled_from(CEL_TOKENS), max_size=12).map("".join) | st.text(max_size=30)
interesting = st.one_of(
    json_values,
    st.sampled_from(NAMES),
    cel_text,
    st.sampled_from(NODE_SPECS),
    st.sampled_from(FIELD_SPECS),
    st.lists(st.sampled_from(NAMES), max_size=3),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location inside ``value`` (dict keys and list indexes)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((*prefix, key))
            out.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.append((*prefix, index))
            out.extend(paths(child, (*prefix, index)))
    return out


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with a few keys dropped, renamed, replaced or added."""
    doc = valid_document()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        locations = paths(doc)
        if not locations:
            break
        *parent_path, key = draw(st.sampled_from(locations))
        parent: Any = doc
        for part in parent_path:
            parent = parent[part]
        action = draw(st.sampled_from(["drop", "replace", "rename", "add"]))
        if action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = copy.deepcopy(draw(interesting))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(NAMES) | st.text(max_size=8))] = parent.pop(key)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(NAMES) | st.text(max_size=8))] = copy.deepcopy(
                draw(interesting)
            )
        elif action == "add" and isinstance(parent, list):
            parent.append(copy.deepcopy(draw(interesting)))
    return doc


def assert_well_formed(result: tuple[WorkflowSpec | None, list[Problem]]) -> None:
    """check_workflow's result: spec xor problems, each problem coded and pointed."""
    spec, problems = result
    assert (spec is None) == bool(problems)
    for problem in problems:
        assert CODE.fullmatch(problem.code), problem
        assert problem.pointer == "" or problem.pointer.startswith("/"), problem
        assert isinstance(problem.message, str)
        assert problem.message


def assert_validate_raises_only_validation_errors(data: Any) -> None:
    """validate_workflow returns a spec or raises WorkflowValidationError, nothing else."""
    error: WorkflowValidationError | None = None
    spec: WorkflowSpec | None = None
    try:
        spec = validate_workflow(data, registry=REGISTRY, resolve=RESOLVE)
    except WorkflowValidationError as exc:
        error = exc
    if error is None:
        assert isinstance(spec, WorkflowSpec)
    else:
        assert error.problems
        assert error.code == "workflow.invalid"


@fuzz(300)
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    """Any JSON value, as data, text or bytes, yields problems rather than an exception."""
    text = json.dumps(value)
    for data in (value, text, text.encode()):
        assert_well_formed(check_workflow(data, registry=REGISTRY, resolve=RESOLVE))
    assert_validate_raises_only_validation_errors(value)


@fuzz(300)
@given(st.dictionaries(st.sampled_from(list(valid_document())), json_values, max_size=8))
def test_arbitrary_top_level_keys_never_raise(value: dict[str, Any]) -> None:
    """An object with the document's keys but random values yields problems, not exceptions."""
    assert_well_formed(check_workflow(value, registry=REGISTRY, resolve=RESOLVE))


@fuzz(600)
@given(mutated_documents())
def test_mutated_document_never_raises(doc: dict[str, Any]) -> None:
    """A mutated valid document yields a spec or coded, pointed problems; never an exception."""
    original = copy.deepcopy(doc)
    assert_well_formed(check_workflow(doc, registry=REGISTRY, resolve=RESOLVE))
    assert_well_formed(check_workflow(doc))
    assert_validate_raises_only_validation_errors(doc)
    assert doc == original, "check_workflow must not modify its input"


CEL_POSITIONS = [
    "/edges/3/cases/0/when",
    "/nodes/score/over",
    "/nodes/write/inputs/topic",
    "/nodes/approve/prompt",
    "/nodes/approve/show/extra",
]


@fuzz(300)
@given(cel_text, st.sampled_from(CEL_POSITIONS))
def test_random_cel_never_raises(source: str, where: str) -> None:
    """Random text in any CEL position yields a spec or expression problems at that place."""
    doc = valid_document()
    *parent_path, key = where.lstrip("/").split("/")
    parent: Any = doc
    for part in parent_path:
        parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
    parent[key] = source
    spec, problems = check_workflow(doc, registry=REGISTRY, resolve=RESOLVE)
    assert_well_formed((spec, problems))
    for problem in problems:
        if problem.code.startswith("expr."):
            assert problem.pointer == where
