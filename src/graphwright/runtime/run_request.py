"""A request to start a run, as every entry point states it, and its checks.

HTTP bodies, the embedding ``Engine``, approval decisions and the expiry
sweeper all build a :class:`RunRequest`; :func:`check_request` refuses what
cannot be honoured (with a pointer per problem) and :func:`run_payload` turns it
into the typed :class:`~graphwright.store.run_payload.RunPayload` of the run row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphwright.errors import InvalidInputError
from graphwright.runtime.graph_run import RESERVED_CONFIGURABLE, STREAM_MODES
from graphwright.store.run_payload import CommandPayload, RunPayload

__all__ = ["STRATEGIES", "RunRequest", "check_request", "run_payload"]

STRATEGIES = frozenset({"reject", "enqueue", "interrupt", "rollback"})


@dataclass(frozen=True)
class RunRequest:
    """A validated request to start a run (the LangGraph Server API run options)."""

    assistant_id: str
    input: dict[str, Any] | None = None
    command: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    stream_mode: tuple[str, ...] = ("values",)
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Any = None
    interrupt_after: Any = None
    checkpoint_id: str | None = None
    multitask_strategy: str = "reject"
    if_not_exists: str = "reject"
    on_disconnect: str = "continue"
    on_completion: str = "delete"
    after_seconds: float = 0
    durability: str | None = None
    thread_metadata: dict[str, Any] = field(default_factory=dict)
    """Metadata of the thread when the run creates it."""
    version: int | None = None
    """Workflow version for a new (or unbound) thread; default: the latest."""
    webhook: str | None = None
    """URL POSTed the run's result when it ends (checked by ``RunService.create``)."""


def check_request(request: RunRequest) -> None:
    """Refuse a request with every problem at its pointer (``run.invalid_request``)."""
    problems: list[dict[str, str]] = []
    if request.input is not None and request.command:
        problems.append({"pointer": "/command", "message": "give either input or command"})
    for index, mode in enumerate(request.stream_mode):
        if mode not in STREAM_MODES and mode != "progress":
            allowed = ", ".join([*STREAM_MODES, "progress"])
            problems.append(
                {
                    "pointer": f"/stream_mode/{index}",
                    "message": f"unsupported stream mode {mode!r} (supported: {allowed})",
                }
            )
    problems.extend(_config_problems(request.config))
    if request.multitask_strategy not in STRATEGIES:
        problems.append(
            {
                "pointer": "/multitask_strategy",
                "message": "reject, enqueue, interrupt or rollback",
            }
        )
    if problems:
        raise InvalidInputError(
            f"invalid run request at {problems[0]['pointer']}: {problems[0]['message']}",
            code="run.invalid_request",
            details={"problems": problems},
        )


def run_payload(request: RunRequest, *, stateless: bool, new_thread: bool) -> RunPayload:
    """The typed payload of a run row for ``request``."""
    config = request.config or {}
    configurable = dict(config.get("configurable") or {})
    command = None
    if request.command:
        command = CommandPayload(
            resume=request.command.get("resume"),
            update=request.command.get("update"),
            goto=request.command.get("goto"),
            has_resume="resume" in request.command,
        )
    return RunPayload(
        input=request.input,
        command=command,
        stream_mode=tuple(request.stream_mode),
        stream_subgraphs=request.stream_subgraphs,
        interrupt_before=request.interrupt_before,
        interrupt_after=request.interrupt_after,
        checkpoint_id=request.checkpoint_id or configurable.get("checkpoint_id"),
        durability=request.durability,
        configurable={k: v for k, v in configurable.items() if k not in RESERVED_CONFIGURABLE},
        tags=tuple(config.get("tags") or ()),
        recursion_limit=config.get("recursion_limit"),
        context=request.context,
        stateless=stateless,
        on_completion=request.on_completion,
        new_thread=new_thread,
        webhook=request.webhook,
    )


_CONFIG_KEYS = frozenset({"configurable", "tags", "recursion_limit", "metadata", "callbacks"})


def _config_problems(config: dict[str, Any] | None) -> list[dict[str, str]]:
    """Problems of a run's ``config``: options graphwright cannot honour are refused."""
    problems: list[dict[str, str]] = []
    for key, value in (config or {}).items():
        pointer = f"/config/{key}"
        if key not in _CONFIG_KEYS:
            problems.append(
                {
                    "pointer": pointer,
                    "message": f"config option {key!r} is not supported "
                    "(supported: configurable, tags, recursion_limit)",
                }
            )
        elif key == "configurable" and not isinstance(value, dict):
            problems.append({"pointer": pointer, "message": "must be an object"})
        elif key == "tags" and (
            not isinstance(value, list) or not all(isinstance(t, str) for t in value)
        ):
            problems.append({"pointer": pointer, "message": "must be a list of strings"})
        elif key == "recursion_limit" and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            problems.append({"pointer": pointer, "message": "must be a positive integer"})
        elif key in ("metadata", "callbacks") and value not in (None, {}, []):
            problems.append(
                {
                    "pointer": pointer,
                    "message": f"config.{key} is not supported"
                    + ("; use the run's metadata" if key == "metadata" else ""),
                }
            )
    return problems
