"""JSON values PostgreSQL cannot store: NUL characters, lone surrogates, deep nesting.

PostgreSQL refuses ``\\u0000`` in ``text`` and ``jsonb``, cannot encode a lone
UTF-16 surrogate (which Python's ``json`` module happily decodes from
``"\\ud800"``) and gives up on very deeply nested ``jsonb``. These checks find
such values before anything is stored, each with a JSON pointer to its place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphwright.errors import Problem
from graphwright.graphs.pointers import pointer

__all__ = [
    "MAX_DEPTH",
    "TextIssue",
    "document_text_problems",
    "find_unstorable",
    "printable_text",
    "text_flaw",
]

MAX_DEPTH = 64
"""Most levels of arrays and objects a value may have (the value itself is level 1)."""

TextFlaw = Literal["nul", "surrogate"]
IssueKind = Literal["nul", "surrogate", "too_deep"]

_MESSAGES: dict[IssueKind, str] = {
    "nul": "text contains a NUL character (\\u0000), which cannot be stored",
    "surrogate": "text contains a lone UTF-16 surrogate (invalid Unicode), which cannot be stored",
    "too_deep": f"value is nested more than {MAX_DEPTH} levels deep",
}


@dataclass(frozen=True)
class TextIssue:
    """One unstorable place in a value.

    Attributes:
        kind: ``"nul"``, ``"surrogate"`` or ``"too_deep"``.
        pointer: JSON pointer (RFC 6901) to the string, key or container; the
            characters that cannot be stored are shown escaped (``\\u0000``).
        in_key: The flaw is in an object key (``pointer`` ends with that key).
    """

    kind: IssueKind
    pointer: str
    in_key: bool = False

    @property
    def message(self) -> str:
        """What is wrong, in words (never the offending text itself)."""
        text = _MESSAGES[self.kind]
        return f"object key: {text}" if self.in_key else text


def text_flaw(text: str) -> TextFlaw | None:
    """Why ``text`` cannot be stored (``"nul"`` or ``"surrogate"``), or None when it can."""
    if "\x00" in text:
        return "nul"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "surrogate"
    return None


def printable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates written as ``\\u`` escapes (safe in any response)."""
    if text_flaw(text) is None:
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text
    )


def find_unstorable(
    value: Any, *, max_depth: int = MAX_DEPTH, limit: int = 20, prefix: str = ""
) -> list[TextIssue]:
    """Find the places in a JSON value that PostgreSQL cannot store, in document order.

    Strings (values and object keys) with NUL or lone surrogates are reported,
    and each container at level ``max_depth + 1`` (it is not looked into).
    Never recurses, so any depth Python could build is safe to check.

    Args:
        value: A JSON value (dicts, lists, strings, numbers, booleans, None).
        max_depth: Most levels of nesting allowed (``value`` itself is level 1).
        limit: Stop after this many issues.
        prefix: Pointer of ``value`` itself inside a larger document.

    Returns:
        Up to ``limit`` issues; empty when everything can be stored.
    """
    issues: list[TextIssue] = []
    for issue in _walk(value, max_depth=max_depth, prefix=prefix):
        issues.append(issue)
        if len(issues) >= limit:
            break
    return issues


def _walk(value: Any, *, max_depth: int, prefix: str) -> Iterator[TextIssue]:
    # Depth-first with an explicit stack, children pushed in reverse so issues
    # come out in document order.
    stack: list[tuple[Any, str, int]] = [(value, prefix, 1)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, str):
            flaw = text_flaw(current)
            if flaw is not None:
                yield TextIssue(flaw, where)
            continue
        if not isinstance(current, Mapping | list | tuple):
            continue
        if depth > max_depth:
            yield TextIssue("too_deep", where)
            continue
        children: list[tuple[Any, str, int]] = []
        if isinstance(current, Mapping):
            for key, child in current.items():
                name = str(key)
                at = where + pointer(printable_text(name))
                flaw = text_flaw(name)
                if flaw is not None:
                    yield TextIssue(flaw, at, in_key=True)
                children.append((child, at, depth + 1))
        else:
            children = [(child, where + pointer(i), depth + 1) for i, child in enumerate(current)]
        stack.extend(reversed(children))


def document_text_problems(data: Any, *, max_depth: int = MAX_DEPTH) -> list[Problem]:
    """Problems of a workflow document whose text or nesting cannot be stored.

    Codes: ``dsl.invalid_text`` (NUL or lone surrogate in a string or key) and
    ``dsl.too_deep`` (nested more than ``max_depth`` levels), each with a pointer.
    """
    return [
        Problem(
            "dsl.too_deep" if issue.kind == "too_deep" else "dsl.invalid_text",
            issue.pointer,
            issue.message,
        )
        for issue in find_unstorable(data, max_depth=max_depth)
    ]
