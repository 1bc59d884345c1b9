"""compile_workflow: compiled graphs run on InMemorySaver with the documented behaviour."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.types import Overwrite

from graphwright.errors import (
    InvalidInputError,
    NodeExecutionError,
    WorkflowValidationError,
)
from graphwright.expressions import ExpressionError
from graphwright.graphs.compiler import compile_workflow
from graphwright.registry import Registry

from ..factories import resolver, run_workflow


def document(
    state: dict[str, Any],
    nodes: dict[str, Any],
    edges: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A workflow document with the given state, nodes and edges."""
    return {
        "dsl": "graphwright/v1",
        "id": "compiled",
        "state": state,
        "nodes": nodes,
        "edges": edges,
        **extra,
    }


def chain(*names: str) -> list[dict[str, Any]]:
    """Edges START -> names[0] -> ... -> END."""
    steps = ["START", *names, "END"]
    return [{"from": a, "to": b} for a, b in itertools.pairwise(steps)]


LOG = {"type": "array", "items": {"type": "string"}, "reducer": "append"}


def logging_registry(*names: str) -> Registry:
    """Functions ``t.<name>`` that append their name to ``log``."""
    registry = Registry()
    for name in names:
        registry.add_function(f"t.{name}", lambda name=name: {"log": name})
    return registry


# --- routing ---

ROUTED = document(
    {"size": {"type": "integer"}, "log": LOG},
    {
        "classify": {"kind": "function", "ref": "t.classify"},
        "small": {"kind": "function", "ref": "t.small"},
        "large": {"kind": "function", "ref": "t.large"},
        "other": {"kind": "function", "ref": "t.other"},
    },
    [
        {"from": "START", "to": "classify"},
        {
            "from": "classify",
            "cases": [
                {"when": "input.size < 10", "to": "small"},
                {"when": "state.size >= 100", "to": "large"},
            ],
            "default": "other",
        },
        {"from": "small", "to": "END"},
        {"from": "large", "to": "END"},
        {"from": "other", "to": "END"},
    ],
    input=["size"],
)


@pytest.mark.parametrize(
    ("size", "log"),
    [
        (1, ["classify", "small"]),
        (500, ["classify", "large"]),
        (50, ["classify", "other"]),
    ],
    ids=["first-case", "second-case", "default"],
)
async def test_conditional_edge_routes_by_cel(size: int, log: list[str]) -> None:
    """A conditional edge takes the first case whose CEL condition holds, else the default."""
    registry = logging_registry("classify", "small", "large", "other")
    result = await run_workflow(ROUTED, registry, {"size": size})
    assert result["log"] == log


async def test_conditional_edge_to_end() -> None:
    """A case may lead straight to END."""
    doc = document(
        {"stop": {"type": "boolean"}, "log": LOG},
        {"a": {"kind": "function", "ref": "t.a"}, "b": {"kind": "function", "ref": "t.b"}},
        [
            {"from": "START", "to": "a"},
            {"from": "a", "cases": [{"when": "state.stop", "to": "END"}], "default": "b"},
            {"from": "b", "to": "END"},
        ],
        input=["stop"],
    )
    result = await run_workflow(doc, logging_registry("a", "b"), {"stop": True})
    assert result["log"] == ["a"]


async def test_condition_evaluation_error_is_coded() -> None:
    """A condition that fails to evaluate stops the run with expr.evaluation."""
    doc = document(
        {"obj": {"type": "object", "default": {}}, "log": LOG},
        {"a": {"kind": "function", "ref": "t.a"}},
        [
            {"from": "START", "to": "a"},
            {"from": "a", "cases": [{"when": "state.obj.key == 1", "to": "a"}], "default": "END"},
        ],
    )
    with pytest.raises(ExpressionError) as info:
        await run_workflow(doc, logging_registry("a"))
    assert info.value.code == "expr.evaluation"


# --- joins ---


async def test_join_waits_for_both_branches() -> None:
    """A join runs its target once, after both branches (even one of unequal length) finish."""
    doc = document(
        {"log": LOG},
        {name: {"kind": "function", "ref": f"t.{name}"} for name in ("a", "b1", "b2", "c")},
        [
            {"from": "START", "to": ["a", "b1"]},
            {"from": "b1", "to": "b2"},
            {"from": ["a", "b2"], "to": "c"},
            {"from": "c", "to": "END"},
        ],
    )
    result = await run_workflow(doc, logging_registry("a", "b1", "b2", "c"))
    assert result["log"].count("c") == 1
    assert result["log"][-1] == "c"
    assert sorted(result["log"][:-1]) == ["a", "b1", "b2"]


async def test_plain_edges_do_not_join() -> None:
    """Without a join, a target reached from two branches runs once per arriving step."""
    doc = document(
        {"log": LOG},
        {name: {"kind": "function", "ref": f"t.{name}"} for name in ("a", "b1", "b2", "c")},
        [
            {"from": "START", "to": ["a", "b1"]},
            {"from": "b1", "to": "b2"},
            {"from": "a", "to": "c"},
            {"from": "b2", "to": "c"},
            {"from": "c", "to": "END"},
        ],
    )
    result = await run_workflow(doc, logging_registry("a", "b1", "b2", "c"))
    assert result["log"].count("c") == 2


# --- cycles and limits ---

LOOP = document(
    {"rounds": {"type": "integer", "reducer": "add"}, "until": {"type": "integer"}},
    {"work": {"kind": "function", "ref": "t.work"}},
    [
        {"from": "START", "to": "work"},
        {
            "from": "work",
            "cases": [{"when": "state.rounds < input.until", "to": "work"}],
            "default": "END",
        },
    ],
    input=["until"],
    limits={"max_steps": 5},
)


def counting_registry(calls: list[int]) -> Registry:
    """``t.work`` adds 1 to ``rounds`` and records each call."""
    registry = Registry()

    @registry.function("t.work")
    def work() -> dict[str, Any]:
        calls.append(1)
        if len(calls) > 50:  # fail fast (node.failed) if the step limit were not applied
            raise RuntimeError("loop not bounded")
        return {"rounds": 1}

    return registry


async def test_cycle_ends_when_condition_fails() -> None:
    """A conditional back edge loops until its condition is false."""
    calls: list[int] = []
    result = await run_workflow(LOOP, counting_registry(calls), {"until": 3})
    assert result["rounds"] == 3
    assert len(calls) == 3


async def test_cycle_bounded_by_max_steps() -> None:
    """graph() binds limits.max_steps: an endless loop stops there with GraphRecursionError."""
    calls: list[int] = []
    with pytest.raises(GraphRecursionError):
        await run_workflow(LOOP, counting_registry(calls), {"until": 1_000})
    assert 0 < len(calls) <= LOOP["limits"]["max_steps"]


# --- map nodes ---


def map_document(max_concurrency: int | None, **inner: Any) -> dict[str, Any]:
    """Map ``t.work`` over ``nums`` into ``out``, then run ``t.after``."""
    node: dict[str, Any] = {
        "kind": "map",
        "over": "state.nums",
        "node": {"kind": "function", "ref": "t.work", "writes": "out", **inner},
    }
    if max_concurrency is not None:
        node["max_concurrency"] = max_concurrency
    return document(
        {
            "nums": {"type": "array", "items": {"type": "integer"}},
            "out": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
            "after": {"type": "boolean", "default": False},
        },
        {"double": node, "after": {"kind": "function", "ref": "t.after"}},
        chain("double", "after"),
        input=["nums"],
    )


class Gauge:
    """Counts how many calls are inside the function at once."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.calls = 0


def map_registry(gauge: Gauge) -> Registry:
    """``t.work`` doubles its item, yielding to the loop while it is counted as active."""
    registry = Registry()

    @registry.function("t.work")
    async def work(item: int) -> int:
        gauge.calls += 1
        gauge.active += 1
        gauge.peak = max(gauge.peak, gauge.active)
        for _ in range(10):
            await asyncio.sleep(0)
        gauge.active -= 1
        return item * 2

    @registry.function("t.after")
    def after() -> dict[str, Any]:
        return {"after": True}

    return registry


async def test_map_respects_max_concurrency() -> None:
    """With max_concurrency=2 no more than two items run at once (and two do)."""
    gauge = Gauge()
    result = await run_workflow(map_document(2), map_registry(gauge), {"nums": list(range(8))})
    assert gauge.peak == 2
    assert gauge.calls == 8
    assert result["out"] == [n * 2 for n in range(8)]


async def test_map_without_limit_runs_items_together() -> None:
    """Without max_concurrency every item runs at once (the gauge can see more than two)."""
    gauge = Gauge()
    await run_workflow(map_document(None), map_registry(gauge), {"nums": list(range(8))})
    assert gauge.peak == 8


async def test_map_limit_holds_without_run_context() -> None:
    """max_concurrency holds even when the caller passes no RunContext."""
    gauge = Gauge()
    compiled = compile_workflow(map_document(2), registry=map_registry(gauge))
    graph = compiled.graph(InMemorySaver())
    config: Any = {"configurable": {"thread_id": "no-context"}}
    await graph.ainvoke(compiled.make_input({"nums": list(range(8))}), config)
    assert gauge.peak <= 2


async def test_map_over_empty_list_goes_straight_on() -> None:
    """A map over an empty list runs no items and continues to the next node."""
    gauge = Gauge()
    result = await run_workflow(map_document(2), map_registry(gauge), {"nums": []})
    assert gauge.calls == 0
    assert result["out"] == []
    assert result["after"] is True


async def test_map_results_keep_item_order() -> None:
    """Results gather in item order even when later items finish first."""
    doc = map_document(None)
    registry = Registry()
    finished = {i: asyncio.Event() for i in range(4)}

    @registry.function("t.work")
    async def work(item: int, index: int) -> int:
        if index + 1 in finished:
            await finished[index + 1].wait()
        finished[index].set()
        return item * 10

    registry.add_function("t.after", lambda: None)
    result = await run_workflow(doc, registry, {"nums": [1, 2, 3, 4]})
    assert result["out"] == [10, 20, 30, 40]


async def test_map_inputs_see_item_and_index() -> None:
    """Inner node inputs are CEL over item, index and state."""
    doc = map_document(None, inputs={"value": "item * 100 + index"})
    registry = Registry()
    registry.add_function("t.work", lambda value: value)
    registry.add_function("t.after", lambda: None)
    result = await run_workflow(doc, registry, {"nums": [5, 6]})
    assert result["out"] == [500, 601]


async def test_map_over_non_list_fails() -> None:
    """A map whose 'over' is not a list fails with map.not_a_list."""
    doc = map_document(None)
    doc["nodes"]["double"]["over"] = "size(state.nums)"
    with pytest.raises(NodeExecutionError) as info:
        await run_workflow(doc, map_registry(Gauge()), {"nums": [1]})
    assert info.value.code == "map.not_a_list"


# --- function nodes ---


def single(ref: str, **node: Any) -> dict[str, Any]:
    """One function node writing into ``result`` (or returning an update)."""
    return document(
        {"result": {"type": "string", "nullable": True}, "n": {"type": "integer", "default": 1}},
        {"step": {"kind": "function", "ref": ref, **node}},
        chain("step"),
    )


async def test_function_writes_return_value() -> None:
    """With 'writes' the function's return value becomes that field."""
    registry = Registry()
    registry.add_function("t.hello", lambda n: f"hello {n}")
    result = await run_workflow(
        single("t.hello", writes="result", inputs={"n": "state.n + 1"}), registry
    )
    assert result["result"] == "hello 2"


async def test_function_returns_update() -> None:
    """Without 'writes' the function returns a state update; it may read the typed state."""
    registry = Registry()
    registry.add_function("t.update", lambda state: {"result": f"n={state.n}"})
    result = await run_workflow(single("t.update"), registry)
    assert result["result"] == "n=1"


async def test_sync_function_runs_in_worker_thread() -> None:
    """A sync function runs off the event loop thread; an async one runs on it."""
    threads: dict[str, int] = {}
    registry = Registry()

    @registry.function("t.sync")
    def sync_step() -> None:
        threads["sync"] = threading.get_ident()

    @registry.function("t.async")
    async def async_step() -> None:
        threads["async"] = threading.get_ident()

    doc = document(
        {"x": {"type": "any"}},
        {"a": {"kind": "function", "ref": "t.sync"}, "b": {"kind": "function", "ref": "t.async"}},
        chain("a", "b"),
    )
    await run_workflow(doc, registry)
    loop_thread = threading.get_ident()
    assert threads["sync"] != loop_thread
    assert threads["async"] == loop_thread


async def test_timeout() -> None:
    """A node attempt longer than 'timeout' fails with node.timeout naming the node."""
    registry = Registry()

    @registry.function("t.hang")
    async def hang() -> None:
        await asyncio.Event().wait()

    with pytest.raises(NodeExecutionError) as info:
        await run_workflow(single("t.hang", timeout=0.01), registry)
    assert info.value.code == "node.timeout"
    assert info.value.details["node"] == "step"


def flaky_registry(calls: list[int], failures: int, error: Exception) -> Registry:
    """``t.flaky`` raises ``error`` for its first ``failures`` calls."""
    registry = Registry()

    @registry.function("t.flaky")
    def flaky() -> dict[str, Any]:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return {"result": "ok"}

    return registry


# jitter adds up to a second per retry; off keeps the test fast and deterministic.
NO_WAIT = {"initial_interval": 0, "jitter": False}


async def test_retry_until_success() -> None:
    """A node failing twice with max_attempts=3 runs three times and succeeds."""
    calls: list[int] = []
    registry = flaky_registry(calls, 2, RuntimeError("flaky"))
    result = await run_workflow(single("t.flaky", retry={"max_attempts": 3, **NO_WAIT}), registry)
    assert result["result"] == "ok"
    assert len(calls) == 3


async def test_retry_gives_up_after_max_attempts() -> None:
    """When every attempt fails the node fails with node.failed after max_attempts."""
    calls: list[int] = []
    registry = flaky_registry(calls, 10, RuntimeError("down"))
    with pytest.raises(NodeExecutionError) as info:
        await run_workflow(single("t.flaky", retry={"max_attempts": 2, **NO_WAIT}), registry)
    assert info.value.code == "node.failed"
    assert info.value.details["type"] == "RuntimeError"
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("retry", "error", "code"),
    [
        ({"max_attempts": 3, "on": ["node.timeout"]}, RuntimeError("x"), "node.failed"),
        (
            {"max_attempts": 3},
            InvalidInputError("bad", code="state.invalid_update"),
            "state.invalid_update",
        ),
    ],
    ids=["code-not-in-on", "state-errors-not-retried"],
)
async def test_retry_skips_errors_not_retried(
    retry: dict[str, Any], error: Exception, code: str
) -> None:
    """Errors whose code is not retried fail on the first attempt."""
    calls: list[int] = []
    registry = flaky_registry(calls, 10, error)
    with pytest.raises(Exception) as info:  # noqa: PT011 - checked by code below
        await run_workflow(single("t.flaky", retry={**retry, **NO_WAIT}), registry)
    assert getattr(info.value, "code", None) == code
    assert len(calls) == 1


async def test_no_retry_without_policy() -> None:
    """Without a retry spec a failing node runs once."""
    calls: list[int] = []
    with pytest.raises(NodeExecutionError):
        await run_workflow(single("t.flaky"), flaky_registry(calls, 1, RuntimeError("x")))
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("returned", "writes"),
    [({"nope": 1}, None), ({"n": "many"}, None), (["a"], None), (5, "n")],
    ids=["unknown-field", "wrong-type", "not-a-mapping", "writes-wrong-type"],
)
async def test_invalid_update_names_node(returned: Any, writes: str | None) -> None:
    """A node returning an invalid update fails with state.invalid_update naming the node."""
    registry = Registry()
    registry.add_function("t.bad", lambda: returned)
    node = {"writes": "result"} if writes else {}
    with pytest.raises(InvalidInputError) as info:
        await run_workflow(single("t.bad", **node), registry)
    assert info.value.code == "state.invalid_update"
    assert info.value.details["node"] == "step"


async def test_unexpected_exception_becomes_node_failed() -> None:
    """Any exception from user code becomes node.failed with its type and message."""
    registry = Registry()

    @registry.function("t.boom")
    def boom() -> None:
        raise KeyError("missing")

    with pytest.raises(NodeExecutionError) as info:
        await run_workflow(single("t.boom"), registry)
    assert info.value.code == "node.failed"
    assert info.value.details == {"node": "step", "type": "KeyError", "message": "'missing'"}


# --- subworkflows ---

CHILD = document(
    {"x": {"type": "integer"}, "y": {"type": "integer"}},
    {"double": {"kind": "function", "ref": "t.double", "inputs": {"x": "state.x"}, "writes": "y"}},
    chain("double"),
    input=["x"],
    output=["y"],
)
CHILD["id"] = "child"


async def test_subworkflow_maps_inputs_and_outputs() -> None:
    """A subworkflow node runs the child with mapped inputs and copies outputs back."""
    registry = Registry()
    registry.add_function("t.double", lambda x: x * 2)
    parent = document(
        {"n": {"type": "integer"}, "doubled": {"type": "integer"}},
        {
            "call": {
                "kind": "subworkflow",
                "workflow": "child",
                "inputs": {"x": "state.n + 1"},
                "outputs": {"doubled": "y"},
            }
        },
        chain("call"),
        input=["n"],
    )
    resolve = resolver({"child": CHILD})
    compiled = compile_workflow(parent, registry=registry, resolve=resolve)
    assert set(compiled.subworkflows) == {("child", None)}
    result = await run_workflow(parent, registry, {"n": 4}, resolve=resolve)
    assert compiled.output(result) == {"n": 4, "doubled": 10}


async def test_map_over_subworkflow_gathers_outputs() -> None:
    """A map over a subworkflow with 'writes' gathers each child's output object in order."""
    registry = Registry()
    registry.add_function("t.double", lambda x: x * 2)
    parent = document(
        {
            "nums": {"type": "array", "items": {"type": "integer"}},
            "outs": {"type": "array", "items": {"type": "object"}, "reducer": "append"},
        },
        {
            "each": {
                "kind": "map",
                "over": "state.nums",
                "node": {
                    "kind": "subworkflow",
                    "workflow": "child",
                    "inputs": {"x": "item"},
                    "writes": "outs",
                },
            }
        },
        chain("each"),
        input=["nums"],
    )
    result = await run_workflow(
        parent, registry, {"nums": [1, 2, 3]}, resolve=resolver({"child": CHILD})
    )
    assert result["outs"] == [{"y": 2}, {"y": 4}, {"y": 6}]


# --- compile errors and output ---


def test_compile_rejects_invalid_document() -> None:
    """compile_workflow raises WorkflowValidationError for an invalid document."""
    with pytest.raises(WorkflowValidationError) as info:
        compile_workflow(single("t.unregistered"), registry=Registry())
    assert [p.code for p in info.value.problems] == ["registry.unknown_name"]


def test_make_input_rejects_bad_input() -> None:
    """make_input validates run input (state.invalid_input)."""
    compiled = compile_workflow(map_document(2), registry=map_registry(Gauge()))
    with pytest.raises(InvalidInputError) as info:
        compiled.make_input({"nums": "many"})
    assert info.value.code == "state.invalid_input"


def test_make_input_writes_input_and_reducer_defaults_only() -> None:
    """make_input writes the given input and declared reducer defaults (with Overwrite), no more."""
    compiled = compile_workflow(map_document(2), registry=map_registry(Gauge()))
    data = compiled.make_input({"nums": [1]})
    assert data["nums"] == [1]
    assert "after" not in data
    assert "gw_input" not in data  # no expression reads input.*
    fresh_reducers = {k for k, v in data.items() if isinstance(v, Overwrite)}
    declared = {
        name
        for name, field in compiled.state.fields.items()
        if field.reducer != "replace" and field.has_default
    }
    assert fresh_reducers == declared - {"nums"} | ({"nums"} & fresh_reducers)
    assert set(compiled.make_input({"nums": [1]}, fresh=False)) == {"nums"}


def test_unset_fields_read_as_defaults() -> None:
    """State fields nobody wrote come back as their default in dump()/output()."""
    compiled = compile_workflow(map_document(2), registry=map_registry(Gauge()))
    dumped = compiled.state.dump({"nums": [1]})
    assert dumped["nums"] == [1]
    assert dumped["after"] is False


def test_output_selects_output_fields() -> None:
    """output() returns only the document's output fields."""
    registry = Registry()
    registry.add_function("t.double", lambda x: x * 2)
    compiled = compile_workflow(CHILD, registry=registry)
    assert compiled.output({"x": 1, "y": 2, "gw_input": {}}) == {"y": 2}
