"""The embedding facade: publish workflows, run and resume threads, read their state.

An embedding program's run takes the one run path every run takes: a run row
(visible through the runs API, with its events in the event log), claimed by
this process and executed by its :class:`~graphwright.runtime.executor.RunExecutor`
under the run's lease. If the process dies, any worker (or a later
:meth:`Engine.resume`) continues the run under the same run id from its last
checkpoint. The engine keeps nothing about a run in memory once its call returns.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any, Self

from graphwright.errors import (
    ConfigurationError,
    GraphwrightError,
    NotFoundError,
    Problem,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.graphs.spec import WorkflowSpec
from graphwright.registry import Registry, load_registry_modules
from graphwright.runtime.catalog import Catalog
from graphwright.runtime.database import Database
from graphwright.runtime.decisions import resume_value
from graphwright.runtime.process import Runtime, open_runtime
from graphwright.runtime.results import CheckpointSummary, RunEvent, RunResult, ThreadState
from graphwright.runtime.run_request import RunRequest
from graphwright.settings import Settings
from graphwright.store.runs import RunRecord
from graphwright.store.threads import ThreadRecord, ThreadStore
from graphwright.store.workflows import PublishedWorkflow

__all__ = ["Engine"]

# Embedded runs log graphwright's progress events (always logged) and no values
# snapshots; a client following such a run over the API sees its progress.
_EMBEDDED_MODES = ("progress",)


class Engine:
    """Runs graphwright workflows in this process, for one tenant.

    Use as an async context manager::

        async with Engine.from_settings(registry=registry) as engine:
            await engine.publish(spec)
            result = await engine.run("asset-discovery", input={...})
    """

    def __init__(
        self,
        settings: Settings,
        *,
        registry: Registry,
        database: Database | None = None,
        workers: bool = False,
    ) -> None:
        """Prepare an engine; nothing connects until ``async with`` (or :meth:`open`).

        Args:
            settings: Database, tenant (``settings.tenant``), leases, limits.
            registry: The node implementations.
            database: An open database to share (not closed by the engine).
            workers: Also run ``settings.workers`` worker slots that execute queued
                runs of any tenant (as ``graphwright worker`` does).
        """
        self.settings = settings
        self.registry = registry
        self.tenant = settings.tenant
        self._database = database
        self._workers = workers
        self._stack: contextlib.AsyncExitStack | None = None
        self._runtime: Runtime | None = None

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
        stack = contextlib.AsyncExitStack()
        try:
            self._runtime = await stack.enter_async_context(
                open_runtime(
                    self.settings,
                    registry=self.registry,
                    start_workers=self._workers,
                    database=self._database,
                )
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        """Close what :meth:`open` opened."""
        stack, self._stack, self._runtime = self._stack, None, None
        if stack is not None:
            await stack.aclose()

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
    def runtime(self) -> Runtime:
        """The process runtime (raises if the engine is not open)."""
        if self._runtime is None:
            raise ConfigurationError("the engine is not open", code="engine.not_open")
        return self._runtime

    @property
    def catalog(self) -> Catalog:
        """Published workflows."""
        return self.runtime.catalog

    @property
    def threads(self) -> ThreadStore:
        """Thread records."""
        return self.runtime.threads

    @property
    def owner(self) -> str:
        """This process's lease owner identity."""
        return self.runtime.owner

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
        configurable: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Run a workflow until it completes, fails or waits at approval gates.

        Args:
            workflow_id: Published workflow id.
            input: Values of the workflow's input fields.
            thread_id: Run on this thread (created if new). Default: a new thread.
            version: Version to start a new thread on (default: latest).
            metadata: Stored with a new thread.
            configurable: LangGraph ``configurable`` values node code reads with
                ``get_config()`` (graphwright's own keys cannot be overridden).
            context: LangGraph runtime context node code reads as
                ``get_runtime(RunContext).context.values``.

        Raises:
            InvalidInputError: ``state.invalid_input``; nothing is created.
            NotFoundError: unknown workflow or version.
            WorkflowConflictError: ``thread.busy`` when the thread is running.
            RunStateError: the thread waits at an approval gate (use :meth:`resume`).
        """
        return await _last_result(
            self.stream(
                workflow_id,
                input,
                thread_id=thread_id,
                version=version,
                metadata=metadata,
                configurable=configurable,
                context=context,
            )
        )

    async def stream(
        self,
        workflow_id: str,
        input: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        version: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        configurable: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[RunEvent, None]:
        """Like :meth:`run`, yielding progress events; the last is ``run.finished``."""
        if thread_id is not None:
            thread = await self._find_thread(thread_id)
            if thread is not None and thread.status in ("interrupted", "failed"):
                raise RunStateError(
                    f"thread {thread_id!r} is {thread.status}; resume it instead",
                    code="run.invalid_state",
                    details={
                        "thread_id": thread_id,
                        "status": thread.status,
                        "allowed": ["idle", "completed"],
                    },
                )
        request = RunRequest(
            assistant_id=workflow_id,
            input=dict(input or {}),
            thread_metadata=dict(metadata or {}),
            config={"configurable": dict(configurable)} if configurable else {},
            context=dict(context or {}),
            stream_mode=_EMBEDDED_MODES,
            if_not_exists="create",
            on_completion="keep",
            version=version,
        )
        run = await self.runtime.run_service.create(
            self.tenant, thread_id or str(uuid.uuid4()), request, here=True
        )
        async with aclosing(self._execute(run)) as events:
            async for event in events:
                yield event

    async def resume(self, thread_id: str, decision: Any = None) -> RunResult:
        """Continue a thread: answer its approval gate(s), or retry after a failure.

        For a thread waiting at one gate, ``decision`` is ``"approve"`` or
        ``{"decision": "edit", "edits": {...}, "comment": ...}``; with several
        gates, a mapping from approval id to decision. A failed thread (or one
        whose process died) continues its last run, under the same run id, from
        its last checkpoint without re-running completed nodes; ``decision`` must
        then be None.

        Raises:
            ApprovalError: the decision is invalid; the thread stays paused.
            RunStateError: nothing to resume.
            WorkflowConflictError: ``thread.busy`` while the run holds its lease.
        """
        return await _last_result(self.stream_resume(thread_id, decision))

    async def stream_resume(
        self, thread_id: str, decision: Any = None
    ) -> AsyncGenerator[RunEvent, None]:
        """Like :meth:`resume`, yielding progress events."""
        runtime = self.runtime
        thread = await runtime.threads.get(self.tenant, thread_id)
        loaded = await runtime.states.load_thread(self.tenant, thread)
        if loaded is None:
            raise RunStateError(f"thread '{thread_id}' has not run yet; nothing to resume")
        if thread.status == "interrupted":
            pending = (await runtime.checkpoints.state(loaded, self.tenant, thread_id)).interrupts
            request = RunRequest(
                assistant_id=loaded.published.workflow_id,
                command={"resume": resume_value(loaded.compiled, pending, decision)},
                stream_mode=_EMBEDDED_MODES,
            )
            run = await runtime.run_service.create(self.tenant, thread_id, request, here=True)
        elif thread.status in ("failed", "running"):
            if decision is not None:
                raise RunStateError(
                    f"thread '{thread_id}' is {thread.status}, not waiting for a decision",
                    details={"status": thread.status},
                )
            run = await self._continue(thread)
        else:
            raise RunStateError(
                f"thread '{thread_id}' is {thread.status}; there is nothing to resume",
                details={"status": thread.status},
            )
        async with aclosing(self._execute(run)) as events:
            async for event in events:
                yield event

    # -- state -------------------------------------------------------------------

    async def get_state(self, thread_id: str) -> ThreadState:
        """Current values, next nodes and pending approvals of a thread.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        return await self.runtime.states.get_state(self.tenant, thread_id)

    async def history(
        self, thread_id: str, *, limit: int = 10, before: str | None = None
    ) -> list[CheckpointSummary]:
        """Checkpoints of a thread, newest first, paged with ``limit`` / ``before``.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        return await self.runtime.states.history(self.tenant, thread_id, limit=limit, before=before)

    # -- internals ---------------------------------------------------------------

    async def _execute(self, run: RunRecord) -> AsyncGenerator[RunEvent, None]:
        # A run created with its thread was claimed with the thread taken over.
        taken_over = run.payload.new_thread and run.attempts == 1
        events = self.runtime.executor.process(run, taken_over=taken_over)
        async with aclosing(events) as stream:
            async for event in stream:
                yield event

    async def _continue(self, thread: ThreadRecord) -> RunRecord:
        """Claim the thread's last run again (same run id), or start one continuing it."""
        runtime = self.runtime
        if thread.run_id is not None:
            run = await runtime.runs.reclaim(
                self.tenant,
                thread.run_id,
                owner=runtime.owner,
                lease_seconds=self.settings.lease_seconds,
                max_attempts=self.settings.run_max_attempts,
            )
            if run is not None:
                return run
            with contextlib.suppress(NotFoundError):
                current = await runtime.runs.get(self.tenant, thread.run_id)
                if current.status in ("pending", "running"):
                    raise WorkflowConflictError(
                        f"thread {thread.thread_id!r} is busy with run {current.run_id!r}",
                        code="thread.busy",
                        details={"thread_id": thread.thread_id, "run_id": current.run_id},
                    )
        request = RunRequest(
            assistant_id=thread.workflow_id or "", input=None, stream_mode=_EMBEDDED_MODES
        )
        return await runtime.run_service.create(self.tenant, thread.thread_id, request, here=True)

    async def _find_thread(self, thread_id: str) -> ThreadRecord | None:
        try:
            return await self.threads.get(self.tenant, thread_id)
        except GraphwrightError as exc:
            if exc.code == "thread.not_found":
                return None
            raise


async def _last_result(events: AsyncIterator[RunEvent]) -> RunResult:
    result: RunResult | None = None
    async for event in events:
        if event.result is not None:
            result = event.result
    if result is None:  # pragma: no cover - the executor always ends with run.finished
        raise RunStateError("the run ended without a result", code="run.no_result")
    return result
