"""CEL conditions and ``${...}`` templates, compiled once at validation time.

Expressions may read two variables, ``state`` and ``input`` (plus ``item`` and
``index`` inside a map). Nothing is evaluated with ``eval``; CEL has no access
to Python objects beyond the values passed in.

Cost is bounded twice. At compile time (so at validation) an expression whose
comprehension macros nest deeper than :data:`MAX_COMPREHENSION_DEPTH`, or whose
literals are too large, is refused (``expr.too_costly``): each nesting level
multiplies the work by the size of a list. At run time every evaluation has an
:class:`EvaluationBudget`: comprehension bodies are metered (a step count and a
wall-clock deadline), and the result's size is capped (``expr.budget_exceeded``).
:meth:`CompiledExpression.evaluate_async` runs expressions with comprehensions
in a worker thread; the meter calls back into Python once per step, which lets
the event loop take the GIL back while the evaluation runs (the CEL extension
holds the GIL otherwise).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from graphwright.errors import GraphwrightError
from graphwright.expression_costs import (
    DEFAULT_BUDGET,
    MAX_COMPREHENSION_DEPTH,
    NO_COST,
    STEP_FUNCTION,
    EvaluationBudget,
    ExpressionCost,
    Meter,
    analyse,
    cost_problem,
    estimate_cost,
    meter_bodies,
    result_size,
)

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_COMPREHENSION_DEPTH",
    "CompiledExpression",
    "CompiledTemplate",
    "EvaluationBudget",
    "ExpressionCost",
    "ExpressionError",
    "compile_expression",
    "compile_template",
    "estimate_cost",
]

# Names bound by CEL macros (`list.map(x, ...)`) show up as variables; collect them.
_MACRO_BINDING = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter|existsOne|transformList|transformMap)"
    r"\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,(?:\s*([A-Za-z_][A-Za-z0-9_]*)\s*,)?"
)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TEMPLATE_PART = re.compile(r"\$\{(.*?)\}", re.DOTALL)
MAX_EXPRESSION_LENGTH = 4096


class ExpressionError(GraphwrightError):
    """A CEL expression does not compile, reads an unknown variable or fails to evaluate."""

    default_code = "expr.error"


@dataclass(frozen=True)
class CompiledExpression:
    """A compiled CEL expression.

    Attributes:
        source: The expression text.
        variables: Top-level variables it reads (``state``, ``input``, ...).
        fields: ``(root, field)`` pairs it reads, such as ``("state", "report")``.
    """

    source: str
    program: Any
    variables: frozenset[str]
    fields: frozenset[tuple[str, str]]
    cost: ExpressionCost = NO_COST
    metered: Any = None  # the program with a step meter in each comprehension body

    @property
    def costly(self) -> bool:
        """Whether evaluation may take long (it has a comprehension)."""
        return self.cost.depth > 0

    def evaluate(
        self, context: Mapping[str, Any], *, budget: EvaluationBudget = DEFAULT_BUDGET
    ) -> Any:
        """Evaluate against ``context`` within ``budget`` (on the calling thread).

        Raises:
            ExpressionError: ``expr.evaluation`` when CEL reports an error
                (missing key, type mismatch, division by zero...);
                ``expr.budget_exceeded`` when the evaluation takes too many steps or
                too long, or its result is too large.
        """
        started = time.monotonic()
        meter = Meter(budget, deadline=started + budget.seconds)
        try:
            if self.metered is None:
                result = self.program.execute(dict(context))
            else:
                variables = cel.Context(dict(context), {STEP_FUNCTION: meter.step})
                result = self.metered.execute(variables)
        except (ValueError, TypeError, LookupError, RuntimeError, ArithmeticError) as exc:
            if meter.exceeded is not None:
                raise self._over_budget(meter.exceeded, budget) from None
            raise ExpressionError(
                f"evaluating {self.source!r} failed: {exc}",
                code="expr.evaluation",
                details={"expression": self.source},
            ) from exc
        if meter.exceeded is not None:
            raise self._over_budget(meter.exceeded, budget)
        if time.monotonic() - started > budget.seconds:
            raise self._over_budget("seconds", budget)
        if result_size(result, budget.result_size) > budget.result_size:
            raise self._over_budget("result_size", budget)
        return result

    async def evaluate_async(
        self, context: Mapping[str, Any], *, budget: EvaluationBudget = DEFAULT_BUDGET
    ) -> Any:
        """Like :meth:`evaluate`; expressions with comprehensions run in a worker thread.

        Raises:
            ExpressionError: as :meth:`evaluate`.
        """
        if not self.costly:
            return self.evaluate(context, budget=budget)
        return await asyncio.to_thread(self.evaluate, dict(context), budget=budget)

    def _over_budget(self, limit: str, budget: EvaluationBudget) -> ExpressionError:
        return ExpressionError(
            f"evaluating {self.source!r} exceeded its budget of "
            f"{getattr(budget, limit)} {limit.replace('_', ' ')}",
            code="expr.budget_exceeded",
            details={"expression": self.source, "limit": limit, "budget": getattr(budget, limit)},
        )


def _field_refs(source: str, roots: Iterable[str]) -> frozenset[tuple[str, str]]:
    text = _STRING_LITERAL.sub("''", source)
    found: set[tuple[str, str]] = set()
    for root in roots:
        for match in re.finditer(rf"(?<![\w.]){root}\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", text):
            found.add((root, match.group(1)))
        for match in re.finditer(rf"(?<![\w.]){root}\s*\[\s*'([^']*)'\s*\]", source):
            found.add((root, match.group(1)))
        for match in re.finditer(rf'(?<![\w.]){root}\s*\[\s*"([^"]*)"\s*\]', source):
            found.add((root, match.group(1)))
    return frozenset(found)


def compile_expression(
    source: str, *, allowed: frozenset[str] = frozenset({"state", "input"})
) -> CompiledExpression:
    """Compile a CEL expression and check the variables it reads.

    Args:
        source: CEL text.
        allowed: Variables the expression may read.

    Raises:
        ExpressionError: ``expr.syntax`` for a parse error, ``expr.unknown_variable``
            for a variable outside ``allowed``.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression is empty", code="expr.syntax")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression is longer than {MAX_EXPRESSION_LENGTH} characters", code="expr.syntax"
        )
    try:
        program = cel.compile(source)
        variables = set(program.variables())
    except (ValueError, TypeError, RuntimeError, OverflowError) as exc:
        raise ExpressionError(
            f"invalid CEL expression {source!r}: {_first_line(exc)}",
            code="expr.syntax",
            details={"expression": source},
        ) from exc
    bound = _macro_bound(source)
    unknown = sorted(variables - bound - allowed)
    if unknown:
        raise ExpressionError(
            f"expression {source!r} reads unknown variable '{unknown[0]}'; "
            f"it may read only {', '.join(sorted(allowed))}",
            code="expr.unknown_variable",
            details={"expression": source, "variable": unknown[0]},
        )
    cost, bodies = analyse(source)
    reason = cost_problem(cost)
    if reason is not None:
        raise ExpressionError(
            f"expression is too costly: {reason}",
            code="expr.too_costly",
            details={
                "expression": source[:200],
                "depth": cost.depth,
                "largest_literal": cost.largest_literal,
                "longest_string": cost.longest_string,
            },
        )
    metered = None
    if bodies:
        # A rewrite the CEL parser refuses would be a bug here, not in the document.
        metered = cel.compile(meter_bodies(source, bodies))
    roots = allowed & variables
    return CompiledExpression(
        source=source,
        program=program,
        variables=frozenset(variables - bound),
        fields=_field_refs(source, roots),
        cost=cost,
        metered=metered,
    )


def _macro_bound(source: str) -> set[str]:
    """Names bound by macros, counted only if never used outside their macro's call."""
    text = _STRING_LITERAL.sub(lambda m: " " * len(m.group(0)), source)
    names: set[str] = set()
    spans: list[tuple[int, int]] = []
    for match in _MACRO_BINDING.finditer(text):
        names.update(name for name in match.groups() if name)
        start = text.index("(", match.start())
        depth, end = 0, len(text)
        for pos in range(start, len(text)):
            if text[pos] == "(":
                depth += 1
            elif text[pos] == ")":
                depth -= 1
                if depth == 0:
                    end = pos + 1
                    break
        spans.append((start, end))
    outside = list(text)
    for start, end in spans:
        outside[start:end] = " " * (end - start)
    rest = "".join(outside)
    return {n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", rest)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class CompiledTemplate:
    """A string with ``${expr}`` holes, each a compiled CEL expression."""

    source: str
    parts: tuple[str | CompiledExpression, ...]

    @property
    def fields(self) -> frozenset[tuple[str, str]]:
        """Every ``(root, field)`` pair the holes read."""
        out: set[tuple[str, str]] = set()
        for part in self.parts:
            if isinstance(part, CompiledExpression):
                out |= part.fields
        return frozenset(out)

    def render(self, context: Mapping[str, Any]) -> str:
        """Fill the holes; ``null`` renders as an empty string.

        Raises:
            ExpressionError: when a hole fails to evaluate.
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.evaluate(context)
            out.append("" if value is None else _render_value(value))
        return "".join(out)


def _render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def compile_template(
    source: str, *, allowed: frozenset[str] = frozenset({"state", "input"})
) -> CompiledTemplate:
    """Compile a template such as ``"Publish the plan for ${state.client_id}?"``.

    Raises:
        ExpressionError: for any hole that does not compile (see :func:`compile_expression`).
    """
    parts: list[str | CompiledExpression] = []
    pos = 0
    for match in _TEMPLATE_PART.finditer(source):
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        parts.append(compile_expression(match.group(1), allowed=allowed))
        pos = match.end()
    if pos < len(source):
        parts.append(source[pos:])
    if "${" in "".join(p for p in parts if isinstance(p, str)):
        raise ExpressionError(f"unclosed '${{' in template {source!r}", code="expr.syntax")
    return CompiledTemplate(source=source, parts=tuple(parts))
