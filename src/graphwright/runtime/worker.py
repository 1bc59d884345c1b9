"""Workers: claim queued runs, execute them durably, stream their events.

A process runs ``GW_WORKERS`` slots. Slots sleep until PostgreSQL notifies
them (a run was created or released) or until the next delayed run or lease
expiry falls due; there is no sleep-polling for new work. Each claimed run
holds a lease renewed by a heartbeat; cancellation requests arrive by
``NOTIFY`` (and are also seen by the heartbeat).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import psycopg

from graphwright.errors import GraphwrightError
from graphwright.runtime.bus import InProcessBus
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunEvent, RunOptions, RunResult
from graphwright.runtime.serialize import display_node, jsonable, wait_body
from graphwright.runtime.writer import EventSink, RunEventWriter, done_message
from graphwright.settings import Settings
from graphwright.store.events import EventLog
from graphwright.store.runs import CANCEL_CHANNEL, WAKE_CHANNEL, RunRecord, RunStatus, RunStore

__all__ = ["STREAM_MODES", "RunHook", "WorkerPool"]

log = logging.getLogger("graphwright.worker")

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

RunHook = Callable[[Engine, RunRecord, RunResult], Awaitable[None]]
"""Called after a run ended (completed, interrupted or failed) with its result."""

_IDLE_WAKE = 5.0
_DUE_REUSE = 1.0


class _IdleSlots:
    """Idle run slots: woken to look for queued runs, or handed a run directly.

    A ring wakes one waiting slot (or, with none waiting, lets one of the next
    slots to wait through: at most ``limit`` rings are remembered). A slot taken
    with :meth:`reserve` waits for the run its taker hands it (or None: go and
    look in the queue).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting: collections.deque[asyncio.Future[RunRecord | None]] = collections.deque()
        self._rings = 0

    def ring(self, times: int = 1) -> None:
        """Let up to ``times`` waiting (or next) slots look for work."""
        for _ in range(times):
            slot = self.reserve()
            if slot is not None:
                slot.set_result(None)
            elif self._rings < self._limit:
                self._rings += 1

    def reserve(self) -> asyncio.Future[RunRecord | None] | None:
        """Take a waiting slot, or None when every slot is busy.

        The caller must resolve the future: with a run the slot executes, or None.
        """
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                return slot
        return None

    async def wait(self, seconds: float) -> RunRecord | None:
        """A handed run, or None to look in the queue (after a ring or ``seconds``)."""
        if self._rings:
            self._rings -= 1
            return None
        slot: asyncio.Future[RunRecord | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            return await asyncio.wait_for(asyncio.shield(slot), seconds)
        except TimeoutError:
            if slot in self._waiting:
                self._waiting.remove(slot)
                return None
            return await slot  # reserved just now: its run is on the way
        except asyncio.CancelledError:
            # A run handed over from now on would wait for its lease to expire.
            if slot in self._waiting:
                self._waiting.remove(slot)
            slot.cancel()
            raise


class WorkerPool:
    """``settings.workers`` concurrent run slots in this process."""

    def __init__(
        self,
        engine: Engine,
        runs: RunStore,
        events: EventLog,
        bus: InProcessBus,
        settings: Settings,
        *,
        database_url: str,
    ) -> None:
        self.engine = engine
        self.runs = runs
        self.events = events
        self.bus = bus
        self.settings = settings
        self.database_url = database_url
        self.sink = EventSink(events, bus)
        self.hooks: list[RunHook] = []
        self.event_hooks: list[Callable[[RunRecord, RunEvent], None]] = []
        self.owner = engine.owner
        self._wake = _IdleSlots(max(settings.workers, 1))
        # When the next delayed run or lease expiry falls due, as last read; reused
        # by idle slots for _DUE_REUSE seconds unless a wake-up notification came.
        self._due: dt.datetime | None = None
        self._due_read_at: float | None = None
        self._stopping = False
        self._slots: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._running: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._cancel_asked: dict[tuple[str, str], str] = {}
        self.completed = 0

    @property
    def active_runs(self) -> int:
        """Runs executing in this process now."""
        return len(self._running)

    async def start(self) -> None:
        """Start listening for wake-ups and the run slots."""
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="graphwright-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 10)
        self._slots = [
            asyncio.create_task(self._slot(i), name=f"graphwright-slot-{i}")
            for i in range(self.settings.workers)
        ]
        self._slots.append(asyncio.create_task(self._prune(), name="graphwright-prune"))

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop claiming; let in-flight runs finish within ``grace``; release the rest."""
        self._stopping = True
        self._wake.ring(self.settings.workers)
        grace = self.settings.drain_seconds if grace is None else grace
        in_flight = list(self._running.values())
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace)
        for key, task in list(self._running.items()):
            self._cancel_asked[key] = "release"
            task.cancel()
        for slot in self._slots:
            slot.cancel()
        for slot in self._slots:
            with contextlib.suppress(asyncio.CancelledError):
                await slot
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.sink.close()

    async def _prune(self) -> None:
        """Delete run events older than the retention, about every tenth of it."""
        retention = self.settings.event_retention_seconds
        interval = min(max(retention / 10, 60.0), 3600.0)
        while not self._stopping:
            try:
                removed = await self.events.prune(older_than_seconds=retention)
                if removed:
                    log.info("pruned %d run events older than %ss", removed, retention)
            except psycopg.Error as exc:
                log.warning("event log pruning failed: %s", exc)
            await asyncio.sleep(interval)

    # -- wake-ups ------------------------------------------------------------------

    async def _listen(self, ready: asyncio.Event) -> None:
        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url, autocommit=True
                ) as conn:
                    await conn.execute(f"listen {WAKE_CHANNEL}")
                    await conn.execute(f"listen {CANCEL_CHANNEL}")
                    ready.set()
                    self._wake.ring(self.settings.workers)  # catch up after (re)connecting
                    delay = 0.2
                    async for note in conn.notifies():
                        if note.channel == WAKE_CHANNEL:
                            self._due_read_at = None  # it may be a delayed run: read again
                            self._wake.ring()  # one new run: one idle slot looks
                        elif note.channel == CANCEL_CHANNEL:
                            self._on_cancel(note.payload)
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("wake-up listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _on_cancel(self, payload: str) -> None:
        tenant, _, run_id = payload.partition("/")
        task = self._running.get((tenant, run_id))
        if task is not None:
            self._cancel_asked[(tenant, run_id)] = "cancel"
            task.cancel()

    async def _sleep_until_work(self) -> RunRecord | None:
        """Wait for a ring, a due run or lease expiry, or a run handed to this slot."""
        loop = asyncio.get_running_loop()
        if self._due_read_at is None or loop.time() - self._due_read_at > _DUE_REUSE:
            self._due = await self.runs.next_due()
            self._due_read_at = loop.time()
        due = self._due
        timeout = _IDLE_WAKE
        if due is not None:
            timeout = max(0.01, min(_IDLE_WAKE, (due - dt.datetime.now(dt.UTC)).total_seconds()))
        return await self._wake.wait(timeout)

    def reserve_slot(self) -> asyncio.Future[RunRecord | None] | None:
        """An idle run slot of this process, for a run to start here at once.

        None when every slot is busy or the pool is stopping. The caller resolves
        the future with the run, already claimed for :attr:`owner` (status
        ``running``, its thread taken over), or with None to let the slot go.
        """
        if self._stopping:
            return None
        return self._wake.reserve()

    # -- slots -----------------------------------------------------------------------

    async def _slot(self, index: int) -> None:
        while not self._stopping:
            try:
                run = await self.runs.claim(self.owner, self.settings.lease_seconds)
                handed = False
                if run is None:
                    run = await self._sleep_until_work()
                    if run is None:
                        continue
                    handed = True  # created here with its thread already taken over
                else:
                    self._wake.ring()  # there may be more: let another idle slot look
                await self._process(run, taken_over=handed)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, GraphwrightError) as exc:
                log.error("worker slot %d: %s", index, exc)
                await asyncio.sleep(0.5)

    async def _process(self, run: RunRecord, *, taken_over: bool = False) -> None:
        key = (run.tenant_id, run.run_id)
        if run.attempts > run.max_attempts:
            await self._dead_letter(run)
            return
        writer = await self._writer(run)
        writer.emit("metadata", {"run_id": run.run_id, "attempt": run.attempts})
        engine = self.engine.for_tenant(run.tenant_id)
        task = asyncio.create_task(self._execute(engine, run, writer, taken_over))
        self._running[key] = task
        heartbeat = asyncio.create_task(self._heartbeat(run, task))
        status = "error"
        try:
            status = await self._outcome(engine, run, task, writer)
        finally:
            heartbeat.cancel()
            self._running.pop(key, None)
            self._cancel_asked.pop(key, None)
            if not writer.ended:  # released, lost, or this worker stopping
                writer.close(status)
            self.completed += 1

    async def _outcome(
        self, engine: Engine, run: RunRecord, task: asyncio.Task[Any], writer: RunEventWriter
    ) -> str:
        """The run's final status (the run row is ended, unless released or lost)."""
        key = (run.tenant_id, run.run_id)
        try:
            result: RunResult = await task
        except asyncio.CancelledError:
            asked = self._cancel_asked.get(key)
            if asked is None:
                raise  # this worker itself is being cancelled
            return await self._cancelled(engine, run, asked, writer)
        except TimeoutError:
            error = {"code": "run.timeout", "message": "the run exceeded its time limit"}
            writer.emit("error", {"error": error["code"], "message": error["message"]})
            await self._finish(writer, run, owner=self.owner, status="timeout", error=error)
            return "timeout"
        except GraphwrightError as exc:  # input no longer valid, workflow gone...
            writer.emit("error", {"error": exc.code, "message": exc.message})
            await self._finish(writer, run, owner=self.owner, status="error", error=exc.to_dict())
            return "error"
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
                await hook(engine, run, result)
            except GraphwrightError as exc:  # a hook must not strand the run as running
                log.error("run hook failed for run %s: %s", run.run_id, exc)
        await self._finish(
            writer,
            run,
            owner=self.owner,
            status=status,
            error=result.error,
            result=_result_body(result),
        )
        if (
            run.payload.get("stateless")
            and run.payload.get("on_completion", "delete") == "delete"
            and status != "interrupted"  # an interrupted thread stays resumable
        ):
            # The run row keeps the result, so /wait and /join still answer.
            await engine.delete_checkpoints(run.thread_id)
            await engine.threads.delete_row(run.tenant_id, run.thread_id)
        return status

    async def _execute(
        self, engine: Engine, run: RunRecord, writer: RunEventWriter, taken_over: bool
    ) -> RunResult:
        payload = run.payload
        asked = payload.get("stream_mode")
        requested = [m for m in (["values"] if asked is None else asked) if m in STREAM_MODES]
        names = {STREAM_MODES[m][0]: STREAM_MODES[m][1] for m in requested}

        async def on_chunk(namespace: tuple[str, ...], mode: str, chunk: Any) -> None:
            name = names.get(mode, mode)
            if namespace:
                name = f"{name}|{'|'.join(namespace)}"
            if mode == "updates" and isinstance(chunk, dict):
                chunk = {display_node(k): v for k, v in chunk.items()}
            writer.emit(name, jsonable(chunk))

        options = RunOptions(
            stream_modes=tuple(names),
            subgraphs=bool(payload.get("stream_subgraphs")),
            on_chunk=on_chunk,
            interrupt_before=payload.get("interrupt_before"),
            interrupt_after=payload.get("interrupt_after"),
            checkpoint_id=payload.get("checkpoint_id"),
            durability=payload.get("durability"),
            cancelled_status="idle",
        )
        result: RunResult | None = None
        events = engine.execute_run(
            thread_id=run.thread_id,
            run_id=run.run_id,
            workflow_id=run.assistant_id,
            version=run.workflow_version,
            input=payload.get("input"),
            command=payload.get("command"),
            options=options,
            # A first attempt on a thread created with the run has no checkpoint.
            fresh=True if payload.get("new_thread") and run.attempts == 1 else None,
            taken_over=taken_over,
        )
        limit = self.settings.run_timeout_seconds
        async with asyncio.timeout(limit), aclosing(events) as stream:
            async for event in stream:
                for event_hook in self.event_hooks:
                    event_hook(run, event)
                # Progress events are always logged: UIs follow them on run and
                # thread streams whatever modes the run was started with.
                # The run's result goes to the run row, not into every stream.
                data = event.to_dict()
                if "result" in data:
                    data["result"] = None
                writer.emit("progress", data)
                if event.result is not None:
                    result = event.result
        assert result is not None  # execute_run always ends with run.finished
        return result

    async def _heartbeat(self, run: RunRecord, task: asyncio.Task[Any]) -> None:
        key = (run.tenant_id, run.run_id)
        interval = max(self.settings.lease_seconds / 3, 0.05)
        while not task.done():
            await asyncio.sleep(interval)
            try:
                owned, action = await self.runs.renew(
                    run.tenant_id,
                    run.run_id,
                    owner=self.owner,
                    lease_seconds=self.settings.lease_seconds,
                )
            except psycopg.Error as exc:
                log.warning("lease renewal of run %s failed: %s", run.run_id, exc)
                continue
            if not owned:
                self._cancel_asked[key] = "lease_lost"
                task.cancel()
                return
            if action is not None:
                self._cancel_asked[key] = "cancel"
                task.cancel()
                return

    async def _finish(
        self,
        writer: RunEventWriter,
        run: RunRecord,
        *,
        status: RunStatus,
        result: dict[str, Any] | None = None,
        **outcome: Any,
    ) -> None:
        """End the run row once its events are logged (a reader that sees the run
        ended and then reads the log gets every event); ``done`` goes out with them."""

        async def ending() -> dict[str, Any]:
            owned = await self.runs.finish(
                run.tenant_id, run.run_id, status=status, result=result, **outcome
            )
            return done_message(status, result if owned else None)

        await writer.end(ending)

    async def _cancelled(
        self, engine: Engine, run: RunRecord, asked: str, writer: RunEventWriter
    ) -> str:
        if asked == "lease_lost":
            return "lost"  # another worker owns the run now
        if asked == "release":
            await self.runs.release(run.tenant_id, run.run_id, owner=self.owner)
            return "released"
        current = await self.runs.get(run.tenant_id, run.run_id)
        if current.cancel_action == "rollback":
            await engine.rollback_run(run.thread_id, run.run_id)

            async def forget() -> dict[str, Any]:  # the run and its events go away
                await self.runs.finish(run.tenant_id, run.run_id, owner=None, status="interrupted")
                await self.runs.delete(run.tenant_id, run.run_id)
                await self.events.delete_run(run.tenant_id, run.run_id)
                return done_message("interrupted")

            await writer.end(forget)
            return "interrupted"
        await self._finish(writer, run, owner=self.owner, status="interrupted")
        return "interrupted"

    async def _writer(self, run: RunRecord) -> RunEventWriter:
        """The run's event writer; a re-claimed run continues its event numbering."""
        first = 1
        if run.attempts > 1:
            first = await self.events.last_seq(run.tenant_id, run.run_id) + 1
        return RunEventWriter(self.sink, run.tenant_id, run.run_id, first_seq=first)

    async def _dead_letter(self, run: RunRecord) -> None:
        error = {
            "code": "run.attempts_exhausted",
            "message": f"run was claimed {run.attempts - 1} times without finishing "
            f"(limit {run.max_attempts}); resume the thread after a fix",
            "details": {"last_error": run.error},
        }
        engine = self.engine.for_tenant(run.tenant_id)
        await engine.threads.mark(run.tenant_id, run.thread_id, status="failed", error=error)
        writer = await self._writer(run)
        writer.emit("error", {"error": error["code"], "message": error["message"]})
        await self._finish(writer, run, owner=self.owner, status="error", error=error)


def _result_body(result: RunResult) -> dict[str, Any]:
    """The ``/wait`` body kept on the run row."""
    failed = result.status == "failed"
    return wait_body(
        values=result.values,
        interrupts=result.interrupts,
        error=(result.error or {}) if failed else None,
    )
