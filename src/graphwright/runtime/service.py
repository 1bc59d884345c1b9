"""The run service: what the HTTP API does with runs, independent of HTTP.

Creating a run validates everything first (assistant, thread, input, decision,
stream modes), then, in one transaction that locks the thread, applies the
multitask strategy and queues the run. Waiting and streaming read the durable
event log and follow the live bus; nothing here holds run state in memory.

Following runs lives in :mod:`graphwright.runtime.streams`; the request and its
checks in :mod:`graphwright.runtime.run_request`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import psycopg

from graphwright.errors import (
    NotFoundError,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.runtime.bus import InProcessBus, Subscription
from graphwright.runtime.catalog import Catalog, LoadedWorkflow
from graphwright.runtime.decisions import resume_value
from graphwright.runtime.run_request import RunRequest, check_request, run_payload
from graphwright.runtime.serialize import wait_body
from graphwright.runtime.streams import TERMINAL, thread_channel
from graphwright.runtime.thread_api import ThreadStateAPI
from graphwright.runtime.webhook_targets import check_webhook
from graphwright.runtime.writer import run_channel
from graphwright.settings import Settings
from graphwright.store.events import EventLog
from graphwright.store.pool import Pool
from graphwright.store.runs import NewRun, RunRecord, RunStore
from graphwright.store.threads import ThreadStore

if TYPE_CHECKING:
    from graphwright.runtime.worker import WorkerPool

__all__ = ["RunRequest", "RunService"]

OnResume = Callable[[psycopg.AsyncConnection[Any], str, RunRecord], Awaitable[None]]


class RunService:
    """Create, cancel, wait for and follow runs."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        threads: ThreadStore,
        states: ThreadStateAPI,
        runs: RunStore,
        events: EventLog,
        bus: InProcessBus,
        pool: Pool,
        settings: Settings,
        owner: str,
    ) -> None:
        """Create runs through the stores; ``owner`` is this process's executor identity."""
        self.catalog = catalog
        self.threads = threads
        self.states = states
        self.owner = owner
        self.runs = runs
        self.events = events
        self.bus = bus
        self.pool = pool
        self.settings = settings
        self.local_workers: WorkerPool | None = None
        """This process's run slots, if any: runs on new threads may start there directly."""
        self.on_resume: list[OnResume] = []
        """Called for runs created with ``command.resume``, in the creating transaction."""

    # -- create ----------------------------------------------------------------------

    async def create(
        self,
        tenant: str,
        thread_id: str | None,
        request: RunRequest,
        *,
        run_id: str | None = None,
        here: bool = False,
    ) -> RunRecord:
        """Validate and queue a run; ``thread_id=None`` runs on a new temporary thread.

        ``run_id`` is generated unless given (a caller that subscribes to the
        run's channel before creating it). With ``here``, the run is not queued
        but claimed for this process's executor (the embedding ``Engine``), and a
        busy thread is refused with ``thread.busy`` whatever the strategy.

        Raises:
            NotFoundError: unknown assistant (``workflow.not_found``) or thread.
            InvalidInputError / ApprovalError: bad input or decision (nothing queued).
            WorkflowConflictError: ``run.busy`` (strategy reject), ``thread.workflow_mismatch``.
        """
        check_request(request)
        if request.webhook is not None:
            await check_webhook(request.webhook, self.settings)
        loaded = await self.catalog.load(tenant, request.assistant_id, request.version)
        stateless = thread_id is None
        thread_id = thread_id or str(uuid.uuid4())
        run_id = run_id or str(uuid.uuid4())
        if (stateless or request.if_not_exists == "create") and not request.command:
            run = await self._create_on_new_thread(
                tenant, thread_id, run_id, request, loaded, stateless=stateless, here=here
            )
            if run is not None:
                return run
        try:
            thread = await self.threads.get(tenant, thread_id)
        except NotFoundError:
            if not stateless and request.if_not_exists != "create":
                raise
            thread = await self.threads.create(
                tenant,
                thread_id,
                workflow_id=None,
                workflow_version=None,
                metadata=request.thread_metadata,
            )
        if thread.workflow_id not in (None, request.assistant_id):
            raise WorkflowConflictError(
                f"thread {thread_id!r} runs {thread.workflow_id!r}, not {request.assistant_id!r}",
                code="thread.workflow_mismatch",
                details={"thread_id": thread_id, "workflow_id": thread.workflow_id},
            )
        version = thread.workflow_version or loaded.version
        if version != loaded.version:
            loaded = await self.catalog.load(tenant, request.assistant_id, version)
        if request.input is not None:
            loaded.compiled.make_input(request.input)  # validation only: raises early
        elif not request.command and thread.workflow_id is None:
            loaded.compiled.make_input({})  # a first run without input: required fields?
        if request.command and "resume" in request.command:
            state = await self.states.get_state(tenant, thread_id)
            if not state.interrupts:
                raise RunStateError(
                    f"thread {thread_id!r} has no pending interrupt to resume",
                    code="run.nothing_to_resume",
                )
            pending = [_Pending(i["id"], i["value"]) for i in state.interrupts]
            resume_value(loaded.compiled, pending, request.command["resume"])
        async with self.pool.connection() as conn, conn.transaction():
            await self.threads.bind(
                conn,
                tenant,
                thread_id,
                workflow_id=request.assistant_id,
                workflow_version=version,
            )
            active = await self.runs.active_on_thread(conn, tenant, thread_id)
            if active and here:
                raise WorkflowConflictError(
                    f"thread {thread_id!r} is busy with run {active[0].run_id!r}",
                    code="thread.busy",
                    details={"thread_id": thread_id, "run_id": active[0].run_id},
                )
            if active and request.multitask_strategy == "reject":
                raise WorkflowConflictError(
                    f"thread {thread_id!r} is busy with run {active[0].run_id!r}; use "
                    "multitask_strategy enqueue, interrupt or rollback",
                    code="run.busy",
                    details={"thread_id": thread_id, "run_id": active[0].run_id},
                )
            if request.multitask_strategy in ("interrupt", "rollback"):
                for other in active:
                    await self.runs.request_cancel(
                        conn, tenant, other.run_id, request.multitask_strategy
                    )
            run = await self.runs.insert(
                conn,
                tenant,
                self._new_run(request, run_id, thread_id, version, stateless, False),
                owner=self.owner if here else None,
                lease_seconds=self.settings.lease_seconds,
            )
            if request.command and "resume" in request.command:
                for hook in self.on_resume:
                    await hook(conn, tenant, run)
        await self.bus.publish(thread_channel(tenant, thread_id), {"run_id": run.run_id})
        return run

    async def _create_on_new_thread(
        self,
        tenant: str,
        thread_id: str,
        run_id: str,
        request: RunRequest,
        loaded: LoadedWorkflow,
        *,
        stateless: bool,
        here: bool,
    ) -> RunRecord | None:
        """Create the thread, bound to the workflow, and queue the run, in one statement.

        Returns None (nothing written) when the thread exists: the caller takes
        the general path. A new thread has no runs to wait for and no followers
        to tell, and a run that fails validation leaves no thread behind.
        """
        if request.input is not None or not request.command:
            loaded.compiled.make_input(request.input or {})  # validation only: raises early
        new = self._new_run(request, run_id, thread_id, loaded.version, stateless, True)
        if here:
            return await self.runs.insert_on_new_thread(
                tenant, new, owner=self.owner, lease_seconds=self.settings.lease_seconds
            )
        # An idle run slot of this process takes the run at once: no queue round trip.
        workers = self.local_workers
        slot = None
        if workers is not None and not request.after_seconds:
            slot = workers.reserve_slot()
        if workers is None or slot is None:
            return await self.runs.insert_on_new_thread(tenant, new)
        run: RunRecord | None = None
        try:
            run = await self.runs.insert_on_new_thread(
                tenant, new, owner=self.owner, lease_seconds=self.settings.lease_seconds
            )
            return run
        finally:
            if not slot.done():  # a slot cancelled meanwhile leaves the run to lease expiry
                slot.set_result(run)  # None lets the slot look in the queue

    def _new_run(
        self,
        request: RunRequest,
        run_id: str,
        thread_id: str,
        version: int,
        stateless: bool,
        new_thread: bool,
    ) -> NewRun:
        """The row of a new run."""
        return NewRun(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=request.assistant_id,
            workflow_version=version,
            payload=run_payload(request, stateless=stateless, new_thread=new_thread),
            metadata=request.metadata,
            thread_metadata=request.thread_metadata,
            multitask_strategy=request.multitask_strategy,
            max_attempts=self.settings.run_max_attempts,
            after_seconds=request.after_seconds,
        )

    # -- cancel ---------------------------------------------------------------------

    async def cancel(
        self, tenant: str, thread_id: str, run_id: str, *, action: str = "interrupt"
    ) -> RunRecord:
        """Ask a pending or running run to stop (``interrupt`` keeps progress, ``rollback`` undoes).

        Raises:
            NotFoundError: ``run.not_found``.
            WorkflowConflictError: ``run.not_active`` when the run already ended.
        """
        run = await self.runs.get(tenant, run_id, thread_id=thread_id)
        async with self.pool.connection() as conn, conn.transaction():
            updated = await self.runs.request_cancel(conn, tenant, run_id, action)
        if updated is None:
            raise WorkflowConflictError(
                f"run {run_id!r} is {run.status}; only pending or running runs can be cancelled",
                code="run.not_active",
                details={"run_id": run_id, "status": run.status},
            )
        if updated.status == "interrupted" and action == "rollback":
            await self.runs.delete(tenant, run_id)
        if updated.status == "interrupted":
            thread = await self.threads.get(tenant, thread_id)
            if thread.status == "running" and thread.run_id == run_id:
                await self.threads.mark(tenant, thread_id, status="idle")
            await self.bus.publish(
                run_channel(tenant, run_id), {"done": True, "status": "interrupted"}
            )
        return updated

    # -- wait ----------------------------------------------------------------------

    async def wait_done(
        self, tenant: str, run_id: str, *, thread_id: str | None = None
    ) -> RunRecord:
        """Wait until a run ends (pushed by the bus; re-checked at each heartbeat)."""
        sub = self.bus.subscribe(run_channel(tenant, run_id), ends_only=True)
        try:
            while True:
                run = await self.runs.get(tenant, run_id, thread_id=thread_id)
                if run.status in TERMINAL:
                    return run
                await self._next_done(sub)
        finally:
            sub.close()

    async def wait_body(
        self, tenant: str, run_id: str, *, thread_id: str | None = None
    ) -> dict[str, Any]:
        """Wait until a run ends; the body of ``/join``.

        Raises:
            NotFoundError: ``run.not_found``.
        """
        sub = self.bus.subscribe(run_channel(tenant, run_id), ends_only=True)
        try:
            return await self._body_at_end(tenant, run_id, sub, thread_id=thread_id)
        finally:
            sub.close()

    async def create_and_wait(
        self, tenant: str, thread_id: str | None, request: RunRequest
    ) -> tuple[RunRecord, dict[str, Any]]:
        """Queue a run and wait for it; the run and the body of ``/wait``.

        The run's channel is followed from before the run exists, so its end
        cannot be missed and the run row need not be read first.
        """
        run_id = str(uuid.uuid4())
        sub = self.bus.subscribe(run_channel(tenant, run_id), ends_only=True)
        try:
            run = await self.create(tenant, thread_id, request, run_id=run_id)
            return run, await self._body_at_end(tenant, run_id, sub, read_first=False)
        finally:
            sub.close()

    async def _body_at_end(
        self,
        tenant: str,
        run_id: str,
        sub: Subscription,
        *,
        thread_id: str | None = None,
        read_first: bool = True,
    ) -> dict[str, Any]:
        """The run's ``/wait`` body once it ended: usually carried by its ``done``
        message, else read from the run row (checked first unless ``read_first`` is off,
        and again after each ``done``, gap or heartbeat interval)."""
        read = read_first
        while True:
            if read:
                run = await self.runs.get(tenant, run_id, thread_id=thread_id)
                if run.status in TERMINAL:
                    return await self.result(tenant, run)
            read = True
            done = await self._next_done(sub)
            if done is not None and isinstance(done.get("result"), dict):
                return cast(dict[str, Any], done["result"])

    async def _next_done(self, sub: Subscription) -> dict[str, Any] | None:
        """The next ``done`` message, or None when the run must be checked again."""
        while True:
            message = await sub.get(self.settings.heartbeat_seconds)
            if message is None or message.get("gap"):
                return None
            if message.get("done"):
                return message

    async def result(self, tenant: str, run: RunRecord) -> dict[str, Any]:
        """The body of ``/wait`` and ``/join``: final values, ``__interrupt__`` or ``__error__``."""
        if run.result is not None:
            return run.result
        if run.status in ("error", "timeout"):
            return wait_body(values={}, error=run.error or {})
        # Runs that ended without a stored result (cancelled): the thread's state now.
        try:
            state = await self.states.get_state(tenant, run.thread_id)
        except NotFoundError:
            return {}
        return wait_body(values=state.values, interrupts=state.interrupts)


@dataclass(frozen=True)
class _Pending:
    id: str
    value: Any
