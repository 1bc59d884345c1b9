"""Reducers: how an update combines with a field's current value.

Each reducer is deterministic, so parallel branches that update one field in
the same step merge the same way every time (LangGraph applies their writes in
task order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["REDUCERS", "reducer_accepts"]


def _append(current: Any, update: Any) -> list[Any]:
    return [*(current or []), update]


def _extend(current: Any, update: Any) -> list[Any]:
    return [*(current or []), *(update or [])]


def _merge(current: Any, update: Any) -> dict[str, Any]:
    return {**(current or {}), **(update or {})}


def _add(current: Any, update: Any) -> Any:
    if update is None:
        return current
    return (current or 0) + update


REDUCERS: dict[str, Callable[[Any, Any], Any] | None] = {
    "replace": None,
    "append": _append,
    "extend": _extend,
    "merge": _merge,
    "add": _add,
}

# Which field types each reducer works on.
_ACCEPTS: dict[str, frozenset[str]] = {
    "replace": frozenset({"string", "integer", "number", "boolean", "object", "array", "any"}),
    "append": frozenset({"array"}),
    "extend": frozenset({"array"}),
    "merge": frozenset({"object"}),
    "add": frozenset({"integer", "number"}),
}


def reducer_accepts(reducer: str, field_type: str) -> bool:
    """Whether ``reducer`` can combine values of ``field_type``."""
    return field_type in _ACCEPTS.get(reducer, frozenset())
