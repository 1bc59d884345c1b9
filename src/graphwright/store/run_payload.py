"""What a run executes: the one typed record the API writes and the executor reads.

A run row's ``payload`` column holds a :class:`RunPayload` as JSON. Every entry
point (HTTP, the embedding ``Engine``, approvals, the expiry sweeper) builds one,
and the executor reads nothing else, so an option cannot be lost on the way.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CommandPayload", "RunPayload"]


class CommandPayload(BaseModel):
    """LangGraph's ``Command`` for a run: resume interrupts, update state, go to nodes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resume: Any = None
    update: dict[str, Any] | None = None
    goto: str | list[str] | None = None
    has_resume: bool = Field(default=False, description="``resume`` was given (even as null).")


class RunPayload(BaseModel):
    """How to execute one run.

    Attributes:
        input: Values of the workflow's input fields (None with a command, or to continue).
        command: Resume / update / goto, instead of input.
        stream_mode: API stream modes the run's clients asked for.
        stream_subgraphs: Also stream chunks of subgraphs.
        interrupt_before: Nodes (or ``"*"``) to pause before.
        interrupt_after: Nodes (or ``"*"``) to pause after.
        checkpoint_id: Start from this checkpoint (fork) instead of the latest.
        durability: LangGraph durability; None for the deployment's default.
        configurable: The client's ``config.configurable``; merged under graphwright's
            own keys (thread id, run id, tenant), which it cannot override.
        tags: The client's ``config.tags``.
        recursion_limit: The client's ``config.recursion_limit`` (never above the
            workflow's ``limits.max_steps``).
        context: The client's runtime context (``RunContext.values`` in node code).
        stateless: The run's thread was created for it alone.
        on_completion: For stateless runs: ``delete`` the thread afterwards, or ``keep``.
        new_thread: Queued on a thread created with it: no checkpoint exists to read.
        webhook: URL the run's result is POSTed to when it ends (an outbox row is
            written with the end: migration 0013).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    input: dict[str, Any] | None = None
    command: CommandPayload | None = None
    stream_mode: tuple[str, ...] = ("values",)
    stream_subgraphs: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint_id: str | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    configurable: dict[str, Any] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    recursion_limit: int | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    stateless: bool = False
    on_completion: Literal["delete", "keep"] = "delete"
    new_thread: bool = False
    webhook: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The column value."""
        return self.model_dump(mode="json", exclude_defaults=True)
