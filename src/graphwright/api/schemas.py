"""Request bodies of the LangGraph Server API routes, and response shaping."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphwright.runtime.run_request import RunRequest
from graphwright.store.runs import RunRecord

__all__ = ["CommandBody", "RunCreateBody", "run_json"]


class _Body(BaseModel):
    # Unknown keys are ignored so newer SDKs keep working; known keys are typed.
    model_config = ConfigDict(extra="ignore")


class CommandBody(_Body):
    """``command`` of a run: resume interrupts, update state, or go to nodes."""

    resume: Any = None
    update: dict[str, Any] | None = None
    goto: str | list[str] | None = None


class RunCreateBody(_Body):
    """Body of run creation (background, stream and wait)."""

    assistant_id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] | None = None
    command: CommandBody | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None = None
    if_not_exists: Literal["create", "reject"] | None = None
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    after_seconds: float | None = Field(default=None, ge=0, le=31_536_000)
    durability: Literal["sync", "async", "exit"] | None = None
    webhook: str | None = Field(
        default=None,
        max_length=2048,
        description="http(s) URL POSTed the run's result, signed, when the run ends.",
    )

    def to_request(self, *, stateless: bool = False) -> RunRequest:
        """The service-level request."""
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        command = None
        if self.command is not None:
            command = self.command.model_dump(exclude_unset=True)
            if not command:
                command = None
        checkpoint_id = self.checkpoint_id or (self.checkpoint or {}).get("checkpoint_id")
        return RunRequest(
            assistant_id=self.assistant_id,
            input=self.input,
            command=command,
            metadata=dict(self.metadata or {}),
            config=dict(self.config or {}),
            context=dict(self.context or {}),
            stream_mode=tuple(modes or ["values"]),
            stream_subgraphs=self.stream_subgraphs,
            stream_resumable=self.stream_resumable,
            interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after,
            checkpoint_id=checkpoint_id,
            multitask_strategy=self.multitask_strategy or ("enqueue" if stateless else "reject"),
            if_not_exists=self.if_not_exists or "reject",
            on_disconnect=self.on_disconnect or ("cancel" if stateless else "continue"),
            on_completion=self.on_completion or "delete",
            after_seconds=self.after_seconds or 0,
            durability=self.durability,
            webhook=self.webhook,
        )


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as the LangGraph Server API returns it."""
    payload = run.payload
    return {
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": run.created_at.isoformat(),
        "updated_at": run.updated_at.isoformat(),
        "status": run.status,
        "metadata": run.metadata,
        "multitask_strategy": run.multitask_strategy,
        "kwargs": {
            "input": payload.input,
            "command": None
            if payload.command is None
            else payload.command.model_dump(exclude={"has_resume"}, exclude_none=True),
            "config": {"configurable": payload.configurable, "tags": list(payload.tags)},
            "context": payload.context,
            "stream_mode": list(payload.stream_mode),
            "interrupt_before": payload.interrupt_before,
            "interrupt_after": payload.interrupt_after,
            "webhook": payload.webhook,
        },
        "attempts": run.attempts,
        "error": run.error,
    }
