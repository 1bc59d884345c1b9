"""The approvals inbox: record gates when runs stop, decide them, expire them.

Deciding and resuming are one thing. A decision (through ``/approvals``, through
a run's ``command.resume``, or at expiry) is a resume run created by
:meth:`RunService.create`; the run-creation hook :meth:`ApprovalService.close_on_resume`
closes the approval rows it answers with the conditional update of
:meth:`ApprovalStore.decide`, inside the transaction that queues the run. So a
decision and its resume run commit together or not at all, and of concurrent
deciders exactly one wins; the others roll back and get ``approval.already_decided``.

Why one module past 400 lines: the inbox, its run hooks and the expiry sweeper
share the decision-source context and the stale/decided checks.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from graphwright.errors import (
    ApprovalError,
    GraphwrightError,
    InvalidInputError,
    NotFoundError,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.nodes.approval import parse_decision
from graphwright.runtime.background import BackgroundLoop

# The gate lookup that resume validation uses; shared so both validate alike.
from graphwright.runtime.decisions import find_gate
from graphwright.runtime.results import RunResult
from graphwright.runtime.run_request import RunRequest
from graphwright.runtime.service import RunService
from graphwright.runtime.thread_api import ThreadStateAPI
from graphwright.store.approvals import (
    ApprovalQuery,
    ApprovalRecord,
    ApprovalStore,
    NewApproval,
    already_decided,
)
from graphwright.store.runs import RunRecord

__all__ = [
    "TIMEOUT_ACTOR",
    "ApprovalService",
    "ApprovalSweeper",
    "Decided",
    "DecisionSource",
    "pending_gate",
]

log = logging.getLogger("graphwright.approvals")

TIMEOUT_ACTOR = "system:timeout"
"""``decided_by`` of approvals decided automatically at expiry."""


@dataclass(frozen=True)
class DecisionSource:
    """Who decides through :meth:`RunService.create`, for the run-creation hook."""

    actor: str
    via: str
    status: Literal["decided", "expired"] = "decided"


# Set around RunService.create by the inbox and the sweeper; read by the hook that
# runs inside that call (same task). A plain SDK resume leaves it unset.
_source: ContextVar[DecisionSource | None] = ContextVar("graphwright_decision", default=None)


@contextlib.contextmanager
def deciding_as(actor: str | None) -> Iterator[None]:
    """Record ``actor`` as who decides the approvals a ``command.resume`` answers
    (inside the block); with None, the resume value's ``by`` (or ``anonymous``) is kept."""
    if actor is None:
        yield
        return
    token = _source.set(DecisionSource(actor=actor, via="command"))
    try:
        yield
    finally:
        _source.reset(token)


@dataclass(frozen=True)
class Decided:
    """A winning decision: the approval (now decided) and the run resuming the thread."""

    approval: ApprovalRecord
    resume_run_id: str


def pending_gate(interrupt_id: str, value: Any) -> NewApproval | None:
    """The approval to record for a pending interrupt (None: not an approval gate)."""
    if not isinstance(value, Mapping) or value.get("kind") != "approval":
        return None
    timeout = value.get("timeout")
    return NewApproval(
        approval_id=interrupt_id,
        node=str(value.get("node", "")),
        prompt=str(value.get("prompt", "")),
        decisions=tuple(str(d) for d in value.get("decisions") or ()),
        editable=tuple(str(f) for f in value.get("editable") or ()),
        payload=dict(value),
        timeout=float(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
        on_timeout=value.get("on_timeout"),
    )


class ApprovalService:
    """List, get and decide approvals; the hooks that keep rows in step with runs."""

    def __init__(
        self, states: ThreadStateAPI, store: ApprovalStore, run_service: RunService
    ) -> None:
        """Read thread state through ``states``; decide by creating runs with ``run_service``."""
        self.states = states
        self.catalog = states.catalog
        self.store = store
        self.run_service = run_service
        # Called when a recorded approval has an expiry (the sweeper's wake-up).
        self.on_expiry_scheduled: list[Callable[[], None]] = []

    async def list(self, tenant: str, query: ApprovalQuery) -> list[ApprovalRecord]:
        """A page of the tenant's approvals, oldest first."""
        return await self.store.list(tenant, query)

    async def get(self, tenant: str, approval_id: str) -> ApprovalRecord:
        """One approval.

        Raises:
            NotFoundError: ``approval.not_found``.
        """
        return await self.store.get(tenant, approval_id)

    async def decide(
        self,
        tenant: str,
        approval_id: str,
        *,
        decision: str,
        comment: str | None = None,
        edits: Mapping[str, Any] | None = None,
        by: str | None = None,
    ) -> Decided:
        """Decide a pending approval and queue the run that resumes its thread.

        The decision is validated against the gate first; nothing changes when it
        is refused.

        Raises:
            NotFoundError: ``approval.not_found``.
            ApprovalError: ``approval.invalid_decision`` / ``approval.invalid_edit``.
            WorkflowConflictError: ``approval.already_decided`` (another decision
                won), ``approval.stale`` (the thread is no longer at this gate;
                the approval is cancelled).
        """
        record = await self.store.get(tenant, approval_id)
        if record.status != "pending":
            raise already_decided(record)
        answer: dict[str, Any] = {"decision": decision}
        if comment is not None:
            answer["comment"] = comment
        if edits:
            answer["edits"] = dict(edits)
        if by is not None:
            answer["by"] = by
        await self._validate(tenant, record, answer)
        run = await self._resume(
            tenant, record, answer, DecisionSource(actor=by or "anonymous", via="api")
        )
        return Decided(await self.store.get(tenant, approval_id), run.run_id)

    async def expire(self, record: ApprovalRecord) -> str | None:
        """Decide an expired approval with its ``on_timeout``; the resume run id, or None.

        None when another decision won, or when the approval cannot be answered
        any more (it is then cancelled, with the reason in the audit log).
        """
        answer = _as_answer(record.on_timeout)
        answer["by"] = TIMEOUT_ACTOR
        source = DecisionSource(actor=TIMEOUT_ACTOR, via="timeout", status="expired")
        try:
            run = await self._resume(record.tenant_id, record, answer, source)
        except WorkflowConflictError as exc:
            log.info("approval %s not expired: %s", record.approval_id, exc)
            return None
        except (ApprovalError, RunStateError, NotFoundError, InvalidInputError) as exc:
            log.warning("approval %s cannot expire: %s", record.approval_id, exc)
            await self.store.cancel(
                record.tenant_id, record.approval_id, actor=TIMEOUT_ACTOR, reason=exc.to_dict()
            )
            return None
        return run.run_id

    # -- hooks -----------------------------------------------------------------------

    async def record_run_end(self, run: RunRecord, result: RunResult) -> None:
        """Worker hook: make the thread's pending approval rows match its pending gates.

        When the gates cannot be read (a workflow error), that is logged and the
        rows are left alone: the run's outcome is checkpointed already and must not
        be run again for bookkeeping. Database errors propagate (the run is then
        finished by whichever worker re-claims it).
        """
        try:
            if result.status != "interrupted":
                loaded = await self.catalog.load(
                    run.tenant_id, run.assistant_id, run.workflow_version
                )
                if not _has_gates(loaded.compiled):
                    return  # a workflow without approval gates has no rows to sync
            pending, keep = await self._gates(run, result)
        except GraphwrightError as exc:
            log.error("run %s: cannot read its approval gates: %s", run.run_id, exc)
            return
        synced = await self.store.sync_thread(
            run.tenant_id,
            run.thread_id,
            run_id=run.run_id,
            workflow_id=run.assistant_id,
            pending=pending,
            keep=keep,
        )
        if any(r.expires_at is not None for r in synced.created):
            for wake in self.on_expiry_scheduled:
                wake()

    async def close_on_resume(
        self, conn: psycopg.AsyncConnection[Any], tenant: str, run: RunRecord
    ) -> None:
        """Run-creation hook: decide the approvals a ``command.resume`` answers.

        ``resume`` is a mapping by approval (interrupt) id, or a plain value for
        the thread's single pending approval.

        Raises:
            WorkflowConflictError: ``approval.already_decided``; the run is not created.
        """
        command = run.payload.command
        if command is None or not command.has_resume:
            return
        resume = command.resume
        targets: dict[str, Any] = {}
        if isinstance(resume, Mapping) and resume:
            keys = [str(k) for k in resume]
            for record in await self.store.on_thread(
                conn, tenant, run.thread_id, approval_ids=keys
            ):
                if record.status != "pending":
                    raise already_decided(record)
                targets[record.approval_id] = resume[record.approval_id]
        if not targets:
            pending = await self.store.on_thread(conn, tenant, run.thread_id, status="pending")
            if len(pending) == 1:
                targets[pending[0].approval_id] = resume
            elif not pending and await self.store.has_unconsumed_decision(
                conn, tenant, run.thread_id, run_id=run.run_id
            ):
                # The gate was decided and its resume run has not run yet: a second
                # answer would be applied to whatever gate comes next.
                raise WorkflowConflictError(
                    f"the approval pending on thread {run.thread_id!r} is already decided",
                    code="approval.already_decided",
                    details={"thread_id": run.thread_id},
                )
        source = _source.get()
        for approval_id, value in targets.items():
            answer = _as_answer(value)
            by = answer.get("by")
            await self.store.decide(
                conn,
                tenant,
                approval_id,
                decision=answer,
                actor=source.actor if source else (by if isinstance(by, str) else "anonymous"),
                resume_run_id=run.run_id,
                status=source.status if source else "decided",
                via=source.via if source else "command",
            )

    # -- internals -------------------------------------------------------------------

    async def _gates(
        self, run: RunRecord, result: RunResult
    ) -> tuple[builtins.list[NewApproval], builtins.list[str]]:
        """The gates to record and the approval ids to keep pending after a run."""
        if result.status == "interrupted":
            pending: builtins.list[NewApproval] = []
            for interrupt in result.interrupts:
                gate = pending_gate(str(interrupt["id"]), interrupt["value"])
                if gate is not None:
                    pending.append(await self._with_timeout(run, gate))
            return pending, []
        if result.status == "failed":
            # A failed run records no gate, but rows still pending in the checkpoint
            # (a branch that failed beside a waiting gate) stay pending.
            state = await self.states.get_state(run.tenant_id, run.thread_id)
            return [], [str(i["id"]) for i in state.interrupts]
        return [], []

    async def _with_timeout(self, run: RunRecord, gate: NewApproval) -> NewApproval:
        """Fill the gate's timeout from its spec when its interrupt value has none."""
        if "timeout" in gate.payload:
            return gate
        loaded = await self.catalog.load(run.tenant_id, run.assistant_id, run.workflow_version)
        workflow = str(gate.payload.get("workflow") or run.assistant_id)
        found = find_gate(loaded.compiled, workflow, gate.node)
        if found is None:
            return gate
        timeout = getattr(found[0], "timeout", None)
        on_timeout = getattr(found[0], "on_timeout", None)
        return dataclasses.replace(gate, timeout=timeout, on_timeout=on_timeout)

    async def _validate(self, tenant: str, record: ApprovalRecord, answer: Any) -> None:
        try:
            thread = await self.states.threads.get(tenant, record.thread_id)
        except NotFoundError as exc:
            raise await self._stale(tenant, record, exc) from exc
        loaded = await self.catalog.load(
            tenant, thread.workflow_id or record.workflow_id, thread.workflow_version
        )
        workflow = str(record.payload.get("workflow") or record.workflow_id)
        found = find_gate(loaded.compiled, workflow, record.node)
        if found is not None:
            parse_decision(answer, found[0], found[1])
        elif answer.get("decision") not in record.decisions:
            raise ApprovalError(
                f"decision {answer.get('decision')!r} is not one of {', '.join(record.decisions)}",
                details={"allowed": record.decisions},
            )

    async def _resume(
        self, tenant: str, record: ApprovalRecord, answer: Any, source: DecisionSource
    ) -> RunRecord:
        modes: tuple[str, ...] = ("values",)
        try:  # the resume run streams what the interrupted run streamed
            interrupted = await self.run_service.runs.get(tenant, record.run_id)
            modes = interrupted.payload.stream_mode
        except NotFoundError:
            pass
        request = RunRequest(
            assistant_id=record.workflow_id,
            command={"resume": {record.approval_id: answer}},
            metadata={"approval_id": record.approval_id},
            multitask_strategy="enqueue",
            stream_mode=modes,
        )
        token = _source.set(source)
        try:
            return await self.run_service.create(tenant, record.thread_id, request)
        except (ApprovalError, RunStateError, NotFoundError) as exc:
            # RunService validates against the thread's current interrupts: when the
            # gate was answered meanwhile it refuses before our hook could say so.
            current = await self.store.get(tenant, record.approval_id)
            if current.status != "pending":
                raise already_decided(current) from exc
            if not await self._still_pending(tenant, record):
                raise await self._stale(tenant, record, exc) from exc
            raise
        finally:
            _source.reset(token)

    async def _still_pending(self, tenant: str, record: ApprovalRecord) -> bool:
        try:
            state = await self.states.get_state(tenant, record.thread_id)
        except NotFoundError:
            return False
        return any(str(i["id"]) == record.approval_id for i in state.interrupts)

    async def _stale(
        self, tenant: str, record: ApprovalRecord, cause: GraphwrightError
    ) -> WorkflowConflictError:
        await self.store.cancel(
            tenant, record.approval_id, actor="system:stale", reason=cause.to_dict()
        )
        return WorkflowConflictError(
            f"approval {record.approval_id!r} can no longer be answered: the thread is not "
            "waiting at this gate any more (the approval is cancelled)",
            code="approval.stale",
            details={"approval_id": record.approval_id, "cause": cause.to_dict()},
        )


class ApprovalSweeper(BackgroundLoop):
    """Decides expired approvals with their ``on_timeout``, in the background.

    Sleeps until the next expiry (or :meth:`wake`), never longer than
    ``idle_seconds`` so that approvals recorded by other processes are seen too.
    """

    task_name = "graphwright-approval-sweeper"

    def __init__(
        self,
        approvals: ApprovalService,
        *,
        batch: int = 50,
        lease_seconds: float = 60.0,
        idle_seconds: float = 30.0,
    ) -> None:
        self.approvals = approvals
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self.expired = 0
        self._wake = asyncio.Event()
        super().__init__()

    def wake(self) -> None:
        """Look again now (an approval with an expiry was recorded)."""
        self._wake.set()

    async def sweep(self) -> int:
        """Decide the approvals due now (one batch); returns how many were claimed."""
        claimed = await self.approvals.store.claim_due(
            lease_seconds=self.lease_seconds, limit=self.batch
        )
        for record in claimed:
            try:
                if await self.approvals.expire(record) is not None:
                    self.expired += 1
            except (psycopg.Error, GraphwrightError) as exc:
                # The claim lease lapses and a sweeper (this one or another) retries.
                log.error("approval %s: expiry failed: %s", record.approval_id, exc)
        return len(claimed)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            timeout = self.idle_seconds
            try:
                self._wake.clear()
                while await self.sweep() >= self.batch:
                    pass
                due = await self.approvals.store.next_expiry()
                if due is not None:
                    left = (due - dt.datetime.now(dt.UTC)).total_seconds()
                    timeout = max(0.05, min(self.idle_seconds, left))
                delay = 0.5
            except psycopg.Error as exc:
                log.warning("approval sweeper: %s; retrying in %.1fs", exc, delay)
                timeout, delay = delay, min(delay * 2, self.idle_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


def _as_answer(value: Any) -> dict[str, Any]:
    """An answer as the decision object a gate records (``"approve"`` -> ``{"decision": ...}``)."""
    if isinstance(value, Mapping):
        return dict(value)
    return {"decision": value}


def _has_gates(compiled: Any) -> bool:
    """Whether a compiled workflow (or any subworkflow it runs) has an approval node."""
    from graphwright.graphs.spec import ApprovalNodeSpec

    stack = [compiled]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if any(isinstance(n, ApprovalNodeSpec) for n in current.spec.nodes.values()):
            return True
        stack.extend(current.subworkflows.values())
    return False
