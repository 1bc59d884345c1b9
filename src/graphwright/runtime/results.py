"""Values the engine returns: run results, events, thread state and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "CheckpointSummary",
    "PendingApproval",
    "RunEvent",
    "RunResult",
    "RunStatus",
    "ThreadState",
]

RunStatus = Literal["completed", "interrupted", "failed"]


@dataclass(frozen=True)
class PendingApproval:
    """An approval gate waiting for a decision.

    Attributes:
        id: Interrupt id; pass ``{id: decision}`` to resume one of several.
        node: The approval node's name.
        prompt: Rendered prompt.
        decisions: Allowed decision names.
        editable: Fields an ``edit`` decision may change.
        show: Extra values for the approver.
        error: Why the previous answer was refused, if it was.
    """

    id: str
    node: str
    prompt: str
    decisions: tuple[str, ...]
    editable: tuple[str, ...] = ()
    show: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @classmethod
    def from_interrupt(cls, interrupt_id: str, value: Any) -> PendingApproval:
        """Build from a LangGraph interrupt raised by an approval node."""
        data: dict[str, Any] = value if isinstance(value, dict) else {"prompt": str(value)}
        return cls(
            id=interrupt_id,
            node=str(data.get("node", "")),
            prompt=str(data.get("prompt", "")),
            decisions=tuple(data.get("decisions", ())),
            editable=tuple(data.get("editable", ())),
            show=dict(data.get("show") or {}),
            error=data.get("error"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out: dict[str, Any] = {
            "id": self.id,
            "node": self.node,
            "prompt": self.prompt,
            "decisions": list(self.decisions),
            "editable": list(self.editable),
        }
        if self.show:
            out["show"] = self.show
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    Attributes:
        status: ``completed``, ``interrupted`` (waiting at approval gates) or ``failed``.
        output: The workflow's output fields.
        values: The whole visible state.
        approvals: Pending approvals when ``interrupted``.
        error: ``{"code", "message", "details"}`` when ``failed``.
    """

    run_id: str
    thread_id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    output: dict[str, Any]
    values: dict[str, Any]
    approvals: tuple[PendingApproval, ...] = ()
    error: dict[str, Any] | None = None
    interrupts: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "status": self.status,
            "output": self.output,
            "approvals": [a.to_dict() for a in self.approvals],
            "error": self.error,
        }


@dataclass(frozen=True)
class RunEvent:
    """One progress event of a run.

    ``type`` is one of ``run.started``, ``node.started``, ``node.finished``,
    ``node.failed``, ``node.custom``, ``approval.requested``, ``run.finished``.
    ``run.finished`` carries the :class:`RunResult` in ``result``.
    """

    type: str
    run_id: str
    thread_id: str
    workflow_id: str
    workflow_version: int
    at: datetime
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    result: RunResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        out: dict[str, Any] = {
            "type": self.type,
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "at": self.at.isoformat(),
            "node": self.node,
            "data": self.data,
        }
        if self.result is not None:
            out["result"] = self.result.to_dict()
        return out


@dataclass(frozen=True)
class ThreadState:
    """The current state of a thread (from its latest checkpoint)."""

    thread_id: str
    workflow_id: str | None
    workflow_version: int | None
    status: str
    run_id: str | None
    values: dict[str, Any]
    next: tuple[str, ...]
    approvals: tuple[PendingApproval, ...]
    checkpoint_id: str | None
    metadata: dict[str, Any]
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    interrupts: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "thread_id": self.thread_id,
            "workflow_id": self.workflow_id,
            "workflow_version": self.workflow_version,
            "status": self.status,
            "run_id": self.run_id,
            "values": self.values,
            "next": list(self.next),
            "approvals": [a.to_dict() for a in self.approvals],
            "checkpoint_id": self.checkpoint_id,
            "metadata": self.metadata,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class CheckpointSummary:
    """One entry of a thread's history, newest first."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    step: int
    source: str
    run_id: str | None
    created_at: str | None
    next: tuple[str, ...]
    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "checkpoint_id": self.checkpoint_id,
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "step": self.step,
            "source": self.source,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "next": list(self.next),
            "values": self.values,
        }
