"""What the Store accepts: namespaces, keys, values, TTLs and search filters.

The same checks run for the HTTP API and for node code (``get_store()``), so both
refuse alike, with :class:`~graphwright.errors.InvalidInputError` codes ``store.*``
and a JSON pointer per problem (``/namespace/1``, ``/filter/score/$gt``).

A search filter becomes SQL here, as parameterised clauses on ``value``:

- ``{"k": v}``: ``value.k`` equals ``v`` (any JSON; objects nest: ``{"a": {"b": 1}}``
  is ``value.a.b == 1``),
- ``{"k": {"$eq": v}}`` / ``{"k": {"$ne": v}}``: equal / not equal (a missing field is
  not equal to anything),
- ``{"k": {"$gt" | "$gte" | "$lt" | "$lte": n}}``: compares numbers with a number and
  strings (byte order) with a string; a field of another type does not match.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from psycopg.types.json import Jsonb

from graphwright.errors import InvalidInputError
from graphwright.graphs.pointers import pointer
from graphwright.graphs.text_checks import find_unstorable, text_flaw

__all__ = [
    "MAX_FILTER_CLAUSES",
    "MAX_KEY_BYTES",
    "MAX_LABELS",
    "MAX_NAMESPACE_BYTES",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_TTL_MINUTES",
    "RESERVED_ROOT",
    "check_key",
    "check_namespace",
    "check_page",
    "check_query",
    "check_ttl",
    "check_value",
    "filter_clauses",
]

MAX_LABELS: Final = 64
"""Most labels of a namespace."""
MAX_NAMESPACE_BYTES: Final = 1024
"""Longest namespace, its labels joined by ``.``, in UTF-8 bytes (an index entry)."""
MAX_KEY_BYTES: Final = 1024
"""Longest key in UTF-8 bytes (an index entry)."""
MAX_TTL_MINUTES: Final = 52_560_000.0
"""Longest TTL: 100 years, in minutes."""
MAX_PAGE: Final = 1000
"""Largest ``limit`` of a search or namespace listing."""
MAX_OFFSET: Final = 1_000_000_000
"""Largest ``offset``."""
MAX_FILTER_CLAUSES: Final = 32
"""Most conditions a search filter may hold."""
MAX_FILTER_DEPTH: Final = 16
"""Deepest field path of a filter condition."""
RESERVED_ROOT: Final = "langgraph"
"""A root label LangGraph reserves; no item may be put under it."""

_COMPARISONS: Final = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPERATORS: Final = ("$eq", "$ne", *_COMPARISONS)


def _refuse(code: str, where: str, message: str, **details: Any) -> InvalidInputError:
    return InvalidInputError(
        f"{where or '/'}: {message}",
        code=code,
        details={**details, "problems": [{"pointer": where, "message": message}]},
    )


def check_namespace(
    namespace: Any, *, field: str = "namespace", allow_empty: bool = False, put: bool = False
) -> tuple[str, ...]:
    """The namespace as a tuple of labels, when LangGraph would accept it.

    Labels are non-empty strings without ``.`` (the SDK joins labels with dots in
    query strings), NUL or lone surrogates; at most :data:`MAX_LABELS` of them and
    :data:`MAX_NAMESPACE_BYTES` joined. An item (``put``) cannot live under the root
    label ``langgraph``, which LangGraph reserves.

    Raises:
        InvalidInputError: ``store.invalid_namespace``.
    """
    code = "store.invalid_namespace"
    if isinstance(namespace, str) or not isinstance(namespace, Sequence):
        raise _refuse(code, pointer(field), "a namespace is a list of labels (strings)")
    labels = tuple(namespace)
    if not labels and not allow_empty:
        raise _refuse(code, pointer(field), "the namespace is empty: give at least one label")
    if len(labels) > MAX_LABELS:
        raise _refuse(code, pointer(field), f"a namespace has at most {MAX_LABELS} labels")
    for index, label in enumerate(labels):
        where = pointer(field, index)
        if not isinstance(label, str) or not label:
            raise _refuse(code, where, "a namespace label is a non-empty string")
        if "." in label:
            raise _refuse(code, where, "a namespace label cannot contain '.'")
        if text_flaw(label) is not None:
            raise _refuse(code, where, "a namespace label cannot hold NUL or lone surrogates")
    if len(".".join(labels).encode()) > MAX_NAMESPACE_BYTES:
        raise _refuse(
            code, pointer(field), f"the namespace is longer than {MAX_NAMESPACE_BYTES} bytes"
        )
    if put and labels[0] == RESERVED_ROOT:
        raise _refuse(code, pointer(field, 0), f"the root label {RESERVED_ROOT!r} is reserved")
    return labels


def check_key(key: Any, *, field: str = "key") -> str:
    """The key, when it is a non-empty storable string of at most :data:`MAX_KEY_BYTES`.

    Raises:
        InvalidInputError: ``store.invalid_key``.
    """
    code = "store.invalid_key"
    if not isinstance(key, str) or not key:
        raise _refuse(code, pointer(field), "the key is a non-empty string")
    if text_flaw(key) is not None:
        raise _refuse(code, pointer(field), "the key cannot hold NUL or lone surrogates")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise _refuse(code, pointer(field), f"the key is longer than {MAX_KEY_BYTES} bytes")
    return key


def check_value(value: Any, *, field: str = "value") -> Jsonb:
    """The value, wrapped for PostgreSQL, when it is a JSON object PostgreSQL can store.

    Raises:
        InvalidInputError: ``store.invalid_value`` (not an object, not JSON, NaN or
            infinities, NUL characters, lone surrogates, nested too deeply).
    """
    code = "store.invalid_value"
    if not isinstance(value, Mapping):
        raise _refuse(code, pointer(field), "the value is a JSON object")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _refuse(code, pointer(field), f"the value is not plain JSON ({exc})") from None
    issues = find_unstorable(value, prefix=pointer(field), limit=1)
    if issues:
        raise _refuse(code, issues[0].pointer, issues[0].message)
    return Jsonb(dict(value))


def check_ttl(ttl: Any, *, field: str = "ttl") -> float | None:
    """The TTL in minutes (None: the item never expires).

    Raises:
        InvalidInputError: ``store.invalid_ttl`` unless a number above 0 and at most
            :data:`MAX_TTL_MINUTES`.
    """
    if ttl is None:
        return None
    ok = isinstance(ttl, int | float) and not isinstance(ttl, bool) and math.isfinite(ttl)
    if not ok or not 0 < ttl <= MAX_TTL_MINUTES:
        raise _refuse(
            "store.invalid_ttl",
            pointer(field),
            f"the TTL is a number of minutes above 0 and at most {MAX_TTL_MINUTES:g}, or null",
        )
    return float(ttl)


def check_page(limit: Any, offset: Any) -> tuple[int, int]:
    """``limit`` (1 to :data:`MAX_PAGE`) and ``offset`` (0 to :data:`MAX_OFFSET`).

    Raises:
        InvalidInputError: ``store.invalid_page``.
    """
    for name, number, low, high in (
        ("limit", limit, 1, MAX_PAGE),
        ("offset", offset, 0, MAX_OFFSET),
    ):
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            raise _refuse(
                "store.invalid_page", pointer(name), f"{name} is an integer from {low} to {high}"
            )
    return limit, offset


def check_query(query: Any) -> None:
    """Refuse a natural-language ``query``: the Store has no vector index (yet).

    An empty query is no query. Refused rather than ignored, so a caller never takes
    a plain listing for ranked results.

    Raises:
        InvalidInputError: ``store.query_unsupported``.
    """
    if query is None or query == "":
        return
    raise _refuse(
        "store.query_unsupported",
        "/query",
        "semantic search (query) is not supported: this Store has no vector index; "
        "search with namespace_prefix and filter",
    )


def filter_clauses(filter: Mapping[str, Any] | None) -> tuple[list[str], list[Any]]:
    """SQL conditions on the ``value`` column for a search filter, and their parameters.

    Raises:
        InvalidInputError: ``store.invalid_filter`` (unknown operator, an operator mixed
            with fields, a comparison with something other than a number or a string,
            more than :data:`MAX_FILTER_CLAUSES` conditions or deeper than
            :data:`MAX_FILTER_DEPTH`).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if filter is None:
        return clauses, params
    if not isinstance(filter, Mapping):
        raise _refuse("store.invalid_filter", "/filter", "the filter is a JSON object")
    pending: list[tuple[tuple[str, ...], Any]] = [((k,), v) for k, v in filter.items()]
    while pending:
        path, spec = pending.pop(0)
        where = pointer("filter", *path)
        if len(path) > MAX_FILTER_DEPTH:
            raise _refuse(
                "store.invalid_filter", where, f"a filter field is at most {MAX_FILTER_DEPTH} deep"
            )
        if path[-1].startswith("$"):
            raise _refuse(
                "store.invalid_filter",
                where,
                f"{path[-1]!r} is not a field; operators ({', '.join(_OPERATORS)}) go under one",
            )
        if isinstance(spec, Mapping) and spec and any(str(k).startswith("$") for k in spec):
            for operator, operand in spec.items():
                clause, values = _operator_clause(list(path), str(operator), operand, where)
                clauses.append(clause)
                params.extend(values)
        elif isinstance(spec, Mapping) and spec:
            pending.extend(((*path, str(k)), v) for k, v in spec.items())
        else:
            clauses.append("value #> %s::text[] = %s::jsonb")
            params.extend([list(path), Jsonb(spec)])
        if len(clauses) > MAX_FILTER_CLAUSES:
            raise _refuse(
                "store.invalid_filter",
                "/filter",
                f"a filter holds at most {MAX_FILTER_CLAUSES} conditions",
            )
    return clauses, params


def _operator_clause(
    path: list[str], operator: str, operand: Any, where: str
) -> tuple[str, list[Any]]:
    here = where + pointer(operator)
    if operator == "$eq":
        return "value #> %s::text[] = %s::jsonb", [path, Jsonb(operand)]
    if operator == "$ne":
        return "(value #> %s::text[]) is distinct from %s::jsonb", [path, Jsonb(operand)]
    sql = _COMPARISONS.get(operator)
    if sql is None:
        raise _refuse(
            "store.invalid_filter",
            here,
            f"unknown operator {operator!r}; use one of {', '.join(_OPERATORS)}",
        )
    if isinstance(operand, int | float) and not isinstance(operand, bool):
        if not math.isfinite(operand):
            raise _refuse("store.invalid_filter", here, "compare with a finite number")
        return (
            "(case when jsonb_typeof(value #> %s::text[]) = 'number'"
            f" then (value #> %s::text[])::numeric {sql} %s::numeric else false end)",
            [path, path, operand],
        )
    if isinstance(operand, str):
        return (
            "(case when jsonb_typeof(value #> %s::text[]) = 'string'"
            f' then (value #>> %s::text[]) collate "C" {sql} %s else false end)',
            [path, path, operand],
        )
    raise _refuse("store.invalid_filter", here, f"{operator} compares with a number or a string")
