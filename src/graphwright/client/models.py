"""Typed results of the graphwright HTTP client.

Models accept (and keep) fields they do not know, so an older client keeps
working against a newer server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Approval",
    "Health",
    "Interrupt",
    "OpsFigures",
    "OpsSummary",
    "ProblemDetail",
    "ProgressEvent",
    "PublishedWorkflow",
    "Readiness",
    "Run",
    "RunError",
    "RunOutput",
    "StreamEvent",
    "Thread",
    "ThreadState",
    "ValidationResult",
    "WorkflowOps",
]

TERMINAL_RUN_STATUSES = frozenset({"success", "error", "timeout", "interrupted"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ProblemDetail(_Model):
    """One problem of a rejected request or document (``pointer`` is a JSON pointer)."""

    pointer: str = ""
    message: str = ""
    code: str | None = None
    suggestion: str | None = None


class ValidationResult(_Model):
    """Outcome of ``POST /workflows/validate``: valid, or every problem found."""

    valid: bool
    workflow_id: str | None = None
    problems: list[ProblemDetail] = Field(default_factory=list)


class PublishedWorkflow(_Model):
    """A published workflow version; ``document`` only when one version was asked for."""

    workflow_id: str
    version: int
    content_hash: str
    title: str | None = None
    description: str | None = None
    created_at: datetime
    created: bool | None = Field(
        default=None, description="On publish: False when identical content existed already."
    )
    document: dict[str, Any] | None = None


class Approval(_Model):
    """An approval of the inbox; after a decision ``resume_run_id`` is the resumed run."""

    approval_id: str
    thread_id: str
    run_id: str | None = None
    workflow_id: str
    node: str
    prompt: str
    decisions: list[str]
    editable: list[str] = Field(default_factory=list)
    show: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None
    status: str
    decision: dict[str, Any] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    resume_run_id: str | None = None
    expires_at: datetime | None = None
    on_timeout: Any = None
    created_at: datetime
    thread_metadata: dict[str, Any] = Field(default_factory=dict)


class Health(_Model):
    """``GET /healthz``: the process answers."""

    status: str


class Readiness(_Model):
    """``GET /readyz``: whether every dependency is reachable, with each check."""

    ready: bool
    checks: dict[str, Any] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)
    detail: str | None = None


class OpsFigures(_Model):
    """Counts of one workflow, or of all of a tenant's workflows."""

    queued: int = 0
    running: int = 0
    failed_last_hour: int = 0
    approvals_pending: int = 0


class WorkflowOps(OpsFigures):
    """One workflow's figures in an :class:`OpsSummary`."""

    workflow_id: str


class OpsSummary(_Model):
    """``GET /ops/summary``: the caller's tenant in total and per workflow.

    The figures ``/metrics`` exports: queue depth (``queued``), running runs,
    runs failed (``error``/``timeout``) within ``failed_window_seconds``, and
    pending approvals. Workflows with nothing to count are absent.
    """

    tenant: str
    failed_window_seconds: float
    total: OpsFigures
    workflows: list[WorkflowOps] = Field(default_factory=list)


class Run(_Model):
    """A run as the LangGraph Server API describes it (``assistant_id`` is the workflow id)."""

    run_id: str
    thread_id: str
    assistant_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    multitask_strategy: str | None = None
    attempts: int = 0
    error: dict[str, Any] | None = None

    @property
    def workflow_id(self) -> str:
        """The workflow the run executes."""
        return self.assistant_id

    @property
    def run_kwargs(self) -> dict[str, Any]:
        """How the run was created (``input``, ``command``, ``stream_mode``...: ``kwargs``)."""
        # Kept as an extra field: a field named ``kwargs`` clashes with the generated __init__.
        found = (self.model_extra or {}).get("kwargs")
        return found if isinstance(found, dict) else {}

    @property
    def ended(self) -> bool:
        """Whether the run reached a final status."""
        return self.status in TERMINAL_RUN_STATUSES


class Interrupt(_Model):
    """A pending interrupt; for approval gates ``value`` holds prompt and decisions."""

    id: str | None = None
    value: Any = None


class RunError(_Model):
    """Why a run failed: ``error`` is the error code."""

    error: str
    message: str


class RunOutput(_Model):
    """What a run left: the thread's values, pending interrupts or the error."""

    run_id: str | None = None
    thread_id: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    interrupts: list[Interrupt] = Field(default_factory=list)
    error: RunError | None = None

    @classmethod
    def from_body(
        cls, body: dict[str, Any], *, run_id: str | None, thread_id: str | None
    ) -> RunOutput:
        """Split a ``/wait`` or ``/join`` body (``__interrupt__``, ``__error__``) into fields."""
        values = dict(body)
        interrupts = values.pop("__interrupt__", None) or []
        error = values.pop("__error__", None)
        return cls(
            run_id=run_id,
            thread_id=thread_id,
            values=values,
            interrupts=[Interrupt.model_validate(i) for i in interrupts],
            error=RunError.model_validate(error) if error else None,
        )


class Thread(_Model):
    """A thread; ``interrupts`` maps waiting task ids to their interrupts."""

    thread_id: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: str
    values: dict[str, Any] | None = None
    interrupts: dict[str, list[Interrupt]] = Field(default_factory=dict)


class ThreadState(_Model):
    """The thread's current state: values, next nodes, tasks and interrupts."""

    values: dict[str, Any] = Field(default_factory=dict)
    next: list[str] = Field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None
    parent_checkpoint: dict[str, Any] | None = None
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    interrupts: list[Interrupt] = Field(default_factory=list)


class ProgressEvent(_Model):
    """A graphwright progress event (the ``data`` of a ``progress`` SSE event).

    ``type`` is ``run.started``, ``node.started``, ``node.finished``,
    ``node.failed``, ``node.progress``, ``map.progress``, ``approval.requested``,
    ``approval.decided``, ``run.finished`` or a type added later; ``data`` holds
    its details (``duration_ms``, ``changed``, ``error``, ``item_index``...).
    """

    type: str
    run_id: str
    thread_id: str
    workflow_id: str
    workflow_version: int | None = None
    at: datetime | None = None
    node: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class StreamEvent(BaseModel):
    """One server-sent event: its name, JSON-decoded data and id (None without one)."""

    model_config = ConfigDict(frozen=True)

    event: str
    data: Any = None
    id: str | None = None

    def progress(self) -> ProgressEvent | None:
        """The progress event this carries (None for other events or an unknown shape)."""
        if self.event != "progress" or not isinstance(self.data, dict):
            return None
        try:
            return ProgressEvent.model_validate(self.data)
        except ValueError:
            return None
