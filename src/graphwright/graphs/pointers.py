"""JSON pointers (RFC 6901) and pydantic error locations mapped onto documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["loc_to_pointer", "pointer"]


def pointer(*parts: str | int) -> str:
    """Join parts into a JSON pointer, escaping ``~`` and ``/``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def loc_to_pointer(data: Any, loc: Sequence[str | int]) -> str:
    """Map a pydantic error location onto a pointer into ``data``.

    Pydantic inserts union tags and type names into locations
    (``('nodes', 'a', 'function', 'ref')``); walking the document alongside the
    location drops the parts that are not keys or indexes of the document.
    """
    parts: list[str | int] = []
    current = data
    for item in loc:
        found, child = _child(current, item)
        if found:
            parts.append(item)
            current = child
        elif isinstance(current, dict) and isinstance(item, str) and _is_field_alias(item):
            # A missing key: point at where it belongs.
            parts.append(item)
            current = None
        # Anything else is a pydantic-internal tag: skip it.
    return pointer(*parts)


def _child(current: Any, item: str | int) -> tuple[bool, Any]:
    if isinstance(current, dict) and isinstance(item, str) and item in current:
        return True, current[item]
    if isinstance(current, list) and isinstance(item, int) and 0 <= item < len(current):
        return True, current[item]
    return False, None


def _is_field_alias(item: str) -> bool:
    return not any(ch in item for ch in "[]-,") and item not in {
        "function",
        "subworkflow",
        "approval",
        "map",
        "crew",
        "str",
        "list[str]",
    }
