"""Expression cost bounds: refused at validation when too costly, budgeted at run time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from graphwright.expressions import (
    EvaluationBudget,
    ExpressionError,
    compile_expression,
    compile_template,
    estimate_cost,
)
from graphwright.graphs.validate import check_workflow

BOMB = "state.xs.map(a, state.xs.map(b, state.xs.map(c, state.xs.map(d, "
BOMB += "state.xs.map(e, state.xs.map(f, 'x'))))))"
TWO_LEVELS = "state.xs.map(a, state.xs.filter(b, b > a))"


def doc(*, prompt: str = "ok?", when: str = "true") -> dict[str, Any]:
    """A workflow with an approval prompt and an edge condition to fill in."""
    return {
        "dsl": "graphwright/v1",
        "id": "costs",
        "state": {
            "xs": {"type": "array", "items": {"type": "integer"}, "default": []},
            "review": {"type": "object", "nullable": True},
        },
        "nodes": {
            "gate": {
                "kind": "approval",
                "prompt": prompt,
                "decisions": ["approve", "reject"],
                "writes": "review",
            }
        },
        "edges": [
            {"from": "START", "to": "gate"},
            {"from": "gate", "cases": [{"when": when, "to": "END"}], "default": "END"},
        ],
    }


def codes(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, pointer) of every problem check_workflow reports."""
    _, problems = check_workflow(data)
    return [(p.code, p.pointer) for p in problems]


def test_nested_map_bomb_in_prompt_is_refused() -> None:
    """Six nested maps in a prompt template: expr.too_costly at the prompt's pointer."""
    assert codes(doc(prompt="Items: ${" + BOMB + "}")) == [
        ("expr.too_costly", "/nodes/gate/prompt")
    ]


def test_nested_map_bomb_in_condition_is_refused() -> None:
    """Six nested maps in an edge condition: expr.too_costly at the condition's pointer."""
    assert codes(doc(when="size(" + BOMB + ") > 0")) == [
        ("expr.too_costly", "/edges/1/cases/0/when")
    ]


def test_two_levels_are_allowed() -> None:
    """Two nested comprehensions validate and evaluate."""
    assert codes(doc(prompt="${" + TWO_LEVELS + "}", when="size(" + TWO_LEVELS + ") > 0")) == []
    compiled = compile_expression(TWO_LEVELS)
    assert compiled.cost.depth == 2
    assert compiled.evaluate({"state": {"xs": [1, 2, 3]}}) == [[2, 3], [3], []]


def test_three_levels_are_refused() -> None:
    """Three nested comprehensions (exists inside all inside filter) are too costly."""
    source = "state.xs.filter(a, state.xs.all(b, state.xs.exists(c, c > a + b)))"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.code == "expr.too_costly"
    assert caught.value.details["depth"] == 3


def test_sequential_comprehensions_do_not_nest() -> None:
    """Comprehensions side by side, or in the receiver, count one level each."""
    source = "state.xs.map(a, a * 2).filter(b, b > 2).exists(c, c == 4) || [1].all(d, d > 0)"
    assert estimate_cost(source).depth == 1
    assert compile_expression(source).evaluate({"state": {"xs": [1, 2]}}) is True


def test_macro_names_in_strings_and_fields_do_not_count() -> None:
    """'.map(' inside a string literal, or a field named map, is no comprehension."""
    assert estimate_cost("'x.map(a, y.map(b, z.map(c, 1)))' + state.map").depth == 0


def test_huge_list_literal_is_refused() -> None:
    """A list literal of 1000 elements is refused with expr.too_costly."""
    literal = "[" + ",".join("0" for _ in range(1000)) + "]"
    assert codes(doc(when=f"size({literal}) > 0")) == [("expr.too_costly", "/edges/1/cases/0/when")]


def test_huge_string_literal_is_refused() -> None:
    """A string literal of 2000 characters is refused with expr.too_costly."""
    with pytest.raises(ExpressionError) as caught:
        compile_expression("'" + "a" * 2000 + "' == state.xs")
    assert caught.value.code == "expr.too_costly"


def test_comments_and_three_argument_map_still_evaluate() -> None:
    """Metering keeps the meaning of bodies that end in a comment or of map(x, p, f)."""
    compiled = compile_expression("state.xs.map(x, x > 1 // only big ones\n, x * 10)")
    assert compiled.evaluate({"state": {"xs": [1, 2, 3]}}) == [20, 30]


def test_step_budget_exceeded_is_coded_and_quick() -> None:
    """Two levels over 1000 items exceed the step budget: expr.budget_exceeded, fast."""
    compiled = compile_expression("state.xs.map(a, state.xs.map(b, a * b))")
    started = time.monotonic()
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate({"state": {"xs": list(range(1000))}}, budget=EvaluationBudget(steps=5000))
    assert caught.value.code == "expr.budget_exceeded"
    assert caught.value.details["limit"] == "steps"
    assert time.monotonic() - started < 5


def test_time_budget_exceeded_is_coded() -> None:
    """A wall-clock limit stops a long comprehension with expr.budget_exceeded."""
    compiled = compile_expression("state.xs.map(a, state.xs.map(b, a * b))")
    budget = EvaluationBudget(seconds=0.05, steps=10**9)
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate({"state": {"xs": list(range(2000))}}, budget=budget)
    assert caught.value.details["limit"] == "seconds"


def test_result_size_budget_exceeded_is_coded() -> None:
    """A result larger than the budget's result_size fails with expr.budget_exceeded."""
    compiled = compile_expression("state.s + state.s")
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate({"state": {"s": "x" * 600}}, budget=EvaluationBudget(result_size=1000))
    assert (caught.value.code, caught.value.details["limit"]) == (
        "expr.budget_exceeded",
        "result_size",
    )


def test_exists_stops_at_the_budget() -> None:
    """exists/all cannot absorb a budget stop: the evaluation fails, not returns."""
    compiled = compile_expression("state.xs.exists(a, state.xs.exists(b, b < 0))")
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate({"state": {"xs": list(range(300))}}, budget=EvaluationBudget(steps=100))
    assert caught.value.code == "expr.budget_exceeded"


def test_evaluate_async_keeps_the_loop_responsive() -> None:
    """An expensive evaluation off the loop lets a ticker run; prints the longest stall."""

    async def scenario() -> float:
        worst, stop = 0.0, asyncio.Event()

        async def ticker() -> None:
            nonlocal worst
            last = time.monotonic()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.monotonic()
                worst, last = max(worst, now - last), now

        task = asyncio.create_task(ticker())
        compiled = compile_expression("state.xs.map(a, state.xs.map(b, a * b))")
        with pytest.raises(ExpressionError) as caught:
            await compiled.evaluate_async({"state": {"xs": list(range(1000))}})
        assert caught.value.code == "expr.budget_exceeded"
        stop.set()
        await task
        return worst

    print(f"longest event-loop stall: {asyncio.run(scenario()) * 1000:.1f} ms")


def test_template_hole_is_budgeted() -> None:
    """A template hole over budget fails the render with expr.budget_exceeded."""
    template = compile_template("${state.xs.map(a, state.xs.map(b, b))}")
    with pytest.raises(ExpressionError) as caught:
        template.render({"state": {"xs": list(range(1000))}})
    assert caught.value.code == "expr.budget_exceeded"
