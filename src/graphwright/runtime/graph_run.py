"""One invocation of a workflow's LangGraph graph: config, stream, events, end state.

:class:`GraphRun` knows nothing of leases, rows or processes; the executor
(:mod:`graphwright.runtime.executor`) wraps it in those.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import psycopg
from langgraph.errors import GraphBubbleUp, GraphRecursionError
from langgraph.types import Command

from graphwright.nodes.context import RunContext, SecretSource, redactor_of
from graphwright.nodes.policies import describe
from graphwright.nodes.rate_limit import RateLimitGate
from graphwright.runtime.catalog import LoadedWorkflow
from graphwright.runtime.checkpoints import thread_key
from graphwright.runtime.events import EventTranslator, RunIdentity
from graphwright.runtime.history import Snapshot
from graphwright.runtime.results import PendingApproval, RunEvent, RunResult
from graphwright.runtime.serialize import jsonable
from graphwright.store.checkpoints import FENCE_SQLSTATE
from graphwright.store.pool import OUTAGE_ERRORS
from graphwright.store.run_payload import RunPayload

__all__ = ["STREAM_MODES", "ChunkSink", "GraphRun", "LeaseLost", "graph_input", "result_of"]


class LeaseLost(Exception):
    """A checkpoint write was refused: another process holds the run's lease now."""


# API stream mode -> (LangGraph stream mode, SSE event name)
STREAM_MODES: dict[str, tuple[str, str]] = {
    "values": ("values", "values"),
    "updates": ("updates", "updates"),
    "custom": ("custom", "custom"),
    "debug": ("debug", "debug"),
    "tasks": ("tasks", "tasks"),
    "checkpoints": ("checkpoints", "checkpoints"),
    "messages-tuple": ("messages", "messages"),
    "messages": ("messages", "messages"),
}

ChunkSink = Callable[[tuple[str, ...], str, Any], Awaitable[None]]
"""Receives ``(namespace, mode, chunk)`` of the stream modes a client asked for."""

_OWN_MODES = ("tasks", "custom", "checkpoints")
# Keys of ``configurable`` that graphwright sets and a client cannot override.
RESERVED_CONFIGURABLE = frozenset({"thread_id", "run_id", "checkpoint_id", "checkpoint_ns"})


def graph_input(loaded: LoadedWorkflow, payload: RunPayload, *, fresh: bool) -> Any:
    """LangGraph's input for a run: a ``Command``, the checked input, or None (continue).

    A run without input on a thread that has no checkpoint yet starts the workflow
    with no input values (every field at its default), as an empty input would.

    Raises:
        InvalidInputError: the input does not fit the workflow.
    """
    command = payload.command
    if command is not None:
        return Command(resume=command.resume, update=command.update, goto=command.goto or ())
    if payload.input is not None or fresh:
        return loaded.compiled.make_input(payload.input or {}, fresh=fresh)
    return None


class GraphRun:
    """Stream one run of ``loaded`` on a thread, translating chunks into :class:`RunEvent`.

    After :meth:`events` is exhausted, :attr:`error` holds the run's failure (a
    node's coded error, or the step limit), if any.
    """

    def __init__(
        self,
        loaded: LoadedWorkflow,
        graph: Any,
        *,
        tenant: str,
        thread_id: str,
        run_id: str,
        lg_input: Any,
        payload: RunPayload,
        durability: str,
        modes: dict[str, str] | None = None,
        on_chunk: ChunkSink | None = None,
        max_state_bytes: int | None = None,
        secrets: SecretSource | None = None,
        rate_limits: RateLimitGate | None = None,
    ) -> None:
        """Prepare the run; ``modes`` maps LangGraph stream modes sent to ``on_chunk``.

        ``secrets`` is the run's access to its tenant's secrets (node code reads
        them through it; the run's error is redacted of them). ``rate_limits`` is
        where its nodes wait for their turn under named rate limits.
        """
        self.loaded = loaded
        self.graph = graph
        self.tenant = tenant
        self.identity = RunIdentity(run_id, thread_id, loaded.published.workflow_id, loaded.version)
        self.lg_input = lg_input
        self.payload = payload
        self.durability = payload.durability or durability
        self.modes = modes or {}
        self.on_chunk = on_chunk
        self.max_state_bytes = max_state_bytes
        self.secrets = secrets
        self.rate_limits = rate_limits
        self.error: dict[str, Any] | None = None
        self.started = False

    def config(self) -> dict[str, Any]:
        """LangGraph's config: the client's ``configurable`` under graphwright's own keys."""
        payload = self.payload
        max_steps = self.loaded.compiled.spec.limits.max_steps
        configurable: dict[str, Any] = {
            **{k: v for k, v in payload.configurable.items() if k not in RESERVED_CONFIGURABLE},
            "thread_id": thread_key(self.tenant, self.identity.thread_id),
            "run_id": self.identity.run_id,
            "gw_tenant": self.tenant,
        }
        if payload.checkpoint_id:
            configurable["checkpoint_id"] = payload.checkpoint_id
        config: dict[str, Any] = {
            "configurable": configurable,
            "recursion_limit": min(payload.recursion_limit or max_steps, max_steps),
        }
        if payload.tags:
            config["tags"] = list(payload.tags)
        return config

    async def events(self) -> AsyncIterator[RunEvent]:
        """``run.started``, then the translated events of the stream (no ``run.finished``)."""
        secrets = self.secrets
        translator = EventTranslator(
            self.identity, redactor=secrets.current if secrets is not None else None
        )
        payload = self.payload
        modes = [*_OWN_MODES, *(m for m in self.modes if m not in _OWN_MODES)]
        config = self.config()
        try:
            stream = self.graph.astream(
                self.lg_input,
                config,
                context=RunContext(
                    tenant=self.tenant,
                    run_id=self.identity.run_id,
                    values=payload.context,
                    secrets=secrets,
                    rate_limits=self.rate_limits,
                ),
                stream_mode=modes,
                subgraphs=True,
                durability=self.durability,
                interrupt_before=payload.interrupt_before,
                interrupt_after=payload.interrupt_after,
            )
            # run.started goes out with the first task, i.e. once the run's input is
            # checkpointed: a caller that stops listening after it can resume the run.
            async with aclosing(stream):
                async for namespace, mode, chunk in stream:
                    if not self.started:
                        self.started = True
                        yield self.identity.event("run.started")
                    if (
                        self.on_chunk is not None
                        and mode in self.modes
                        and (payload.stream_subgraphs or not namespace)
                    ):
                        await self.on_chunk(namespace, mode, chunk)
                    for event in translator.translate(namespace, mode, chunk):
                        yield event
                    if mode == "checkpoints" and not namespace:
                        self.error = self._state_too_large(chunk)
                        if self.error is not None:
                            break  # closing the stream stops the graph
        except GraphRecursionError as exc:
            limit = config["recursion_limit"]
            self.error = {
                "code": "run.step_limit",
                "message": f"run exceeded its step limit ({limit}): {exc}",
                "details": {"max_steps": limit},
            }
        except GraphBubbleUp:
            raise  # control flow of LangGraph, never a node failure
        except OUTAGE_ERRORS:
            raise  # the checkpointer lost the database: an outage, not a node failure
        except psycopg.Error as exc:
            if exc.sqlstate == FENCE_SQLSTATE:
                raise LeaseLost(self.identity.run_id) from exc
            self.error = describe(exc)
        except Exception as exc:  # noqa: BLE001 - any node failure ends the run failed, coded
            self.error = describe(exc)
        if self.error is not None:
            # The run's error goes to the run and thread rows, events, results and logs.
            self.error = (await redactor_of(secrets)).error(self.error)
        if not self.started:
            self.started = True
            yield self.identity.event("run.started")

    def _state_too_large(self, chunk: Any) -> dict[str, Any] | None:
        """The error for a checkpoint whose state exceeds ``max_state_bytes``, if it does."""
        if self.max_state_bytes is None or not isinstance(chunk, dict):
            return None
        values = chunk.get("values")
        size = len(json.dumps(jsonable(values), separators=(",", ":")).encode())
        if size <= self.max_state_bytes:
            return None
        return {
            "code": "run.state_too_large",
            "message": f"the run's state grew to {size} bytes, over the limit of "
            f"{self.max_state_bytes} (GW_MAX_STATE_BYTES)",
            "details": {"bytes": size, "max_state_bytes": self.max_state_bytes},
        }


def result_of(
    loaded: LoadedWorkflow, identity: RunIdentity, snapshot: Snapshot, error: dict[str, Any] | None
) -> RunResult:
    """How a run ended, from the thread's latest checkpoint and the run's error."""
    values = loaded.compiled.state.dump(snapshot.values)
    approvals = tuple(PendingApproval.from_interrupt(i.id, i.value) for i in snapshot.interrupts)
    status: Any = "completed"
    if error is not None:
        status = "failed"
    elif snapshot.interrupts:
        status = "interrupted"
    interrupted = status == "interrupted"
    return RunResult(
        run_id=identity.run_id,
        thread_id=identity.thread_id,
        workflow_id=identity.workflow_id,
        workflow_version=identity.workflow_version,
        status=status,
        output=loaded.compiled.output(values),
        values=values,
        approvals=approvals if interrupted else (),
        error=error,
        interrupts=tuple({"value": jsonable(i.value), "id": i.id} for i in snapshot.interrupts)
        if interrupted
        else (),
    )
