"""What PostgreSQL cannot store (NUL, lone surrogates, deep nesting) is found with a pointer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graphwright.graphs.text_checks import (
    MAX_DEPTH,
    document_text_problems,
    find_unstorable,
    printable_text,
    text_flaw,
)
from graphwright.graphs.validate import check_workflow, parse_workflow
from tests.unit.factories import valid_document


def nested(levels: int) -> Any:
    """A value with ``levels`` levels of objects (``{"k": {"k": ... "x"}}``)."""
    value: Any = "x"
    for _ in range(levels):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("text", "flaw"),
    [
        ("plain", None),
        ("", None),
        ("ünïcødé ✓ 🚀", None),
        ("a\x00b", "nul"),
        ("\x00", "nul"),
        ("a\ud800b", "surrogate"),
        ("\udfff", "surrogate"),
        (json.loads('"\\ud83d\\ude80"'), None),  # a surrogate pair decodes to one code point
    ],
    ids=["plain", "empty", "unicode", "nul", "only-nul", "high-surrogate", "low-surrogate", "pair"],
)
def test_text_flaw(text: str, flaw: str | None) -> None:
    """NUL and lone surrogates are flaws; any valid Unicode text is not."""
    assert text_flaw(text) == flaw


def test_printable_text_escapes_flaws() -> None:
    """NUL and lone surrogates are written as \\uXXXX; the result is valid UTF-8."""
    shown = printable_text("a\x00b\ud800c")
    assert shown == "a\\u0000b\\ud800c"
    shown.encode("utf-8")
    assert printable_text("fine") == "fine"


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"a": {"b": "ok"}}, []),
        ({"a": {"b": "x\x00"}}, [("nul", "/a/b", False)]),
        ({"a": ["ok", "x\ud800"]}, [("surrogate", "/a/1", False)]),
        ({"a\x00": 1}, [("nul", "/a\\u0000", True)]),
        ({"a/b~": "\x00"}, [("nul", "/a~1b~0", False)]),
        ("\x00", [("nul", "", False)]),
        (
            {"x": "\x00", "y": ["\ud800"], "z": {"w": "\x00"}},
            [("nul", "/x", False), ("surrogate", "/y/0", False), ("nul", "/z/w", False)],
        ),
        ([1, 2.5, True, None], []),
    ],
    ids=[
        "clean",
        "nul-value",
        "surrogate-in-list",
        "nul-key",
        "escaped-key",
        "root",
        "order",
        "scalars",
    ],
)
def test_find_unstorable_points_at_each_place(
    value: Any, found: list[tuple[str, str, bool]]
) -> None:
    """Each bad string or key is reported with its pointer, in document order."""
    issues = find_unstorable(value)
    assert [(i.kind, i.pointer, i.in_key) for i in issues] == found
    for issue in issues:
        issue.pointer.encode("utf-8")
        issue.message.encode("utf-8")


def test_depth_limit_is_inclusive() -> None:
    """A value MAX_DEPTH levels deep passes; one level more is too deep, pointing at that level."""
    assert find_unstorable(nested(MAX_DEPTH)) == []
    issues = find_unstorable(nested(MAX_DEPTH + 1))
    assert [(i.kind, i.pointer) for i in issues] == [("too_deep", "/k" * MAX_DEPTH)]


def test_very_deep_value_does_not_recurse() -> None:
    """A value far deeper than Python's recursion limit is checked without RecursionError."""
    issues = find_unstorable(nested(50_000), max_depth=3)
    assert [(i.kind, i.pointer) for i in issues] == [("too_deep", "/k/k/k")]


def test_prefix_and_limit() -> None:
    """``prefix`` is prepended to pointers and at most ``limit`` issues come back."""
    issues = find_unstorable(["\x00"] * 50, prefix="/metadata", limit=3)
    assert [i.pointer for i in issues] == ["/metadata/0", "/metadata/1", "/metadata/2"]


def test_document_text_problems_codes() -> None:
    """Workflow documents get dsl.invalid_text and dsl.too_deep problems with pointers."""
    problems = document_text_problems({"title": "a\x00", "x": nested(3)}, max_depth=3)
    assert [(p.code, p.pointer) for p in problems] == [
        ("dsl.invalid_text", "/title"),
        ("dsl.too_deep", "/x/k/k"),
    ]


@pytest.mark.parametrize(
    ("place", "bad", "code", "where"),
    [
        ("title", "a\x00b", "dsl.invalid_text", "/title"),
        ("title", "a\ud800b", "dsl.invalid_text", "/title"),
        ("description", "\x00", "dsl.invalid_text", "/description"),
        ("description", nested(MAX_DEPTH), "dsl.too_deep", "/description" + "/k" * (MAX_DEPTH - 1)),
    ],
    ids=["title-nul", "title-surrogate", "description-nul", "too-deep"],
)
def test_workflow_with_unstorable_text_is_invalid(
    place: str, bad: Any, code: str, where: str
) -> None:
    """parse/check_workflow refuse such documents with a coded problem at the place."""
    document = valid_document()
    document[place] = bad
    for problems in (parse_workflow(document)[1], check_workflow(document)[1]):
        assert [(p.code, p.pointer) for p in problems] == [(code, where)]


def test_workflow_text_from_json_escapes() -> None:
    """JSON text spelling a NUL or a lone surrogate as an escape is refused too."""
    document = valid_document()
    document["title"] = "__T__"
    text = json.dumps(document).replace('"__T__"', '"x\\ud800"')
    spec, problems = check_workflow(text)
    assert spec is None
    assert [(p.code, p.pointer) for p in problems] == [("dsl.invalid_text", "/title")]


def test_clean_workflow_is_still_valid() -> None:
    """A document without such text validates as before."""
    spec, problems = check_workflow(valid_document())
    assert problems == []
    assert spec is not None
