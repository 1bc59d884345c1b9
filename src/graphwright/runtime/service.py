"""The run service: what the HTTP API does with runs, independent of HTTP.

Creating a run validates everything first (assistant, thread, input, decision,
stream modes), then, in one transaction that locks the thread, applies the
multitask strategy and queues the run. Waiting and streaming read the durable
event log and follow the live bus; nothing here holds run state in memory.

Why one module past 400 lines: creating a run and following a run share the
run's channel protocol (subscribe before create, ``done`` messages, gaps and
heartbeats); splitting the followers out is the next step, noted in issue 9's
closing note.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import psycopg

from graphwright.errors import (
    GraphwrightError,
    InvalidInputError,
    NotFoundError,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.runtime.bus import InProcessBus, Subscription
from graphwright.runtime.catalog import Catalog, LoadedWorkflow
from graphwright.runtime.decisions import resume_value
from graphwright.runtime.graph_run import RESERVED_CONFIGURABLE, STREAM_MODES
from graphwright.runtime.serialize import wait_body
from graphwright.runtime.thread_api import ThreadStateAPI
from graphwright.runtime.writer import run_channel
from graphwright.settings import Settings
from graphwright.store.events import EventLog, StoredEvent
from graphwright.store.pool import Pool
from graphwright.store.run_payload import CommandPayload, RunPayload
from graphwright.store.runs import NewRun, RunRecord, RunStore
from graphwright.store.threads import ThreadStore

if TYPE_CHECKING:
    from graphwright.runtime.worker import WorkerPool

__all__ = ["HEARTBEAT", "LAGGING", "TERMINAL", "RunRequest", "RunService"]

TERMINAL = frozenset({"success", "error", "timeout", "interrupted"})
STRATEGIES = frozenset({"reject", "enqueue", "interrupt", "rollback"})
HEARTBEAT = StoredEvent(0, "", None)
"""Yielded by :meth:`RunService.follow` when a heartbeat is due."""
LAGGING = StoredEvent(0, "", "lagging")
"""Yielded when the reader fell behind the live events: the rest comes from the log."""

OnResume = Callable[[psycopg.AsyncConnection[Any], str, RunRecord], Awaitable[None]]


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
        self.active_streams = 0

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
        self._check_request(request)
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
        if request.input is not None:
            loaded.compiled.make_input(request.input)  # validation only: raises early
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
            payload=_payload(request, stateless=stateless, new_thread=new_thread),
            metadata=request.metadata,
            thread_metadata=request.thread_metadata,
            multitask_strategy=request.multitask_strategy,
            max_attempts=self.settings.run_max_attempts,
            after_seconds=request.after_seconds,
        )

    @staticmethod
    def _check_request(request: RunRequest) -> None:
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

    # -- wait / follow ---------------------------------------------------------------

    def admit(self) -> None:
        """Raise ``stream.limit`` when this process already serves ``max_streams`` streams."""
        if self.active_streams >= self.settings.max_streams:
            raise GraphwrightError(
                f"this server already serves {self.active_streams} streams; retry shortly "
                "(or use another replica)",
                code="stream.limit",
                details={"max_streams": self.settings.max_streams},
            )

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

    async def follow(
        self,
        tenant: str,
        run_id: str,
        *,
        after: int = 0,
        modes: frozenset[str] | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """Events of a run after sequence ``after``: replayed from the log, then live.

        With ``modes``, only events of those stream modes (plus ``metadata`` and
        ``error``) are yielded. Yields :data:`HEARTBEAT` when nothing happened for
        a heartbeat interval. Ends when the run has ended and every event was
        delivered.
        """
        self.admit()
        sub = self.bus.subscribe(run_channel(tenant, run_id))
        self.active_streams += 1
        last = after
        try:
            async for event in self._follow(tenant, run_id, sub, last):
                if (
                    modes is None
                    or event is HEARTBEAT
                    or event is LAGGING
                    or _wanted(event.event, modes)
                ):
                    yield event
        except NotFoundError:
            return  # the run was rolled back (deleted) while followed: the stream ends
        finally:
            self.active_streams -= 1
            sub.close()

    async def _follow(
        self, tenant: str, run_id: str, sub: Any, last: int
    ) -> AsyncIterator[StoredEvent]:
        for event in await self.events.read(tenant, run_id, after=last):
            last = event.seq
            yield event
        if (await self.runs.get(tenant, run_id)).status in TERMINAL:
            for event in await self.events.read(tenant, run_id, after=last):
                last = event.seq
                yield event
            return
        while True:
            message = await sub.get(self.settings.heartbeat_seconds)
            if message is None:
                yield HEARTBEAT
                if (await self.runs.get(tenant, run_id)).status not in TERMINAL:
                    continue
                message = {"done": True}
            if message.get("done") or message.get("gap") or sub.overflowed:
                if sub.overflowed:
                    yield LAGGING
                sub.overflowed = False
                for event in await self.events.read(tenant, run_id, after=last):
                    last = event.seq
                    yield event
                if message.get("done"):
                    return
                continue
            seq = int(message.get("seq", 0))
            if seq <= last:
                continue
            if seq > last + 1:  # missed some: the log has them
                for event in await self.events.read(tenant, run_id, after=last):
                    last = event.seq
                    yield event
                if seq <= last:
                    continue
            last = seq
            yield StoredEvent(seq, str(message["event"]), message.get("data"))

    async def follow_thread(
        self,
        tenant: str,
        thread_id: str,
        *,
        after: str | None = None,
        modes: frozenset[str] | None = None,
        lifecycle_only: bool = False,
    ) -> AsyncIterator[tuple[str, StoredEvent]]:
        """Events of every run on a thread, one run after another, as ``(id, event)``.

        Ids are ``<run_id>:<seq>`` (``<run_id>:done`` for the ``run_done`` event
        closing each run), so ``after`` resumes exactly where a client left off.
        Without ``after`` the stream starts with the thread's latest run. It never
        ends by itself; :data:`HEARTBEAT` is yielded while nothing happens.
        """
        await self.threads.get(tenant, thread_id)
        self.admit()
        sub = self.bus.subscribe(thread_channel(tenant, thread_id))
        self.active_streams += 1
        current, seq = _parse_thread_id(after)
        try:
            pending: list[RunRecord] = []
            if current is not None and seq is not None:
                pending = [await self.runs.get(tenant, current, thread_id=thread_id)]
            while True:
                if not pending:
                    pending = await self.runs.on_thread_after(tenant, thread_id, after_run=current)
                if not pending:
                    message = await sub.get(self.settings.heartbeat_seconds)
                    if message is None:
                        yield "", HEARTBEAT
                    continue
                run = pending.pop(0)
                start = seq if (run.run_id == current and seq is not None) else 0
                if lifecycle_only:
                    yield f"{run.run_id}:0", StoredEvent(0, "metadata", {"run_id": run.run_id})
                run_modes = modes
                if run_modes is None:
                    run_modes = frozenset(run.payload.stream_mode)
                async for event in self.follow(tenant, run.run_id, after=start, modes=run_modes):
                    if event is HEARTBEAT:
                        yield "", event
                    elif not lifecycle_only:
                        yield f"{run.run_id}:{event.seq}", event
                ended = await self.runs.statuses(tenant, [run.run_id])
                done = {"run_id": run.run_id, "status": ended.get(run.run_id, "deleted")}
                yield f"{run.run_id}:done", StoredEvent(0, "run_done", done)
                current, seq = run.run_id, None
        finally:
            self.active_streams -= 1
            sub.close()


def thread_channel(tenant: str, thread_id: str) -> str:
    """Bus channel announcing new runs on a thread."""
    return f"gw:thread:{tenant}:{thread_id}"


def _wanted(name: str, modes: frozenset[str]) -> bool:
    base = name.split("|", 1)[0]
    return base in modes or base in ("metadata", "error")


def _parse_thread_id(value: str | None) -> tuple[str | None, int | None]:
    """``<run_id>:<seq>`` -> (run_id, seq); ``<run_id>:done`` -> (run_id, None)."""
    if not value:
        return None, None
    run_id, _, tail = value.rpartition(":")
    if not run_id:
        raise InvalidInputError(
            f"Last-Event-ID {value!r} is not '<run_id>:<seq>'", code="stream.invalid_event_id"
        )
    if tail == "done":
        return run_id, None
    try:
        return run_id, int(tail)
    except ValueError:
        raise InvalidInputError(
            f"Last-Event-ID {value!r} is not '<run_id>:<seq>'", code="stream.invalid_event_id"
        ) from None


@dataclass(frozen=True)
class _Pending:
    id: str
    value: Any


def _payload(request: RunRequest, *, stateless: bool, new_thread: bool) -> RunPayload:
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
