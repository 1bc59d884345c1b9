"""Progress reporting from inside nodes, carried on LangGraph's ``custom`` stream.

A node implementation calls :func:`progress`; graphwright's own nodes report
failed attempts and approval decisions the same way. Outside a running graph
these calls do nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from langgraph.config import get_config, get_stream_writer

__all__ = ["GW_EVENT", "Emitter", "emit", "progress"]

GW_EVENT = "gw_event"
"""Key marking a custom stream chunk as a graphwright progress event."""


def _target() -> tuple[Callable[[Any], None], str | None, Any] | None:
    """The running task's stream writer, task id and node name; ``None`` outside a run."""
    try:
        writer = get_stream_writer()
        config = get_config()
    except RuntimeError:  # not inside a running graph
        return None
    namespace = str(config.get("configurable", {}).get("checkpoint_ns", ""))
    task_id = namespace.rsplit("|", 1)[-1].rpartition(":")[2] if namespace else None
    node = (config.get("metadata") or {}).get("langgraph_node")
    return writer, task_id, node


def emit(event: str, payload: dict[str, Any]) -> None:
    """Write a graphwright event to the run's stream (no-op outside a graph run).

    The event carries the id of the task that emitted it (``task_id``).
    """
    target = _target()
    if target is not None:
        writer, task_id, node = target
        writer({GW_EVENT: event, "task_id": task_id, "node": node, **payload})


class Emitter:
    """:func:`emit` bound to the task that created it, usable from any thread.

    LangGraph finds the stream writer through context variables, which code
    running in other threads (a crew's workers, crewai's event handlers) does not
    see. An emitter captures the writer when it is created, inside the node; its
    writes are thread-safe. After :meth:`close` (the node attempt ended) writes
    are dropped, so a straggling thread never writes into a finished task.
    Outside a running graph it does nothing.
    """

    def __init__(self) -> None:
        self._target = _target()
        self._lock = threading.Lock()
        self._open = self._target is not None

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        """Write ``event`` with ``payload`` unless closed."""
        with self._lock:
            if not self._open or self._target is None:
                return
            writer, task_id, node = self._target
            writer({GW_EVENT: event, "task_id": task_id, "node": node, **payload})

    def close(self) -> None:
        """Drop every later write."""
        with self._lock:
            self._open = False


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
