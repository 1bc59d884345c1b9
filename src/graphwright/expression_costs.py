"""The cost of CEL expressions: a static estimate read from the source, and a run-time meter.

The ``cel`` package has no syntax tree and no cost limit, and holds the GIL while
it evaluates. :func:`analyse` reads an expression's tokens: how deep comprehension
macros nest, how large its literals are, and where each comprehension body is.
:func:`meter_bodies` wraps every body in a call of :data:`STEP_FUNCTION`, so each
step of a comprehension calls back into Python (:class:`Meter`), which counts
steps against an :class:`EvaluationBudget` and a deadline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_COMPREHENSION_DEPTH",
    "MAX_LITERAL_CHARS",
    "MAX_LITERAL_ELEMENTS",
    "NO_COST",
    "STEP_FUNCTION",
    "EvaluationBudget",
    "ExpressionCost",
    "Meter",
    "analyse",
    "cost_problem",
    "estimate_cost",
    "meter_bodies",
    "result_size",
]

MAX_COMPREHENSION_DEPTH = 2
MAX_LITERAL_ELEMENTS = 256
MAX_LITERAL_CHARS = 1024

_MACROS = frozenset({"map", "filter", "all", "exists", "exists_one"})
STEP_FUNCTION = "__graphwright_step"
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<comment>//[^\n]*)"
    # Raw strings have no escapes; others may escape their quote.
    r"|(?P<string>(?:[bB]?[rR]|[rR][bB])(?:'{3}.*?'{3}|\"{3}.*?\"{3}|'[^'\n]*'|\"[^\"\n]*\")"
    r"|[bB]?(?:'{3}(?:[^\\]|\\.)*?'{3}|\"{3}(?:[^\\]|\\.)*?\"{3}"
    r"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"))"
    r"|(?P<number>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>.)",
    re.DOTALL,
)


@dataclass(frozen=True)
class EvaluationBudget:
    """What one evaluation may spend.

    Attributes:
        seconds: Wall-clock limit, checked at every comprehension step.
        steps: Comprehension steps (one per element visited, at any depth).
        result_size: Characters plus elements of the result, counted recursively.
    """

    seconds: float = 1.0
    steps: int = 50_000
    result_size: int = 1_000_000


DEFAULT_BUDGET = EvaluationBudget()


@dataclass(frozen=True)
class ExpressionCost:
    """Static cost of an expression, read from its source.

    Attributes:
        depth: Deepest nesting of comprehension macros (``map``, ``filter``, ``all``,
            ``exists``, ``exists_one``); 0 when there is none.
        largest_literal: Most elements in one list or map literal.
        longest_string: Most characters in one string literal.
    """

    depth: int
    largest_literal: int
    longest_string: int


NO_COST = ExpressionCost(0, 0, 0)
"""The cost of an expression without comprehensions or literals."""


@dataclass
class Meter:
    """Counts comprehension steps of one evaluation; raises when the budget is spent."""

    budget: EvaluationBudget
    deadline: float
    steps: int = 0
    exceeded: str | None = None

    def step(self) -> bool | None:
        """``true`` while within budget. Past it, ``null``: a non-bool condition stops
        CEL at once with an error (raising here would make the extension print it)."""
        if self.exceeded is None:
            self.steps += 1
            if self.steps > self.budget.steps:
                self.exceeded = "steps"
            elif time.monotonic() > self.deadline:
                self.exceeded = "seconds"
        return True if self.exceeded is None else None


def result_size(value: Any, limit: int) -> int:
    """Characters plus elements in ``value``, counted until past ``limit``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, Mapping):
        items: Iterable[Any] = (x for pair in value.items() for x in pair)
        total = len(value)
    elif isinstance(value, list | tuple):
        items, total = value, len(value)
    else:
        return 1
    for item in items:
        if total > limit:
            break
        total += result_size(item, limit - total)
    return total


def estimate_cost(source: str) -> ExpressionCost:
    """Static cost of a CEL expression (see :class:`ExpressionCost`); no compilation."""
    return analyse(source)[0]


def cost_problem(cost: ExpressionCost) -> str | None:
    """Why an expression of this static cost is refused, or None when it is allowed."""
    reason = None
    if cost.depth > MAX_COMPREHENSION_DEPTH:
        reason = (
            f"comprehensions (map, filter, all, exists, exists_one) nest {cost.depth} deep; "
            f"at most {MAX_COMPREHENSION_DEPTH} levels are allowed"
        )
    elif cost.largest_literal > MAX_LITERAL_ELEMENTS:
        reason = (
            f"a list or map literal has {cost.largest_literal} elements; "
            f"at most {MAX_LITERAL_ELEMENTS} are allowed"
        )
    elif cost.longest_string > MAX_LITERAL_CHARS:
        reason = (
            f"a string literal has {cost.longest_string} characters; "
            f"at most {MAX_LITERAL_CHARS} are allowed"
        )
    return reason


@dataclass
class _Bracket:
    char: str
    macro: bool
    commas: int = 0
    empty: bool = True
    body_start: int = -1
    body_end: int = -1


def analyse(source: str) -> tuple[ExpressionCost, list[tuple[int, int]]]:
    """Walk the tokens: comprehension depth, literal sizes and comprehension body spans.

    A body is a macro call's second argument (the predicate or transform, evaluated
    once per element); its span is ``(start, end)`` in ``source``.
    """
    stack: list[_Bracket] = []
    depth = largest = longest = 0
    bodies: list[tuple[int, int]] = []
    previous: list[str] = []  # the last two significant tokens
    for match in _TOKEN.finditer(source):
        kind, text = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if stack and text not in ")]}":
            stack[-1].empty = False
        if kind == "string":
            longest = max(longest, _string_length(text))
        elif text in "([{":
            macro = text == "(" and len(previous) == 2 and previous[0] == "."
            macro = macro and previous[1] in _MACROS
            stack.append(_Bracket(text, macro))
            depth = max(depth, sum(b.macro for b in stack))
        elif text in ")]}" and stack:
            bracket = stack.pop()
            if bracket.char in "[{" and not bracket.empty:
                largest = max(largest, bracket.commas + 1)
            if bracket.macro and bracket.body_start >= 0:
                end = bracket.body_end if bracket.body_end >= 0 else match.start()
                bodies.append((bracket.body_start, end))
        elif text == "," and stack:
            bracket = stack[-1]
            bracket.commas += 1
            if bracket.macro and bracket.commas == 1:
                bracket.body_start = match.end()
            elif bracket.macro and bracket.commas == 2:
                bracket.body_end = match.start()
        previous = [*previous[-1:], text]
    return ExpressionCost(depth, largest, longest), bodies


def _string_length(token: str) -> int:
    body = token.lstrip("bBrR")
    quote = 3 if body[:3] in ("'''", '"""') else 1
    return max(0, len(body) - 2 * quote)


def meter_bodies(source: str, bodies: list[tuple[int, int]]) -> str:
    """``source`` with each comprehension body wrapped in a call of the step meter."""
    inserts: list[tuple[int, int, str]] = []
    for start, end in bodies:
        inserts.append((start, 1, f"({STEP_FUNCTION}() ? ("))
        inserts.append((end, 0, "\n) : null)"))  # newline: the body may end in a comment
    out = source
    # Right to left, closings before openings at one position, so offsets stay valid.
    for pos, _, text in sorted(inserts, key=lambda i: (i[0], i[1]), reverse=True):
        out = out[:pos] + text + out[pos:]
    return out
