"""CEL expressions and ${...} templates: compile-time checks and evaluation."""

from __future__ import annotations

from typing import Any

import pytest

from graphwright.expressions import (
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    compile_expression,
    compile_template,
)

MAP_VARIABLES = frozenset({"state", "input", "item", "index"})


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        ("state.a == 1", {("state", "a")}),
        ("input.b + state.a", {("input", "b"), ("state", "a")}),
        ("state['a b'] == input[\"c\"]", {("state", "a b"), ("input", "c")}),
        ("state.items.all(x, x > 1)", {("state", "items")}),
        ("state.m.exists(k, k == 'z')", {("state", "m")}),
        ("state.items.map(x, x * 2).filter(y, y > 2)", {("state", "items")}),
        ("'state.fake' == state.real", {("state", "real")}),
        ("has(state.a)", {("state", "a")}),
        ("1 + 2", set()),
    ],
    ids=[
        "dot",
        "two-roots",
        "index-syntax",
        "all-macro",
        "exists-macro",
        "chained-macros",
        "string-literal-ignored",
        "has-macro",
        "constant",
    ],
)
def test_compile_collects_field_refs(source: str, fields: set[tuple[str, str]]) -> None:
    """compile_expression accepts allowed variables and records the (root, field) pairs read."""
    assert compile_expression(source).fields == frozenset(fields)


@pytest.mark.parametrize(
    "source",
    ["state.items.all(x, x > 1)", "state.items.exists_one(v, v == 2)", "state.items.map(i, i + 1)"],
    ids=["all", "exists_one", "map"],
)
def test_macro_bound_variables_are_not_unknown(source: str) -> None:
    """Variables bound by a CEL macro are neither unknown nor reported as read variables."""
    assert compile_expression(source).variables == frozenset({"state"})


@pytest.mark.parametrize(
    ("source", "allowed", "variable"),
    [
        ("foo == 1", frozenset({"state", "input"}), "foo"),
        ("item > 1", frozenset({"state", "input"}), "item"),
        ("index + state.a", frozenset({"state"}), "index"),
        ("input.x", frozenset({"state"}), "input"),
    ],
    ids=["undeclared", "item-outside-map", "index-outside-map", "input-not-allowed"],
)
def test_unknown_variable(source: str, allowed: frozenset[str], variable: str) -> None:
    """A variable outside ``allowed`` raises expr.unknown_variable naming it."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, allowed=allowed)
    assert info.value.code == "expr.unknown_variable"
    assert info.value.details["variable"] == variable


def test_map_variables_allowed_in_map_context() -> None:
    """item and index compile when the caller allows them (inside a map)."""
    expr = compile_expression("item * index + state.k", allowed=MAP_VARIABLES)
    assert expr.evaluate({"item": 3, "index": 2, "state": {"k": 1}}) == 7


@pytest.mark.parametrize(
    "source",
    ["state.a ==", "(state.a", "", "   ", "1 ? 2", "x" * (MAX_EXPRESSION_LENGTH + 1), "\ud800"],
    ids=[
        "dangling-operator",
        "open-paren",
        "empty",
        "blank",
        "bad-ternary",
        "too-long",
        "surrogate",
    ],
)
def test_syntax_error(source: str) -> None:
    """Unparseable, empty or overlong text raises expr.syntax."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.code == "expr.syntax"


def test_macro_variable_outside_macro_is_unknown() -> None:
    """A macro-bound name used outside its macro raises expr.unknown_variable."""
    with pytest.raises(ExpressionError) as info:
        compile_expression("state.items.all(x, x > 0) && x == 1")
    assert info.value.code == "expr.unknown_variable"


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("state.a + input.b", {"state": {"a": 1}, "input": {"b": 2}}, 3),
        ("state.items.all(x, x > 1)", {"state": {"items": [2, 3]}}, True),
        ("state.items.all(x, x > 1)", {"state": {"items": [1, 3]}}, False),
        ("state.items.map(x, x * 2)", {"state": {"items": [1, 2]}}, [2, 4]),
        ("size(state.s)", {"state": {"s": "abc"}}, 3),
        ("state.r.decision == 'approve'", {"state": {"r": {"decision": "approve"}}}, True),
        ("state.n == null", {"state": {"n": None}}, True),
    ],
    ids=["arithmetic", "all-true", "all-false", "map", "size", "nested-object", "null"],
)
def test_evaluate(source: str, context: dict[str, Any], expected: Any) -> None:
    """evaluate computes the CEL value over the given variables."""
    assert compile_expression(source).evaluate(context) == expected


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("state.missing", {"state": {}}),
        ("state.a + 1", {"state": {"a": "text"}}),
        ("state.a.b", {"state": {"a": 1}}),
        ("int(state.a)", {"state": {"a": "x"}}),
        ("9223372036854775807 + state.a", {"state": {"a": 1}}),
        ("state.a", {}),
    ],
    ids=["missing-key", "type-mismatch", "field-of-int", "bad-conversion", "overflow", "no-state"],
)
def test_evaluation_error(source: str, context: dict[str, Any]) -> None:
    """A failing evaluation raises expr.evaluation carrying the expression."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source).evaluate(context)
    assert info.value.code == "expr.evaluation"
    assert info.value.details == {"expression": source}


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("state.a / 0", {"state": {"a": 1}}),
        ("state.a % 0", {"state": {"a": 1}}),
        ("state.items[5]", {"state": {"items": [1]}}),
    ],
    ids=["division-by-zero", "modulo-by-zero", "index-out-of-range"],
)
def test_arithmetic_and_index_errors_are_coded(source: str, context: dict[str, Any]) -> None:
    """Division by zero and out-of-range indexes raise expr.evaluation, like other failures."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source).evaluate(context)
    assert info.value.code == "expr.evaluation"


@pytest.mark.parametrize(
    ("source", "context", "expected"),
    [
        ("Publish ${state.name}?", {"state": {"name": "plan"}}, "Publish plan?"),
        (
            "${state.a} + ${state.b} = ${state.a + state.b}",
            {"state": {"a": 1, "b": 2}},
            "1 + 2 = 3",
        ),
        ("flag=${state.f}", {"state": {"f": True}}, "flag=true"),
        ("off=${state.f}", {"state": {"f": False}}, "off=false"),
        ("[${state.n}]", {"state": {"n": None}}, "[]"),
        ("ratio ${state.r}", {"state": {"r": 1.5}}, "ratio 1.5"),
        ("no holes", {}, "no holes"),
        ("${input.who}", {"input": {"who": "ann"}}, "ann"),
    ],
    ids=["one-hole", "several-holes", "true", "false", "null-is-empty", "float", "plain", "input"],
)
def test_template_render(source: str, context: dict[str, Any], expected: str) -> None:
    """Templates fill each ${...} hole with its value; null renders empty, booleans lower-case."""
    assert compile_template(source).render(context) == expected


def test_template_fields() -> None:
    """A template reports every field its holes read."""
    template = compile_template("${state.a} and ${input.b} and ${state.c.all(x, x)}")
    assert template.fields == {("state", "a"), ("input", "b"), ("state", "c")}


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("Hello ${state.a", "expr.syntax"),
        ("${}", "expr.syntax"),
        ("${state.a ==}", "expr.syntax"),
        ("${secret}", "expr.unknown_variable"),
        ("${item}", "expr.unknown_variable"),
    ],
    ids=["unclosed", "empty-hole", "bad-hole", "unknown-variable", "item-outside-map"],
)
def test_template_compile_errors(source: str, code: str) -> None:
    """A template with a bad or unclosed hole raises the hole's expression code."""
    with pytest.raises(ExpressionError) as info:
        compile_template(source)
    assert info.value.code == code


def test_template_render_error_is_coded() -> None:
    """A hole that fails at render time raises expr.evaluation."""
    with pytest.raises(ExpressionError) as info:
        compile_template("x ${state.missing}").render({"state": {}})
    assert info.value.code == "expr.evaluation"
