"""The executor: every run, whatever started it, is executed here under its run lease.

A run reaches :meth:`RunExecutor.process` already claimed (its row ``running``
under this process's owner id): by a worker slot from the queue, handed to an
idle slot when it was created, or started in-process by the embedding
``Engine``. The executor takes the thread over, renews the lease while the
graph runs, logs every event, ends the row (``success``, ``interrupted``,
``error``, ``timeout``) and calls the hooks (approvals, metrics). Cancellation,
timeouts, lost leases, draining and dead letters are handled here, once.

Why one module past 400 lines: every way a run can end (result, error, timeout,
cancel, rollback, release, lost lease, abandonment, dead letter) is decided here
on purpose, so each is one mechanism tested once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from graphwright.errors import GraphwrightError
from graphwright.nodes.rate_limit import RateLimitGate
from graphwright.runtime.catalog import Catalog, LoadedWorkflow
from graphwright.runtime.checkpoints import Checkpoints
from graphwright.runtime.events import RunIdentity
from graphwright.runtime.graph_run import (
    STREAM_MODES,
    GraphRun,
    LeaseLost,
    graph_input,
    result_of,
)
from graphwright.runtime.results import RunEvent, RunResult
from graphwright.runtime.secrets import RunSecrets, TenantSecrets
from graphwright.runtime.serialize import display_node, jsonable, wait_body
from graphwright.runtime.writer import EventSink, RunEventWriter, done_message
from graphwright.settings import Settings
from graphwright.store.events import EventLog
from graphwright.store.pool import OUTAGE_ERRORS
from graphwright.store.runs import RunRecord, RunStatus, RunStore
from graphwright.store.threads import ThreadStatus, ThreadStore

__all__ = ["EventHook", "RunExecutor", "RunHook"]

log = logging.getLogger("graphwright.executor")

RunHook = Callable[[RunRecord, RunResult], Awaitable[None]]
"""Called after a run ended (completed, interrupted or failed) with its result."""
EventHook = Callable[[RunRecord, RunEvent], None]
"""Called with every progress event of a run."""

FENCE_FRACTION = 0.6
"""Share of the lease after which a process that cannot renew stops the run."""

_CANCELLED = {"code": "run.cancelled", "message": "the run was cancelled"}
_ABANDONED = {"code": "run.cancelled", "message": "the caller stopped following the run"}
_TIMEOUT = {"code": "run.timeout", "message": "the run exceeded its time limit"}
_OUTAGE = {
    "code": "db.unavailable",
    "message": "the database became unavailable; the run continues from its last checkpoint "
    "when a worker claims it again",
}


class RunExecutor:
    """Executes claimed runs of any tenant, each in its own tenant's context."""

    def __init__(
        self,
        settings: Settings,
        *,
        owner: str,
        catalog: Catalog,
        checkpoints: Checkpoints,
        threads: ThreadStore,
        runs: RunStore,
        events: EventLog,
        sink: EventSink,
        hooks: Sequence[RunHook] = (),
        event_hooks: Sequence[EventHook] = (),
        secrets: TenantSecrets | None = None,
        rate_limits: RateLimitGate | None = None,
    ) -> None:
        """Execute as ``owner`` (this process's lease identity), calling the hooks.

        ``secrets`` gives each run its tenant's secrets (read when a node asks);
        ``rate_limits`` is where nodes with a ``rate_limit`` wait for their turn.
        """
        self.settings = settings
        self.owner = owner
        self.catalog = catalog
        self.checkpoints = checkpoints
        self.threads = threads
        self.runs = runs
        self.events = events
        self.sink = sink
        self.hooks = list(hooks)
        self.event_hooks = list(event_hooks)
        self.secrets = secrets
        self.rate_limits = rate_limits
        self._running: dict[tuple[str, str], asyncio.Task[RunResult]] = {}
        self._reasons: dict[tuple[str, str], str] = {}

    @property
    def active_runs(self) -> int:
        """Runs executing in this process now."""
        return len(self._running)

    def running(self) -> list[asyncio.Task[RunResult]]:
        """The tasks of the runs executing now."""
        return list(self._running.values())

    def stop_run(self, tenant: str, run_id: str, reason: str) -> bool:
        """Stop a run executing here: ``cancel`` (asked through the API) or ``release``
        (this process is stopping: the run goes back to the queue). False if not here."""
        task = self._running.get((tenant, run_id))
        if task is None:
            return False
        self._reasons[(tenant, run_id)] = reason
        task.cancel()
        return True

    def release_all(self) -> None:
        """Give every run executing here back to the queue (this process is stopping)."""
        for tenant, run_id in list(self._running):
            self.stop_run(tenant, run_id, "release")

    async def process(
        self, run: RunRecord, *, taken_over: bool = False
    ) -> AsyncGenerator[RunEvent, None]:
        """Execute a claimed run, yielding its events; the last is ``run.finished``.

        ``taken_over``: the claim already marked the thread running under this run
        and owner. Closing the iterator early abandons the run: its row ends
        ``error`` (``run.cancelled``) and its thread stays resumable.
        """
        key = (run.tenant_id, run.run_id)
        earlier = self._running.get(key)
        if earlier is not None:
            # This process claimed a run it is still executing (its lease ran out
            # meanwhile): stop the earlier execution before starting again.
            self._reasons[key] = "lease_lost"
            earlier.cancel()
            await asyncio.wait([earlier])
        if run.attempts > run.max_attempts:
            yield self._synthetic(run, await self._dead_letter(run))
            return
        writer = await self._writer(run)
        writer.emit("metadata", {"run_id": run.run_id, "attempt": run.attempts})
        queue: asyncio.Queue[RunEvent | None] = asyncio.Queue()
        task = asyncio.create_task(self._guarded(run, writer, taken_over, queue))
        self._running[key] = task
        heartbeat = asyncio.create_task(self._heartbeat(run, task))
        status = "error"
        final: RunEvent | None = None
        ended = False
        try:
            while (event := await queue.get()) is not None:
                if event.result is not None:
                    final = event  # held back until the run row has ended
                else:
                    yield event
            ended = True
            status, error = await self._outcome(run, task, writer)
            if final is None or error is not None:
                final = self._synthetic(run, error or _CANCELLED)
            yield final
        finally:
            heartbeat.cancel()
            if not ended:  # the caller stopped following: abandon the run (or end it)
                if not task.done():
                    # A reason set already (release on drain, cancel, lease lost) wins:
                    # the follower went away because the run was being stopped anyway.
                    self._reasons.setdefault(key, "abandon")
                    task.cancel()
                status, _ = await asyncio.shield(self._outcome(run, task, writer))
            if self._running.get(key) is task:  # not a later execution's entry
                self._running.pop(key, None)
                self._reasons.pop(key, None)
            if not writer.ended:  # released, lost, or this process stopping
                writer.close(status)

    # -- executing ------------------------------------------------------------------

    async def _guarded(
        self,
        run: RunRecord,
        writer: RunEventWriter,
        taken_over: bool,
        queue: asyncio.Queue[RunEvent | None],
    ) -> RunResult:
        try:
            return await self._execute(run, writer, taken_over, queue)
        finally:
            queue.put_nowait(None)

    async def _execute(
        self,
        run: RunRecord,
        writer: RunEventWriter,
        taken_over: bool,
        queue: asyncio.Queue[RunEvent | None],
    ) -> RunResult:
        tenant, thread_id, payload = run.tenant_id, run.thread_id, run.payload
        try:
            loaded = await self.catalog.load(tenant, run.assistant_id, run.workflow_version)
            # A first attempt on a thread created with the run has no checkpoint.
            fresh = payload.new_thread and run.attempts == 1
            if payload.command is None and not fresh:
                state = await self.checkpoints.state(loaded, tenant, thread_id)
                fresh = state.checkpoint_id is None
            lg_input = graph_input(loaded, payload, fresh=fresh)
        except BaseException as exc:
            if taken_over:
                await asyncio.shield(self._unstarted(run, exc))
            raise
        if not taken_over:
            await self.threads.take_over(tenant, thread_id, run_id=run.run_id, owner=self.owner)
        names = {
            STREAM_MODES[m][0]: STREAM_MODES[m][1] for m in payload.stream_mode if m in STREAM_MODES
        }
        secrets = self.secrets.for_run(tenant) if self.secrets is not None else None

        async def on_chunk(namespace: tuple[str, ...], mode: str, chunk: Any) -> None:
            name = names.get(mode, mode)
            if namespace:
                name = f"{name}|{'|'.join(namespace)}"
            if mode == "updates" and isinstance(chunk, dict):
                chunk = {display_node(k): v for k, v in chunk.items()}
            writer.emit(name, _scrub(secrets, jsonable(chunk)))

        graph_run = GraphRun(
            loaded,
            self.checkpoints.graph(loaded, thread_id),
            tenant=tenant,
            thread_id=thread_id,
            run_id=run.run_id,
            lg_input=lg_input,
            payload=payload,
            durability=self.settings.durability,
            modes=names,
            on_chunk=on_chunk,
            max_state_bytes=self.settings.max_state_bytes,
            secrets=secrets,
            rate_limits=self.rate_limits,
        )
        ended = False
        try:
            async with asyncio.timeout(self.settings.run_timeout_seconds):
                async for event in graph_run.events():
                    if secrets is not None and secrets.loaded:
                        event = dataclasses.replace(event, data=_scrub(secrets, event.data))
                    self._observe(run, event, writer, queue)
            snapshot = await self.checkpoints.state(loaded, tenant, thread_id)
            result = result_of(loaded, graph_run.identity, snapshot, graph_run.error)
            await self.threads.mark(
                tenant, thread_id, status=result.status, error=result.error, owner=self.owner
            )
            ended = True
            event = graph_run.identity.event("run.finished", data={"status": result.status})
            self._observe(run, dataclasses.replace(event, result=result), writer, queue)
            return result
        except OUTAGE_ERRORS:
            self._reasons[(run.tenant_id, run.run_id)] = "outage"
            raise
        except LeaseLost:
            self._reasons[(run.tenant_id, run.run_id)] = "lease_lost"
            raise
        finally:
            if not ended:
                await asyncio.shield(self._abandon(loaded, run))

    def _observe(
        self,
        run: RunRecord,
        event: RunEvent,
        writer: RunEventWriter,
        queue: asyncio.Queue[RunEvent | None],
    ) -> None:
        for hook in self.event_hooks:
            hook(run, event)
        # Progress events are always logged: UIs follow them on run and thread
        # streams whatever modes the run was started with. The run's result goes
        # to the run row, not into every stream.
        data = event.to_dict()
        if "result" in data:
            data["result"] = None
        writer.emit("progress", data)
        queue.put_nowait(event)

    async def _unstarted(self, run: RunRecord, exc: BaseException) -> None:
        """Settle a thread taken over for a run that stopped before it started."""
        status: ThreadStatus = "idle"
        error: dict[str, Any] = {
            "code": "run.cancelled",
            "message": "the run was stopped before it started",
        }
        if isinstance(exc, GraphwrightError):
            status, error = "failed", exc.to_dict()
        # The lease moved on (not ours to settle), or the database is away (the
        # re-claim settles it).
        with contextlib.suppress(GraphwrightError, *OUTAGE_ERRORS):
            await self.threads.mark(
                run.tenant_id, run.thread_id, status=status, error=error, owner=self.owner
            )

    async def _abandon(self, loaded: LoadedWorkflow, run: RunRecord) -> None:
        """Settle the thread of a run that stopped midway (cancelled, timed out, abandoned)."""
        reason = self._reasons.get((run.tenant_id, run.run_id))
        if reason in ("lease_lost", "outage"):
            return  # another process runs it now, or will: the thread is its to settle
        error, status = _CANCELLED, "idle"
        if reason is None:  # the run's time limit
            error, status = _TIMEOUT, "failed"
        elif reason == "abandon":
            error, status = _ABANDONED, "failed"
        with contextlib.suppress(GraphwrightError, *OUTAGE_ERRORS):
            snapshot = await self.checkpoints.state(loaded, run.tenant_id, run.thread_id)
            await self.threads.mark(
                run.tenant_id,
                run.thread_id,
                status=status if snapshot.checkpoint_id else "idle",  # type: ignore[arg-type]
                error=error,
                owner=self.owner,
            )

    async def _heartbeat(self, run: RunRecord, task: asyncio.Task[RunResult]) -> None:
        """Renew the run's lease; stop the run here before anyone else may claim it.

        Fencing: the lease expires ``lease_seconds`` after the last renewal that
        succeeded. When renewals keep failing (the database is unreachable) for
        ``FENCE_FRACTION`` of that, the run is stopped locally (``lease_lost``), so
        this process is no longer executing it when another may claim it. Its
        last checkpoint stays; the claimer continues from there.
        """
        key = (run.tenant_id, run.run_id)
        lease = self.settings.lease_seconds
        interval = max(lease / 3, 0.05)
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        while not task.done():
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    owned, action = await self.runs.renew(
                        run.tenant_id, run.run_id, owner=self.owner, lease_seconds=lease
                    )
            except (psycopg.Error, PoolTimeout, TimeoutError) as exc:
                if loop.time() - renewed_at < lease * FENCE_FRACTION:
                    log.warning("lease renewal of run %s failed: %s", run.run_id, exc)
                    continue
                log.error(
                    "run %s: no lease renewal for %.1fs; stopping it here before the lease "
                    "expires (another process will continue it)",
                    run.run_id,
                    loop.time() - renewed_at,
                )
                owned, action = False, None
            else:
                renewed_at = loop.time()
            if not owned or action is not None:
                self._reasons[key] = "lease_lost" if not owned else "cancel"
                task.cancel()
                return

    # -- ending ---------------------------------------------------------------------

    async def _outcome(
        self, run: RunRecord, task: asyncio.Task[RunResult], writer: RunEventWriter
    ) -> tuple[str, dict[str, Any] | None]:
        """End the run row (unless released or lost): its status and error, if not normal."""
        try:
            result = await task
        except asyncio.CancelledError:
            reason = self._reasons.get((run.tenant_id, run.run_id))
            if reason is None:
                raise  # this process itself is being cancelled
            return await self._cancelled(run, reason, writer)
        except LeaseLost:
            log.warning("run %s: its lease was taken over; stopped here", run.run_id)
            return "lost", _CANCELLED
        except OUTAGE_ERRORS as exc:
            # The database went away mid-run: never a failure. The run goes back to
            # the queue (or, if even that fails, its lease expires) and continues
            # from its last checkpoint.
            log.warning("run %s: database unavailable (%s); released for re-claim", run.run_id, exc)
            with contextlib.suppress(*OUTAGE_ERRORS):
                await self.runs.release(run.tenant_id, run.run_id, owner=self.owner)
            return "released", _OUTAGE
        except TimeoutError:
            writer.emit("error", {"error": _TIMEOUT["code"], "message": _TIMEOUT["message"]})
            await self._finish(writer, run, status="timeout", error=_TIMEOUT)
            return "timeout", _TIMEOUT
        except GraphwrightError as exc:  # input no longer valid, workflow gone...
            writer.emit("error", {"error": exc.code, "message": exc.message})
            await self._finish(writer, run, status="error", error=exc.to_dict())
            return "error", exc.to_dict()
        status: RunStatus = "error"
        if result.status == "completed":
            status = "success"
        elif result.status == "interrupted":
            status = "interrupted"
        if result.error is not None:
            writer.emit(
                "error", {"error": result.error.get("code"), "message": result.error.get("message")}
            )
        for hook in self.hooks:
            try:
                await hook(run, result)
            except GraphwrightError as exc:  # a hook must not strand the run as running
                log.error("run hook failed for run %s: %s", run.run_id, exc)
        await self._finish(
            writer, run, status=status, error=result.error, result=_result_body(result)
        )
        payload = run.payload
        if payload.stateless and payload.on_completion == "delete" and status != "interrupted":
            # The run row keeps the result, so /wait and /join still answer.
            await self.checkpoints.delete_thread(run.tenant_id, run.thread_id)
            await self.threads.delete_row(run.tenant_id, run.thread_id)
        return status, None

    async def _cancelled(
        self, run: RunRecord, reason: str, writer: RunEventWriter
    ) -> tuple[str, dict[str, Any] | None]:
        if reason == "lease_lost":
            return "lost", _CANCELLED  # another process owns the run now
        if reason == "release":
            await self.runs.release(run.tenant_id, run.run_id, owner=self.owner)
            return "released", _CANCELLED
        if reason == "abandon":
            await self._finish(writer, run, status="error", error=_ABANDONED)
            return "error", _ABANDONED
        current = await self.runs.get(run.tenant_id, run.run_id)
        if current.cancel_action == "rollback":
            await self._roll_back(run)

            async def forget() -> dict[str, Any]:  # the run and its events go away
                await self.runs.finish(run.tenant_id, run.run_id, owner=None, status="interrupted")
                await self.runs.delete(run.tenant_id, run.run_id)
                await self.events.delete_run(run.tenant_id, run.run_id)
                return done_message("interrupted")

            await writer.end(forget)
            return "interrupted", _CANCELLED
        await self._finish(writer, run, status="interrupted")
        return "interrupted", _CANCELLED

    async def _roll_back(self, run: RunRecord) -> None:
        """Undo a cancelled run: delete its checkpoints and reset the thread's status."""
        await self.checkpoints.delete_run(run.tenant_id, run.thread_id, run.run_id)
        loaded = await self.catalog.load(run.tenant_id, run.assistant_id, run.workflow_version)
        snapshot = await self.checkpoints.state(loaded, run.tenant_id, run.thread_id)
        await self.threads.mark(
            run.tenant_id,
            run.thread_id,
            status="interrupted" if snapshot.interrupts else "idle",
            error=None,
        )

    async def _finish(
        self,
        writer: RunEventWriter,
        run: RunRecord,
        *,
        status: RunStatus,
        error: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        """End the run row once its events are logged (a reader that sees the run
        ended and then reads the log gets every event); ``done`` goes out with them."""

        async def ending() -> dict[str, Any]:
            owned = await self.runs.finish(
                run.tenant_id,
                run.run_id,
                owner=self.owner,
                status=status,
                error=error,
                result=result,
            )
            return done_message(status, result if owned else None)

        await writer.end(ending)

    async def _writer(self, run: RunRecord) -> RunEventWriter:
        """The run's event writer; a re-claimed run continues its event numbering."""
        first = 1
        if run.attempts > 1:
            first = await self.events.last_seq(run.tenant_id, run.run_id) + 1
        return RunEventWriter(self.sink, run.tenant_id, run.run_id, first_seq=first)

    async def _dead_letter(self, run: RunRecord) -> dict[str, Any]:
        error = {
            "code": "run.attempts_exhausted",
            "message": f"run was claimed {run.attempts - 1} times without finishing "
            f"(limit {run.max_attempts}); resume the thread after a fix",
            "details": {"last_error": run.error},
        }
        await self.threads.mark(run.tenant_id, run.thread_id, status="failed", error=error)
        writer = await self._writer(run)
        writer.emit("error", {"error": error["code"], "message": error["message"]})
        await self._finish(writer, run, status="error", error=error)
        return error

    @staticmethod
    def _synthetic(run: RunRecord, error: dict[str, Any]) -> RunEvent:
        """``run.finished`` of a run that ended without a result of its graph."""
        identity = RunIdentity(run.run_id, run.thread_id, run.assistant_id, run.workflow_version)
        result = RunResult(
            run_id=run.run_id,
            thread_id=run.thread_id,
            workflow_id=run.assistant_id,
            workflow_version=run.workflow_version,
            status="failed",
            output={},
            values={},
            error=error,
        )
        event = identity.event("run.finished", data={"status": "failed"})
        return dataclasses.replace(event, result=result)


def _scrub(secrets: RunSecrets | None, data: Any) -> Any:
    """``data`` without the run's secret values, once the run has read them.

    Node code gets secrets to use them, not to report them: a value it writes to
    an event anyway (``progress``, ``get_stream_writer``) is replaced.
    """
    if secrets is None or not secrets.loaded:
        return data
    return secrets.current().known_only(data)


def _result_body(result: RunResult) -> dict[str, Any]:
    """The ``/wait`` body kept on the run row."""
    failed = result.status == "failed"
    return wait_body(
        values=result.values,
        interrupts=result.interrupts,
        error=(result.error or {}) if failed else None,
    )
