"""compile_state: the state model, reducers and the input/update/value validators."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from graphwright.errors import InvalidInputError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.registry import Registry
from graphwright.state import REDUCERS, CompiledState, compile_state, reducer_accepts

from ..factories import run_workflow

FIELDS: dict[str, Any] = {
    "s": {"type": "string"},
    "i": {"type": "integer"},
    "n": {"type": "number"},
    "b": {"type": "boolean"},
    "o": {"type": "object"},
    "a": {"type": "array"},
    "ai": {"type": "array", "items": {"type": "integer"}},
    "aai": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    "anything": {"type": "any"},
    "es": {"type": "string", "enum": ["low", "high"]},
    "ei": {"type": "integer", "enum": [1, 2]},
    "ns": {"type": "string", "nullable": True},
    "nai": {"type": "array", "items": {"type": "integer", "nullable": True}},
    "d": {"type": "integer", "default": 5},
    "log": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
    "ext": {"type": "array", "items": {"type": "integer"}, "reducer": "extend"},
    "meta": {"type": "object", "reducer": "merge"},
    "total": {"type": "number", "reducer": "add"},
}


def spec_with(fields: dict[str, Any], inputs: list[str] | None = None) -> WorkflowSpec:
    """A one-node workflow spec with the given state fields."""
    return WorkflowSpec.model_validate(
        {
            "dsl": "graphwright/v1",
            "id": "state-test",
            "state": fields,
            "input": list(fields) if inputs is None else inputs,
            "nodes": {"step": {"kind": "function", "ref": "t.noop"}},
            "edges": [{"from": "START", "to": "step"}, {"from": "step", "to": "END"}],
        }
    )


@pytest.fixture(scope="module")
def state() -> CompiledState:
    """The compiled state of FIELDS, every field an input."""
    return compile_state(spec_with(FIELDS))


VALUE_CASES: list[tuple[str, str, Any, bool]] = [
    ("string-ok", "s", "text", True),
    ("string-rejects-int", "s", 5, False),
    ("string-rejects-null", "s", None, False),
    ("integer-ok", "i", 3, True),
    ("integer-rejects-fraction", "i", 1.5, False),
    ("integer-rejects-text", "i", "abc", False),
    ("number-ok-float", "n", 2.5, True),
    ("number-ok-int", "n", 2, True),
    ("boolean-ok", "b", False, True),
    ("boolean-rejects-word", "b", "maybe", False),
    ("object-ok", "o", {"k": [1]}, True),
    ("object-rejects-list", "o", [1], False),
    ("array-any-items", "a", [1, "x", None], True),
    ("array-rejects-object", "a", {"k": 1}, False),
    ("int-array-ok", "ai", [1, 2], True),
    ("int-array-bad-item", "ai", [1, "x"], False),
    ("nested-array-ok", "aai", [[1], []], True),
    ("nested-array-bad-item", "aai", [[1, "x"]], False),
    ("any-takes-null", "anything", None, True),
    ("any-takes-object", "anything", {"k": 1}, True),
    ("enum-ok", "es", "high", True),
    ("enum-rejects-other", "es", "medium", False),
    ("int-enum-ok", "ei", 2, True),
    ("int-enum-rejects-other", "ei", 3, False),
    ("nullable-takes-null", "ns", None, True),
    ("nullable-takes-value", "ns", "x", True),
    ("nullable-items-take-null", "nai", [None, 1], True),
    ("nullable-items-reject-text", "nai", ["x"], False),
]


@pytest.mark.parametrize(
    ("name", "value", "ok"), [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES]
)
def test_validate_value_by_type(state: CompiledState, name: str, value: Any, ok: bool) -> None:
    """validate_value accepts values of the field's type; others raise state.invalid_input."""
    if ok:
        assert state.validate_value(name, value) == value
        return
    with pytest.raises(InvalidInputError) as info:
        state.validate_value(name, value)
    assert info.value.code == "state.invalid_input"
    assert info.value.details["problems"][0]["pointer"].startswith(f"/{name}")


def test_validate_value_points_into_arrays(state: CompiledState) -> None:
    """An invalid array item is reported at /field/index."""
    with pytest.raises(InvalidInputError) as info:
        state.validate_value("aai", [[1], [2, "x"]])
    assert [p["pointer"] for p in info.value.details["problems"]] == ["/aai/1/1"]


def test_model_defaults(state: CompiledState) -> None:
    """Unset fields default to the document's default, else [] / {} / 0 by reducer, else null."""
    values = state.model().model_dump()
    assert values["d"] == 5
    assert values["log"] == []
    assert values["ext"] == []
    assert values["meta"] == {}
    assert values["total"] == 0
    assert values["s"] is None
    assert "gw_input" not in values


def test_model_defaults_are_fresh_copies() -> None:
    """A mutable default is copied per state, so one run cannot change another's default."""
    compiled = compile_state(spec_with({"tags": {"type": "array", "default": ["a"]}}))
    first = compiled.model()
    first.tags.append("b")  # type: ignore[attr-defined]
    assert compiled.model().tags == ["a"]  # type: ignore[attr-defined]


def test_output_fields_default_to_every_field(state: CompiledState) -> None:
    """With no 'output' list every state field is an output field."""
    assert state.output_fields == tuple(FIELDS)


def complete_input() -> dict[str, Any]:
    """Valid input for every field of FIELDS."""
    data = {name: value for _, name, value, ok in VALUE_CASES if ok}
    data.update({"ext": [1], "log": ["x"], "meta": {}, "total": 1.5, "d": 1})
    return data


def test_validate_input_accepts_complete_input(state: CompiledState) -> None:
    """Valid input comes back validated, field by field."""
    assert state.validate_input(complete_input()) == complete_input()


@pytest.mark.parametrize(
    ("data", "pointers"),
    [
        ({"i": "abc"}, ["/i"]),
        ({"ai": [1, "x", 3, "y"]}, ["/ai/1", "/ai/3"]),
        ({"zzz": 1}, ["/zzz"]),
        ({"es": "medium", "b": []}, ["/b", "/es"]),
    ],
    ids=["wrong-type", "wrong-item-types", "unknown-field", "two-fields"],
)
def test_validate_input_errors(
    state: CompiledState, data: dict[str, Any], pointers: list[str]
) -> None:
    """Invalid input raises state.invalid_input with a pointer for every problem."""
    with pytest.raises(InvalidInputError) as info:
        state.validate_input({**complete_input(), **data})
    assert info.value.code == "state.invalid_input"
    assert [p["pointer"] for p in info.value.details["problems"]] == pointers


def test_validate_input_reports_missing_required() -> None:
    """An input field with no default that is not nullable is required; others are optional."""
    compiled = compile_state(
        spec_with(
            {
                "needed": {"type": "string"},
                "optional": {"type": "string", "nullable": True},
                "defaulted": {"type": "integer", "default": 1},
                "internal": {"type": "string"},
            },
            inputs=["needed", "optional", "defaulted"],
        )
    )
    with pytest.raises(InvalidInputError) as info:
        compiled.validate_input({})
    assert info.value.details["problems"] == [
        {"pointer": "/needed", "message": "required input is missing"}
    ]
    assert compiled.validate_input({"needed": "x"}) == {"needed": "x"}


def test_validate_input_rejects_non_input_state_field() -> None:
    """A state field that is not listed in 'input' cannot be given as input."""
    compiled = compile_state(
        spec_with({"a": {"type": "string"}, "b": {"type": "string"}}, inputs=["a"])
    )
    with pytest.raises(InvalidInputError) as info:
        compiled.validate_input({"a": "x", "b": "y"})
    assert [p["pointer"] for p in info.value.details["problems"]] == ["/b"]


@pytest.mark.parametrize("data", [[1], None, "text"], ids=["list", "null", "string"])
def test_validate_input_requires_an_object(state: CompiledState, data: Any) -> None:
    """Input that is not an object raises state.invalid_input at the root pointer."""
    with pytest.raises(InvalidInputError) as info:
        state.validate_input(data)
    assert info.value.code == "state.invalid_input"
    assert info.value.details["problems"][0]["pointer"] == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [("i", True), ("i", "5"), ("n", "1.5"), ("b", "true"), ("b", 1), ("ei", True)],
    ids=[
        "bool-as-integer",
        "text-as-integer",
        "text-as-number",
        "text-as-boolean",
        "int-as-boolean",
        "bool-as-int-enum",
    ],
)
def test_validate_input_rejects_coercible_wrong_types(
    state: CompiledState, name: str, value: Any
) -> None:
    """Run input of the wrong JSON type is rejected even when pydantic could coerce it."""
    with pytest.raises(InvalidInputError):
        state.validate_input({**complete_input(), name: value})


UPDATE_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("append-takes-one-item", {"log": "one"}, True),
    ("append-rejects-list", {"log": ["one"]}, False),
    ("extend-takes-list", {"ext": [1, 2]}, True),
    ("extend-rejects-item", {"ext": 1}, False),
    ("merge-takes-object", {"meta": {"k": 1}}, True),
    ("merge-rejects-list", {"meta": [1]}, False),
    ("add-takes-number", {"total": 2}, True),
    ("add-rejects-text", {"total": "x"}, False),
    ("replace-takes-value", {"s": "v"}, True),
    ("unknown-field", {"nope": 1}, False),
]


@pytest.mark.parametrize(
    ("update", "ok"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_validate_update_by_reducer(state: CompiledState, update: dict[str, Any], ok: bool) -> None:
    """A node's update must fit the field's reducer (one item for append, a list for extend...)."""
    if ok:
        assert state.validate_update("writer", update) == update
        return
    with pytest.raises(InvalidInputError) as info:
        state.validate_update("writer", update)
    assert info.value.code == "state.invalid_update"
    assert info.value.details["node"] == "writer"
    assert "'writer'" in info.value.message
    assert info.value.details["problems"][0]["pointer"] == "/" + next(iter(update))


@pytest.mark.parametrize("update", [[1], "text", 5], ids=["list", "string", "int"])
def test_validate_update_names_node_for_non_mapping(state: CompiledState, update: Any) -> None:
    """A non-object update raises state.invalid_update naming the node."""
    with pytest.raises(InvalidInputError) as info:
        state.validate_update("classify", update)
    assert info.value.code == "state.invalid_update"
    assert info.value.details == {"node": "classify"}


def test_validate_update_none_is_empty(state: CompiledState) -> None:
    """A node returning None updates nothing."""
    assert state.validate_update("n", None) == {}


@pytest.mark.parametrize(
    ("reducer", "current", "update", "expected"),
    [
        ("append", [1], 2, [1, 2]),
        ("append", None, 2, [2]),
        ("extend", [1], [2, 3], [1, 2, 3]),
        ("extend", None, None, []),
        ("merge", {"a": 1, "b": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ("merge", None, {"a": 1}, {"a": 1}),
        ("add", 1, 2, 3),
        ("add", 1.5, None, 1.5),
    ],
    ids=[
        "append",
        "append-to-null",
        "extend",
        "extend-nulls",
        "merge",
        "merge-into-null",
        "add",
        "add-null",
    ],
)
def test_reducer_functions(reducer: str, current: Any, update: Any, expected: Any) -> None:
    """Each reducer combines the current value and an update as documented."""
    function = REDUCERS[reducer]
    assert function is not None
    assert function(current, update) == expected


@pytest.mark.parametrize(
    ("reducer", "field_type", "ok"),
    [
        ("replace", "any", True),
        ("append", "array", True),
        ("append", "string", False),
        ("extend", "object", False),
        ("merge", "object", True),
        ("merge", "array", False),
        ("add", "integer", True),
        ("add", "number", True),
        ("add", "boolean", False),
        ("unknown", "string", False),
    ],
    ids=[
        "replace-any",
        "append-array",
        "append-string",
        "extend-object",
        "merge-object",
        "merge-array",
        "add-integer",
        "add-number",
        "add-boolean",
        "unknown-reducer",
    ],
)
def test_reducer_accepts(reducer: str, field_type: str, ok: bool) -> None:
    """reducer_accepts tells which field types a reducer can combine."""
    assert reducer_accepts(reducer, field_type) is ok


# --- reducers in a running graph ---

PARALLEL: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "parallel",
    "state": {
        "log": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "items": {"type": "array", "items": {"type": "string"}, "reducer": "extend"},
        "meta": {"type": "object", "reducer": "merge"},
        "total": {"type": "integer", "reducer": "add"},
        "seen": {"type": "string"},
    },
    "nodes": {
        "a": {"kind": "function", "ref": "t.a"},
        "b": {"kind": "function", "ref": "t.b"},
        "after": {"kind": "function", "ref": "t.after"},
    },
    "edges": [
        {"from": "START", "to": ["a", "b"]},
        {"from": ["a", "b"], "to": "after"},
        {"from": "after", "to": "END"},
    ],
}


def parallel_registry() -> Registry:
    """Branch a finishes after branch b, so completion order differs from task order."""
    registry = Registry()
    b_done = asyncio.Event()

    @registry.function("t.a")
    async def a() -> dict[str, Any]:
        await b_done.wait()
        return {"log": "a", "items": ["a1", "a2"], "meta": {"k": "a", "a": 1}, "total": 1}

    @registry.function("t.b")
    async def b() -> dict[str, Any]:
        b_done.set()
        return {"log": "b", "items": ["b1"], "meta": {"k": "b", "b": 2}, "total": 2}

    @registry.function("t.after")
    def after(state: Any) -> dict[str, Any]:
        return {"seen": f"{state.log}|{state.total}"}

    return registry


async def test_parallel_branches_merge_through_reducers() -> None:
    """Two branches writing reducer fields in one step merge deterministically, in task order."""
    result = await run_workflow(PARALLEL, parallel_registry())
    assert result["log"] == ["a", "b"]
    assert result["items"] == ["a1", "a2", "b1"]
    assert result["meta"] == {"k": "b", "a": 1, "b": 2}
    assert result["total"] == 3
    assert result["seen"] == "['a', 'b']|3"


async def test_parallel_merge_is_repeatable() -> None:
    """Running the same parallel graph again gives the identical merged state."""
    first = await run_workflow(PARALLEL, parallel_registry())
    second = await run_workflow(PARALLEL, parallel_registry())
    assert first == second


async def test_input_overwrites_reducer_fields() -> None:
    """Run input sets a reducer field (not appended to its default); nodes then reduce onto it."""
    doc: dict[str, Any] = {
        "dsl": "graphwright/v1",
        "id": "overwrite",
        "state": {
            "log": {
                "type": "array",
                "items": {"type": "string"},
                "reducer": "append",
                "default": ["d"],
            },
            "total": {"type": "integer", "reducer": "add", "default": 10},
        },
        "input": ["log"],
        "nodes": {"step": {"kind": "function", "ref": "t.step"}},
        "edges": [{"from": "START", "to": "step"}, {"from": "step", "to": "END"}],
    }
    registry = Registry()

    @registry.function("t.step")
    def step() -> dict[str, Any]:
        return {"log": "node", "total": 1}

    result = await run_workflow(doc, registry, {"log": ["given"]})
    assert result["log"] == ["given", "node"]
    assert result["total"] == 11
