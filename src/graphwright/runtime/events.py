"""Translate LangGraph stream chunks (``tasks`` and ``custom`` modes) into run events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphwright.errors import GraphwrightError
from graphwright.nodes.map import document_node
from graphwright.nodes.progress import GW_EVENT
from graphwright.redaction import Redactor
from graphwright.runtime.results import PendingApproval, RunEvent

__all__ = ["EventTranslator", "RunIdentity"]


@dataclass(frozen=True)
class RunIdentity:
    """What every event of one run carries."""

    run_id: str
    thread_id: str
    workflow_id: str
    workflow_version: int

    def event(
        self, type_: str, *, node: str | None = None, data: dict[str, Any] | None = None
    ) -> RunEvent:
        """Build an event of this run, stamped now."""
        return RunEvent(
            type=type_,
            run_id=self.run_id,
            thread_id=self.thread_id,
            workflow_id=self.workflow_id,
            workflow_version=self.workflow_version,
            at=datetime.now(UTC),
            node=node,
            data=data or {},
        )


class EventTranslator:
    """Stateful translation of one run's stream.

    Tracks task start times (durations), the current step (from ``checkpoints``
    chunks), map items done per map (``map.progress``) and which failures the
    nodes already reported with their attempt (so none is reported twice).
    """

    def __init__(
        self, identity: RunIdentity, *, redactor: Callable[[], Redactor] | None = None
    ) -> None:
        """Translate ``identity``'s stream; failures' text goes through ``redactor()``."""
        self.identity = identity
        self._redactor = redactor or Redactor
        self._started: dict[str, float] = {}
        self._item_index: dict[str, Any] = {}
        self._approvals: set[str] = set()
        self._step = 0
        self._map_total: dict[tuple[tuple[str, ...], str], int] = {}
        self._map_done: dict[tuple[tuple[str, ...], str], int] = {}
        self._final_failures: set[tuple[tuple[str, ...], str]] = set()

    def translate(self, namespace: tuple[str, ...], mode: str, chunk: Any) -> Iterator[RunEvent]:
        """Yield the events for one ``(namespace, mode, chunk)`` of ``astream(subgraphs=True)``."""
        path = tuple(part.split(":", 1)[0] for part in namespace)
        if mode == "checkpoints":
            if not namespace and isinstance(chunk, dict):
                step = (chunk.get("metadata") or {}).get("step")
                if isinstance(step, int):
                    self._step = step
            return
        if mode == "custom":
            yield from self._custom(path, chunk)
            return
        if mode != "tasks" or not isinstance(chunk, dict):
            return
        node, role = document_node(str(chunk.get("name", "")))
        if role == "gather":
            return
        task_id = str(chunk.get("id"))
        data: dict[str, Any] = {"task_id": task_id, "step": self._step + 1}
        if path:
            data["subworkflow_path"] = list(path)
        if role == "item" and isinstance(chunk.get("input"), dict):
            self._item_index[task_id] = chunk["input"].get("index")
        if task_id in self._item_index:
            data["item_index"] = self._item_index[task_id]
        if "input" in chunk:
            self._started[task_id] = time.monotonic()
            if role == "item":
                data["map"] = True
                key = (path, node)
                self._map_total[key] = self._map_total.get(key, 0) + 1
            yield self.identity.event("node.started", node=node, data=data)
            return
        started = self._started.pop(task_id, None)
        self._item_index.pop(task_id, None)
        if started is not None:
            data["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        interrupts = chunk.get("interrupts") or []
        error = chunk.get("error")
        if error is not None:
            if (path, node) in self._final_failures:
                self._final_failures.discard((path, node))
            else:
                data["error"] = self._redactor().error(_error_dict(error))
                data["will_retry"] = False
                yield self.identity.event("node.failed", node=node, data=data)
            return
        if interrupts:
            for item in interrupts:
                interrupt_id = str(item.get("id")) if isinstance(item, dict) else ""
                if interrupt_id in self._approvals:
                    continue
                self._approvals.add(interrupt_id)
                value = item.get("value") if isinstance(item, dict) else None
                approval = PendingApproval.from_interrupt(interrupt_id, value)
                requested = approval.to_dict()
                if path:  # a gate inside a subworkflow, like its approval.decided
                    requested["subworkflow_path"] = list(path)
                yield self.identity.event(
                    "approval.requested", node=approval.node or node, data=requested
                )
            return
        result = chunk.get("result")
        data["changed"] = sorted(result) if isinstance(result, dict) else []
        yield self.identity.event("node.finished", node=node, data=data)
        if role == "item":
            key = (path, node)
            done = self._map_done[key] = self._map_done.get(key, 0) + 1
            total = self._map_total.get(key, done)
            progress: dict[str, Any] = {"done": done, "total": total, "step": self._step + 1}
            if path:
                progress["subworkflow_path"] = list(path)
            yield self.identity.event("map.progress", node=node, data=progress)
            if done >= total:
                self._map_done.pop(key, None)
                self._map_total.pop(key, None)

    def _custom(self, path: tuple[str, ...], chunk: Any) -> Iterator[RunEvent]:
        node = path[-1] if path else None
        if isinstance(chunk, dict) and isinstance(chunk.get(GW_EVENT), str):
            kind = chunk[GW_EVENT]
            data = {k: v for k, v in chunk.items() if k not in (GW_EVENT, "node")}
            raw_node = chunk.get("node")
            if isinstance(raw_node, str):
                node = document_node(raw_node)[0]
            data["step"] = self._step + 1
            if path:
                data["subworkflow_path"] = list(path)
            if kind == "node.failed" and not data.get("will_retry"):
                self._final_failures.add((path, node or ""))
            yield self.identity.event(kind, node=node, data=data)
            return
        payload = chunk if isinstance(chunk, dict) else {"value": chunk}
        yield self.identity.event("node.custom", node=node, data=payload)


def _error_dict(error: Any) -> dict[str, Any]:
    if isinstance(error, GraphwrightError):
        return error.to_dict()
    if isinstance(error, BaseException):
        return {"code": "node.failed", "message": f"{type(error).__name__}: {error}"}
    return {"code": "node.failed", "message": str(error)}
