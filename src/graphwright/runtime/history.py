"""Read a thread's checkpoints: the current snapshot and paged history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphwright.graphs.compiler import CompiledWorkflow
from graphwright.runtime.results import CheckpointSummary
from graphwright.runtime.serialize import display_node

__all__ = ["Snapshot", "read_history", "read_state"]


@dataclass(frozen=True)
class Snapshot:
    """The parts of LangGraph's ``StateSnapshot`` graphwright uses."""

    values: dict[str, Any]
    next: tuple[str, ...]
    interrupts: tuple[Any, ...]
    checkpoint_id: str | None


def _config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def read_state(graph: Any, thread_id: str) -> Snapshot:
    """Read the latest checkpoint of ``thread_id`` (pending interrupts included)."""
    snapshot = await graph.aget_state(_config(thread_id))
    values = snapshot.values if isinstance(snapshot.values, dict) else {}
    return Snapshot(
        values=values,
        next=tuple(display_node(n) for n in snapshot.next),
        interrupts=tuple(snapshot.interrupts),
        checkpoint_id=(snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
    )


async def read_history(
    graph: Any,
    thread_id: str,
    compiled: CompiledWorkflow,
    *,
    limit: int,
    before: str | None,
) -> list[CheckpointSummary]:
    """Read at most ``limit`` checkpoints older than ``before`` (newest first)."""
    out: list[CheckpointSummary] = []
    before_config = _config(thread_id, before) if before else None
    async for snap in graph.aget_state_history(
        _config(thread_id), limit=limit, before=before_config
    ):
        configurable = (snap.config or {}).get("configurable", {})
        parent = (snap.parent_config or {}).get("configurable", {})
        metadata = snap.metadata or {}
        out.append(
            CheckpointSummary(
                checkpoint_id=str(configurable.get("checkpoint_id")),
                parent_checkpoint_id=parent.get("checkpoint_id"),
                step=int(metadata.get("step", -1)),
                source=str(metadata.get("source", "")),
                run_id=metadata.get("run_id"),
                created_at=snap.created_at,
                next=tuple(display_node(n) for n in snap.next),
                values=compiled.state.dump(snap.values if isinstance(snap.values, dict) else {}),
            )
        )
    return out
