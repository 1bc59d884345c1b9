"""Turn LangGraph stream chunks and state into JSON-ready data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph.types import Interrupt, Overwrite, Send
from pydantic import BaseModel

from graphwright.nodes.map import document_node
from graphwright.state.model import INPUT_CHANNEL

__all__ = ["display_node", "jsonable", "wait_body"]


def display_node(name: str) -> str:
    """The document's node name for an internal one (``m__item`` -> ``m``)."""
    return document_node(name)[0]


def jsonable(value: Any, *, depth: int = 0) -> Any:
    """Convert a value to JSON-compatible data (hidden channels removed)."""
    if depth > 64:
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Interrupt):
        return {"value": jsonable(value.value, depth=depth + 1), "id": value.id}
    if isinstance(value, Overwrite):
        return jsonable(value.value, depth=depth + 1)
    if isinstance(value, Send):
        return {"node": value.node, "arg": jsonable(value.arg, depth=depth + 1)}
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {
            str(k): jsonable(v, depth=depth + 1) for k, v in value.items() if k != INPUT_CHANNEL
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, depth=depth + 1) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), depth=depth + 1)
    return repr(value)


def wait_body(
    *,
    values: Mapping[str, Any],
    interrupts: Any = (),
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of ``/wait`` and ``/join``: the final values with ``__interrupt__``,
    or ``__error__`` when ``error`` is given."""
    if error is not None:
        return {
            "__error__": {
                "error": error.get("code", "run.error"),
                "message": error.get("message", "the run failed"),
            }
        }
    body: dict[str, Any] = jsonable(dict(values))
    if interrupts:
        body["__interrupt__"] = list(interrupts)
    return body
