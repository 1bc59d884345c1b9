"""Threads and thread states as the LangGraph Server API shows them.

Input is what the engine returns (thread records and LangGraph snapshots that
already carry public thread ids); output is the JSON of the SDK's ``Thread``,
``ThreadState``, ``ThreadTask`` and ``Checkpoint`` types.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Final

from langgraph.types import Interrupt, StateSnapshot

from graphwright.runtime.serialize import display_node, jsonable
from graphwright.store.threads import ThreadRecord, ThreadStatus

__all__ = [
    "API_STATUSES",
    "api_status",
    "checkpoint_json",
    "interrupt_json",
    "select_fields",
    "state_json",
    "store_statuses",
    "thread_json",
]

_TO_API: Final[dict[ThreadStatus, str]] = {
    "idle": "idle",
    "completed": "idle",
    "running": "busy",
    "interrupted": "interrupted",
    "failed": "error",
}
API_STATUSES: Final[tuple[str, ...]] = ("idle", "busy", "interrupted", "error")
"""Thread statuses of the LangGraph Server API."""


def api_status(status: ThreadStatus) -> str:
    """The LangGraph status of a graphwright thread status."""
    return _TO_API[status]


def store_statuses(status: str) -> list[ThreadStatus]:
    """The graphwright statuses a LangGraph thread status stands for."""
    return [mine for mine, theirs in _TO_API.items() if theirs == status]


def checkpoint_json(config: Any, thread_id: str) -> dict[str, Any] | None:
    """A ``Checkpoint`` from a (public) checkpoint config; None without a config."""
    if not config:
        return None
    configurable = config.get("configurable") or {}
    return {
        "thread_id": thread_id,
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def interrupt_json(interrupt: Interrupt) -> dict[str, Any]:
    """An ``Interrupt``: its value and id, and the schema of the answer when it has one."""
    out: dict[str, Any] = {"value": jsonable(interrupt.value), "id": interrupt.id}
    schema = getattr(interrupt, "response_schema", None)
    if schema is not None:
        out["response_schema"] = jsonable(schema)
    return out


def state_json(snapshot: StateSnapshot | None, thread_id: str) -> dict[str, Any]:
    """A ``ThreadState``; a thread with no workflow yet has empty values and no checkpoint."""
    if snapshot is None:
        return {
            "values": {},
            "next": [],
            "checkpoint": checkpoint_json({"configurable": {}}, thread_id),
            "metadata": {},
            "created_at": None,
            "parent_checkpoint": None,
            "tasks": [],
            "interrupts": [],
        }
    return {
        "values": jsonable(snapshot.values),
        "next": [display_node(name) for name in snapshot.next],
        "checkpoint": checkpoint_json(snapshot.config or {"configurable": {}}, thread_id),
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint_json(snapshot.parent_config, thread_id),
        "tasks": [
            {
                "id": task.id,
                "name": display_node(task.name),
                "error": None if task.error is None else _error_text(task.error),
                "interrupts": [interrupt_json(i) for i in task.interrupts],
                "checkpoint": None,
                "state": None,
                "result": jsonable(task.result) if task.result is not None else None,
            }
            for task in snapshot.tasks
        ],
        "interrupts": [interrupt_json(i) for i in snapshot.interrupts],
    }


def thread_json(thread: ThreadRecord, snapshot: StateSnapshot | None) -> dict[str, Any]:
    """A ``Thread``; ``values`` is None until the thread has a checkpoint.

    ``interrupts`` maps the id of each task waiting at an interrupt to its interrupts.
    """
    has_state = snapshot is not None and snapshot.metadata is not None
    return {
        "thread_id": thread.thread_id,
        "created_at": thread.created_at.isoformat(),
        "updated_at": thread.updated_at.isoformat(),
        "metadata": thread.metadata,
        "status": api_status(thread.status),
        "values": jsonable(snapshot.values) if snapshot is not None and has_state else None,
        "interrupts": {
            task.id: [interrupt_json(i) for i in task.interrupts]
            for task in (snapshot.tasks if snapshot is not None else ())
            if task.interrupts
        },
    }


def select_fields(item: dict[str, Any], select: Collection[str] | None) -> dict[str, Any]:
    """Keep the selected top-level fields; ``values.<key>`` keeps one key of ``values``."""
    if not select:
        return item
    out: dict[str, Any] = {}
    keys: list[str] = []
    for name in select:
        if name.startswith("values."):
            keys.append(name.removeprefix("values."))
        elif name in item:
            out[name] = item[name]
    if keys and "values" not in out and isinstance(item.get("values"), dict):
        out["values"] = {k: item["values"][k] for k in keys if k in item["values"]}
    return out


def _error_text(error: Exception | Sequence[Any] | Any) -> str:
    if isinstance(error, Exception):
        return f"{type(error).__name__}: {error}"
    return str(error)
