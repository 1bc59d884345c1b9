"""Progress reporting from inside nodes, carried on LangGraph's ``custom`` stream.

A node implementation calls :func:`progress`; graphwright's own nodes report
failed attempts and approval decisions the same way. Outside a running graph
these calls do nothing.
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_config, get_stream_writer

__all__ = ["GW_EVENT", "emit", "progress"]

GW_EVENT = "gw_event"
"""Key marking a custom stream chunk as a graphwright progress event."""


def emit(event: str, payload: dict[str, Any]) -> None:
    """Write a graphwright event to the run's stream (no-op outside a graph run).

    The event carries the id of the task that emitted it (``task_id``).
    """
    try:
        writer = get_stream_writer()
        config = get_config()
    except RuntimeError:  # not inside a running graph
        return
    namespace = str(config.get("configurable", {}).get("checkpoint_ns", ""))
    task_id = namespace.rsplit("|", 1)[-1].rpartition(":")[2] if namespace else None
    node = (config.get("metadata") or {}).get("langgraph_node")
    writer({GW_EVENT: event, "task_id": task_id, "node": node, **payload})


def progress(fraction: float | None = None, message: str | None = None, **data: Any) -> None:
    """Report a node's progress to whoever follows the run (``node.progress`` events).

    Args:
        fraction: Completion between 0 and 1, if known.
        message: Human readable status.
        **data: Any JSON-serialisable details for the UI.

    Raises:
        ValueError: ``fraction`` outside [0, 1].
    """
    if fraction is not None and not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    emit("node.progress", {"fraction": fraction, "message": message, "data": data})
