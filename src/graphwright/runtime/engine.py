"""The engine: publish workflows, run and resume threads durably, read their state.

Run state lives only in the checkpointer (PostgreSQL) and graphwright's tables;
the engine keeps nothing about a run in memory once the run's call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import os
import socket
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, Self

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.errors import GraphRecursionError
from langgraph.types import Command

from graphwright.errors import (
    ConfigurationError,
    GraphwrightError,
    Problem,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.graphs.spec import WorkflowSpec
from graphwright.nodes.context import RunContext
from graphwright.nodes.policies import describe
from graphwright.registry import Registry, load_registry_modules
from graphwright.runtime.catalog import Catalog, LoadedWorkflow
from graphwright.runtime.database import Database
from graphwright.runtime.decisions import resume_value
from graphwright.runtime.events import EventTranslator, RunIdentity
from graphwright.runtime.history import read_history, read_state
from graphwright.runtime.results import (
    CheckpointSummary,
    PendingApproval,
    RunEvent,
    RunOptions,
    RunResult,
    ThreadState,
)
from graphwright.runtime.serialize import jsonable
from graphwright.settings import Settings
from graphwright.store.threads import ThreadRecord, ThreadStatus, ThreadStore
from graphwright.store.workflows import PublishedWorkflow, WorkflowStore

__all__ = ["Engine"]

_SETUP_LOCK = 7_311_402_118  # advisory lock key around the checkpointer's own migrations


class Engine:
    """Runs graphwright workflows in this process.

    Use as an async context manager::

        async with Engine.from_settings(registry=registry) as engine:
            await engine.publish(spec)
            result = await engine.run("asset-discovery", input={...})
    """

    def __init__(
        self, settings: Settings, *, registry: Registry, database: Database | None = None
    ) -> None:
        """Prepare an engine; nothing connects until ``async with`` (or :meth:`open`)."""
        self.settings = settings
        self.registry = registry
        self.tenant = settings.tenant
        self._database = database or Database(settings)
        self._owns_database = database is None
        self._savers: list[AsyncPostgresSaver] = []
        self._catalog: Catalog | None = None
        self._threads: ThreadStore | None = None
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, registry: Registry | None = None
    ) -> Engine:
        """Build an engine from settings (default: the ``GW_*`` environment).

        Without ``registry``, functions come from ``settings.registry_modules``.

        Raises:
            ConfigurationError: a registry module cannot be loaded.
        """
        settings = settings or Settings()
        if registry is None:
            registry = load_registry_modules(settings.registry_modules, llms=settings.llms)
        return cls(settings, registry=registry)

    async def open(self) -> None:
        """Connect, apply migrations and prepare the checkpoint savers.

        Raises:
            ConfigurationError: ``db.unavailable`` when PostgreSQL cannot be reached.
        """
        if self._owns_database:
            await self._database.open()
        pool = self._database.pool
        serde = JsonPlusSerializer(allowed_msgpack_modules=None)  # strict: no arbitrary classes
        self._savers = [
            AsyncPostgresSaver(pool, serde=serde) for _ in range(self.settings.checkpointers)
        ]
        async with pool.connection() as conn:
            await conn.execute("select pg_advisory_lock(%s)", (_SETUP_LOCK,))
            try:
                await self._savers[0].setup()
            finally:
                await conn.execute("select pg_advisory_unlock(%s)", (_SETUP_LOCK,))
        self._catalog = Catalog(
            WorkflowStore(pool), self.registry, cache_size=self.settings.compile_cache_size
        )
        self._threads = ThreadStore(pool)

    async def close(self) -> None:
        """Close the database pool (if the engine opened it)."""
        if self._owns_database:
            await self._database.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def catalog(self) -> Catalog:
        """Published workflows (raises if the engine is not open)."""
        if self._catalog is None:
            raise ConfigurationError("the engine is not open", code="engine.not_open")
        return self._catalog

    @property
    def threads(self) -> ThreadStore:
        """Thread records (raises if the engine is not open)."""
        if self._threads is None:
            raise ConfigurationError("the engine is not open", code="engine.not_open")
        return self._threads

    # -- workflows ---------------------------------------------------------------

    async def validate(self, document: Any) -> list[Problem]:
        """Return every problem of a document (empty when it is valid)."""
        _, problems = await self.catalog.check(self.tenant, document)
        return problems

    async def publish(self, document: WorkflowSpec | Mapping[str, Any] | str) -> PublishedWorkflow:
        """Validate and store a workflow version; identical content is a no-op.

        Raises:
            WorkflowValidationError: listing every problem.
        """
        return await self.catalog.publish(self.tenant, document)

    async def workflow(self, workflow_id: str, version: int | None = None) -> PublishedWorkflow:
        """Return a published version (latest when ``version`` is None).

        Raises:
            NotFoundError: ``workflow.not_found`` / ``workflow.version_not_found``.
        """
        return await self.catalog.store.get(self.tenant, workflow_id, version)

    # -- runs --------------------------------------------------------------------

    async def run(
        self,
        workflow_id: str,
        input: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        version: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Run a workflow until it completes, fails or waits at approval gates.

        Args:
            workflow_id: Published workflow id.
            input: Values of the workflow's input fields.
            thread_id: Run on this thread (created if new). Default: a new thread.
            version: Version to start a new thread on (default: latest).
            metadata: Stored with a new thread.

        Raises:
            InvalidInputError: ``state.invalid_input``; nothing is created.
            NotFoundError: unknown workflow or version.
            WorkflowConflictError: ``thread.busy`` when the thread is running.
            RunStateError: the thread waits at an approval gate (use :meth:`resume`).
        """
        return await _last_result(
            self.stream(workflow_id, input, thread_id=thread_id, version=version, metadata=metadata)
        )

    async def stream(
        self,
        workflow_id: str,
        input: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        version: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Like :meth:`run`, yielding progress events; the last is ``run.finished``."""
        generated = thread_id is None
        thread_id = thread_id or str(uuid.uuid4())
        existing = None if generated else await self._find_thread(thread_id)
        if existing is not None and existing.workflow_id is None:
            loaded = await self.catalog.load(self.tenant, workflow_id, version)
            async with self._database.pool.connection() as conn:
                existing = await self.threads.bind(
                    conn,
                    self.tenant,
                    thread_id,
                    workflow_id=workflow_id,
                    workflow_version=loaded.version,
                )
        if existing is not None:
            if existing.workflow_id != workflow_id:
                raise WorkflowConflictError(
                    f"thread '{thread_id}' runs workflow '{existing.workflow_id}'",
                    code="thread.workflow_mismatch",
                )
            loaded = await self.catalog.load(self.tenant, workflow_id, existing.workflow_version)
        else:
            loaded = await self.catalog.load(self.tenant, workflow_id, version)
        lg_input = loaded.compiled.make_input(input or {}, fresh=existing is None)
        run_id = str(uuid.uuid4())
        claimed = False
        if existing is None:
            try:
                await self.threads.create(
                    self.tenant,
                    thread_id,
                    workflow_id=workflow_id,
                    workflow_version=loaded.version,
                    metadata=dict(metadata or {}),
                    run_id=run_id,
                    owner=self._owner,
                    lease_seconds=self.settings.lease_seconds,
                )
                claimed = True
            except WorkflowConflictError as exc:
                if exc.code != "thread.exists":
                    raise
                # Another caller created it a moment ago: the claim below decides.
        if not claimed:
            await self._claim(thread_id, run_id, ("idle", "completed"))
        async with aclosing(self._execute(loaded, thread_id, run_id, lg_input)) as events:
            async for event in events:
                yield event

    async def resume(self, thread_id: str, decision: Any = None) -> RunResult:
        """Continue a thread: answer its approval gate(s), or retry after a failure.

        For a thread waiting at one gate, ``decision`` is ``"approve"`` or
        ``{"decision": "edit", "edits": {...}, "comment": ...}``; with several
        gates, a mapping from approval id to decision. A failed thread (or one
        whose process died) continues from its last checkpoint without re-running
        completed nodes; ``decision`` must then be None.

        Raises:
            ApprovalError: the decision is invalid; the thread stays paused.
            RunStateError: nothing to resume.
            WorkflowConflictError: ``thread.busy``.
        """
        return await _last_result(self.stream_resume(thread_id, decision))

    async def stream_resume(self, thread_id: str, decision: Any = None) -> AsyncIterator[RunEvent]:
        """Like :meth:`resume`, yielding progress events."""
        thread = await self.threads.get(self.tenant, thread_id)
        loaded = await self._load_thread(thread)
        if loaded is None:
            raise RunStateError(f"thread '{thread_id}' has not run yet; nothing to resume")
        lg_input: Any
        if thread.status == "interrupted":
            pending = (
                await read_state(self._graph(loaded, thread_id), self._key(thread_id))
            ).interrupts
            lg_input = Command(resume=resume_value(loaded.compiled, pending, decision))
            run_id = str(uuid.uuid4())
            await self._claim(thread_id, run_id, ("interrupted",))
        elif thread.status in ("failed", "running"):
            if decision is not None:
                raise RunStateError(
                    f"thread '{thread_id}' is {thread.status}, not waiting for a decision",
                    details={"status": thread.status},
                )
            # Same run id: LangGraph continues the run from its last checkpoint.
            run_id = thread.run_id or str(uuid.uuid4())
            await self._claim(thread_id, run_id, ("failed",), reclaim_expired=True)
            lg_input = None
        else:
            raise RunStateError(
                f"thread '{thread_id}' is {thread.status}; there is nothing to resume",
                details={"status": thread.status},
            )
        async with aclosing(self._execute(loaded, thread_id, run_id, lg_input)) as events:
            async for event in events:
                yield event

    # -- state -------------------------------------------------------------------

    async def get_state(self, thread_id: str) -> ThreadState:
        """Current values, next nodes and pending approvals of a thread.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        thread = await self.threads.get(self.tenant, thread_id)
        loaded = await self._load_thread(thread)
        if loaded is None:
            return ThreadState(
                thread_id=thread.thread_id,
                workflow_id=None,
                workflow_version=None,
                status=thread.status,
                run_id=thread.run_id,
                values={},
                next=(),
                approvals=(),
                checkpoint_id=None,
                metadata=thread.metadata,
                error=thread.error,
                created_at=thread.created_at,
                updated_at=thread.updated_at,
                interrupts=(),
            )
        snapshot = await read_state(self._graph(loaded, thread_id), self._key(thread_id))
        return ThreadState(
            thread_id=thread.thread_id,
            workflow_id=thread.workflow_id,
            workflow_version=thread.workflow_version,
            status=thread.status,
            run_id=thread.run_id,
            values=loaded.compiled.state.dump(snapshot.values),
            next=snapshot.next,
            approvals=tuple(
                PendingApproval.from_interrupt(i.id, i.value) for i in snapshot.interrupts
            ),
            checkpoint_id=snapshot.checkpoint_id,
            metadata=thread.metadata,
            error=thread.error,
            created_at=thread.created_at,
            updated_at=thread.updated_at,
            interrupts=tuple({"value": jsonable(i.value), "id": i.id} for i in snapshot.interrupts),
        )

    async def history(
        self, thread_id: str, *, limit: int = 10, before: str | None = None
    ) -> list[CheckpointSummary]:
        """Checkpoints of a thread, newest first, paged with ``limit`` / ``before``.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        thread = await self.threads.get(self.tenant, thread_id)
        loaded = await self._load_thread(thread)
        if loaded is None:
            return []
        return await read_history(
            self._graph(loaded, thread_id),
            self._key(thread_id),
            loaded.compiled,
            limit=max(1, min(limit, 1000)),
            before=before,
        )

    # -- service hooks -----------------------------------------------------------

    def for_tenant(self, tenant: str) -> Engine:
        """A view of this (open) engine acting for ``tenant``; shares pools and caches."""
        if tenant == self.tenant:
            return self
        view = copy.copy(self)
        view.tenant = tenant
        return view

    @property
    def owner(self) -> str:
        """This process's lease owner identity."""
        return self._owner

    async def execute_run(
        self,
        *,
        thread_id: str,
        run_id: str,
        workflow_id: str,
        version: int,
        input: Mapping[str, Any] | None,
        command: Mapping[str, Any] | None,
        options: RunOptions,
        fresh: bool | None = None,
        taken_over: bool = False,
    ) -> AsyncGenerator[RunEvent, None]:
        """Execute a queued run on an existing thread (used by workers).

        The caller already holds the run (the run queue guarantees one running
        run per thread), so the thread is taken over unconditionally, unless
        ``taken_over`` says the caller's claim already marked it running under
        ``run_id`` with this engine's owner; then, if the run stops before it
        starts (bad input, workflow gone, cancelled), the thread is settled again
        (``failed`` with the error, or ``idle``). ``fresh`` says whether the
        thread has no checkpoint yet, when the caller knows; otherwise the
        checkpoint is read to find out.

        Raises:
            InvalidInputError: the input no longer fits the workflow.
        """
        try:
            loaded = await self.catalog.load(self.tenant, workflow_id, version)
            lg_input: Any = None
            if command:
                lg_input = Command(
                    resume=command.get("resume"),
                    update=command.get("update"),
                    goto=command.get("goto") or (),
                )
            elif input is not None:
                if fresh is None:
                    graph = self._graph(loaded, thread_id)
                    fresh = (await read_state(graph, self._key(thread_id))).checkpoint_id is None
                lg_input = loaded.compiled.make_input(input, fresh=fresh)
        except BaseException as exc:
            if taken_over:
                await asyncio.shield(self._unstarted(thread_id, exc))
            raise
        if not taken_over:
            await self.threads.take_over(
                self.tenant,
                thread_id,
                run_id=run_id,
                owner=self._owner,
                lease_seconds=self.settings.lease_seconds,
            )
        async with aclosing(self._execute(loaded, thread_id, run_id, lg_input, options)) as events:
            async for event in events:
                yield event

    async def rollback_run(self, thread_id: str, run_id: str) -> None:
        """Undo a cancelled run: delete its checkpoints and reset the thread's status."""
        from graphwright.store.checkpoints import delete_run_checkpoints

        await delete_run_checkpoints(self._database.pool, self._key(thread_id), run_id)
        thread = await self.threads.get(self.tenant, thread_id)
        loaded = await self._load_thread(thread)
        if loaded is None:
            return
        snapshot = await read_state(self._graph(loaded, thread_id), self._key(thread_id))
        await self.threads.mark(
            self.tenant,
            thread_id,
            status="interrupted" if snapshot.interrupts else "idle",
            error=None,
        )

    async def delete_checkpoints(self, thread_id: str) -> None:
        """Delete every checkpoint of a thread."""
        await self._savers[0].adelete_thread(self._key(thread_id))

    # -- internals ---------------------------------------------------------------

    def _key(self, thread_id: str) -> str:
        """The checkpointer's thread id: tenant-qualified, so tenants never share state."""
        return f"{self.tenant}/{thread_id}"

    def _graph(self, loaded: LoadedWorkflow, thread_id: str) -> Any:
        saver = self._savers[hash(thread_id) % len(self._savers)]
        return loaded.graph(saver)

    async def _load_thread(self, thread: ThreadRecord) -> LoadedWorkflow | None:
        """The workflow version a thread runs, or None for a thread with no run yet."""
        if thread.workflow_id is None or thread.workflow_version is None:
            return None
        return await self.catalog.load(self.tenant, thread.workflow_id, thread.workflow_version)

    async def _find_thread(self, thread_id: str) -> ThreadRecord | None:
        try:
            return await self.threads.get(self.tenant, thread_id)
        except GraphwrightError as exc:
            if exc.code == "thread.not_found":
                return None
            raise

    async def _claim(
        self,
        thread_id: str,
        run_id: str,
        statuses: tuple[str, ...],
        *,
        reclaim_expired: bool = False,
    ) -> None:
        await self.threads.claim_for_run(
            self.tenant,
            thread_id,
            run_id=run_id,
            allow_statuses=statuses,  # type: ignore[arg-type]
            owner=self._owner,
            lease_seconds=self.settings.lease_seconds,
            reclaim_expired=reclaim_expired,
        )

    async def _keep_lease(self, thread_id: str, run_id: str) -> None:
        interval = max(self.settings.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            await self.threads.renew_lease(
                self.tenant,
                thread_id,
                run_id=run_id,
                owner=self._owner,
                lease_seconds=self.settings.lease_seconds,
            )

    async def _execute(
        self,
        loaded: LoadedWorkflow,
        thread_id: str,
        run_id: str,
        lg_input: Any,
        options: RunOptions | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        options = options or RunOptions()
        identity = RunIdentity(run_id, thread_id, loaded.published.workflow_id, loaded.version)
        translator = EventTranslator(identity)
        graph = self._graph(loaded, thread_id)
        configurable: dict[str, Any] = {
            **options.configurable,
            "thread_id": self._key(thread_id),
            "run_id": run_id,
            "gw_tenant": self.tenant,
        }
        if options.checkpoint_id:
            configurable["checkpoint_id"] = options.checkpoint_id
        config: dict[str, Any] = {
            "configurable": configurable,
            "recursion_limit": loaded.compiled.spec.limits.max_steps,
        }
        own = ("tasks", "custom", "checkpoints")
        modes = [*own, *(m for m in options.stream_modes if m not in own)]
        error: dict[str, Any] | None = None
        finished = False
        lease = asyncio.create_task(self._keep_lease(thread_id, run_id))
        try:
            # run.started is sent with the first task, i.e. once the run's input is
            # checkpointed: a caller that stops listening after it can resume the run.
            started = False
            try:
                stream = graph.astream(
                    lg_input,
                    config,
                    context=RunContext(tenant=self.tenant, run_id=run_id),
                    stream_mode=modes,
                    subgraphs=True,
                    durability=options.durability or self.settings.durability,
                    interrupt_before=options.interrupt_before,
                    interrupt_after=options.interrupt_after,
                )
                async with aclosing(stream):
                    async for namespace, mode, chunk in stream:
                        if not started:
                            started = True
                            yield identity.event("run.started")
                        if (
                            options.on_chunk is not None
                            and mode in options.stream_modes
                            and (options.subgraphs or not namespace)
                        ):
                            await options.on_chunk(namespace, mode, chunk)
                        for event in translator.translate(namespace, mode, chunk):
                            yield event
            except GraphRecursionError as exc:
                error = {
                    "code": "run.step_limit",
                    "message": f"run exceeded the workflow's step limit "
                    f"({loaded.compiled.spec.limits.max_steps}): {exc}",
                    "details": {"max_steps": loaded.compiled.spec.limits.max_steps},
                }
            except Exception as exc:  # noqa: BLE001 - any node failure ends the run failed, coded
                error = describe(exc)
            if not started:
                yield identity.event("run.started")
            result = await self._finish(loaded, graph, identity, error)
            finished = True
            event = identity.event("run.finished", data={"status": result.status})
            yield dataclasses.replace(event, result=result)
        finally:
            lease.cancel()
            if not finished:
                # The caller stopped listening (or was cancelled): record it so the
                # thread can be resumed from its last checkpoint.
                await asyncio.shield(self._abandon(graph, thread_id, options.cancelled_status))

    async def _unstarted(self, thread_id: str, exc: BaseException) -> None:
        """Settle a thread taken over for a run that stopped before it started."""
        status: ThreadStatus = "idle"
        error = {"code": "run.cancelled", "message": "the run was stopped before it started"}
        if isinstance(exc, GraphwrightError):
            status, error = "failed", exc.to_dict()
        with contextlib.suppress(GraphwrightError):  # the lease moved on: not ours to settle
            await self.threads.mark(
                self.tenant, thread_id, status=status, error=error, owner=self._owner
            )

    async def _abandon(self, graph: Any, thread_id: str, status: str = "failed") -> None:
        """Mark an abandoned run: ``status`` (resumable) if it checkpointed, else idle."""
        snapshot = await read_state(graph, self._key(thread_id))
        await self.threads.mark(
            self.tenant,
            thread_id,
            status=status if snapshot.checkpoint_id else "idle",  # type: ignore[arg-type]
            error={"code": "run.cancelled", "message": "the run was abandoned"},
            owner=self._owner,
        )

    async def _finish(
        self,
        loaded: LoadedWorkflow,
        graph: Any,
        identity: RunIdentity,
        error: dict[str, Any] | None,
    ) -> RunResult:
        snapshot = await read_state(graph, self._key(identity.thread_id))
        values = loaded.compiled.state.dump(snapshot.values)
        approvals = tuple(
            PendingApproval.from_interrupt(i.id, i.value) for i in snapshot.interrupts
        )
        status: Any
        if error is not None:
            status = "failed"
        elif approvals:
            status = "interrupted"
        else:
            status = "completed"
        await self.threads.mark(
            self.tenant, identity.thread_id, status=status, error=error, owner=self._owner
        )
        return RunResult(
            run_id=identity.run_id,
            thread_id=identity.thread_id,
            workflow_id=identity.workflow_id,
            workflow_version=identity.workflow_version,
            status=status,
            output=loaded.compiled.output(values),
            values=values,
            approvals=approvals if status == "interrupted" else (),
            error=error,
            interrupts=tuple({"value": jsonable(i.value), "id": i.id} for i in snapshot.interrupts)
            if status == "interrupted"
            else (),
        )


async def _last_result(events: AsyncIterator[RunEvent]) -> RunResult:
    result: RunResult | None = None
    async for event in events:
        if event.result is not None:
            result = event.result
    if result is None:  # pragma: no cover - _execute always ends with run.finished
        raise RunStateError("the run ended without a result", code="run.no_result")
    return result
