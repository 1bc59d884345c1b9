"""Resources of :class:`~graphwright.client.AsyncClient`: workflows, approvals, runs..."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeVar, Unpack, overload

from graphwright.client import calls
from graphwright.client.calls import (
    ApprovalStatus,
    Call,
    CancelAction,
    Document,
    RunOptions,
    StreamMode,
)
from graphwright.client.models import (
    Approval,
    Health,
    OpsSummary,
    PublishedWorkflow,
    Readiness,
    Run,
    RunOutput,
    Thread,
    ThreadState,
    ValidationResult,
)

__all__ = [
    "AsyncApprovals",
    "AsyncHealthChecks",
    "AsyncOperations",
    "AsyncRuns",
    "AsyncThreads",
    "AsyncWorkflows",
]

T = TypeVar("T")


class _Sender(Protocol):
    async def send(self, call: Call[T]) -> T: ...


class _Resource:
    def __init__(self, client: _Sender) -> None:
        self._client = client


class AsyncWorkflows(_Resource):
    """``/workflows``: validate, publish and read workflow documents."""

    async def validate(self, doc: Document) -> ValidationResult:
        """Check a document without publishing it (problems are a result, not an error)."""
        return await self._client.send(calls.validate_workflow(doc))

    async def publish(self, doc: Document) -> PublishedWorkflow:
        """Publish a new version (``created=False`` when identical content exists).

        Raises:
            InvalidRequestError: ``workflow.invalid`` with every problem.
        """
        return await self._client.send(calls.publish_workflow(doc))

    async def get(self, workflow_id: str, version: int | None = None) -> PublishedWorkflow:
        """One version (default: the latest) with its document."""
        return await self._client.send(calls.get_workflow(workflow_id, version))

    async def versions(self, workflow_id: str) -> builtins.list[PublishedWorkflow]:
        """Every version, oldest first."""
        return await self._client.send(calls.workflow_versions(workflow_id))

    async def list(self) -> builtins.list[PublishedWorkflow]:
        """The latest version of each workflow."""
        return await self._client.send(calls.list_workflows())

    @overload
    async def graph(
        self, workflow_id: str, format: Literal["json"] = ..., *, version: int | None = ...
    ) -> dict[str, Any]: ...
    @overload
    async def graph(
        self, workflow_id: str, format: Literal["mermaid"], *, version: int | None = ...
    ) -> str: ...
    async def graph(
        self,
        workflow_id: str,
        format: Literal["json", "mermaid"] = "json",
        *,
        version: int | None = None,
    ) -> dict[str, Any] | str:
        """The graph as nodes and edges (``json``) or Mermaid text."""
        return await self._client.send(calls.workflow_graph(workflow_id, format, version))


class AsyncApprovals(_Resource):
    """``/approvals``: the inbox of approval gates."""

    async def list(
        self,
        *,
        status: ApprovalStatus = "pending",
        workflow_id: str | None = None,
        thread_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        older_than: float | None = None,
        newer_than: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Approval]:
        """Approvals, oldest first; ``metadata`` must be contained in the thread"s."""
        return await self._client.send(
            calls.list_approvals(
                status=status,
                workflow_id=workflow_id,
                thread_id=thread_id,
                metadata=metadata,
                older_than=older_than,
                newer_than=newer_than,
                limit=limit,
                offset=offset,
            )
        )

    async def get(self, approval_id: str) -> Approval:
        """One approval."""
        return await self._client.send(calls.get_approval(approval_id))

    async def decide(
        self,
        approval_id: str,
        decision: str,
        *,
        comment: str | None = None,
        edits: Mapping[str, Any] | None = None,
        by: str | None = None,
    ) -> Approval:
        """Decide a pending approval; the thread resumes in ``resume_run_id``.

        Raises:
            ConflictError: ``approval.already_decided`` or ``approval.stale``.
            InvalidRequestError: ``approval.invalid_decision`` / ``approval.invalid_edit``.
        """
        call = calls.decide_approval(approval_id, decision, comment=comment, edits=edits, by=by)
        return await self._client.send(call)


class AsyncHealthChecks(_Resource):
    """``/healthz`` and ``/readyz``."""

    async def healthz(self) -> Health:
        """Whether the process answers."""
        return await self._client.send(calls.healthz())

    async def readyz(self) -> Readiness:
        """Whether its dependencies are reachable (``ready=False`` with failed checks)."""
        return await self._client.send(calls.readyz())


class AsyncOperations(_Resource):
    """``/ops``: operations at a glance."""

    async def summary(self) -> OpsSummary:
        """Queue depth, running runs, failures in the last hour and pending approvals.

        For the caller's tenant (and metadata scope), in total and per workflow.
        """
        return await self._client.send(calls.ops_summary())


class AsyncRuns(_Resource):
    """Runs on threads (``thread_id=None``: on a new thread)."""

    async def create(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        stream_mode: StreamMode | None = None,
        after_seconds: float | None = None,
        **options: Unpack[RunOptions],
    ) -> Run:
        """Queue a background run (``stream_mode`` decides what its streams carry)."""
        body = calls.run_body(
            workflow_id, stream_mode=stream_mode, after_seconds=after_seconds, **options
        )
        return await self._client.send(calls.create_run(thread_id, body))

    async def get(self, thread_id: str, run_id: str) -> Run:
        """One run."""
        return await self._client.send(calls.get_run(thread_id, run_id))

    async def list(
        self, thread_id: str, *, status: str | None = None, limit: int = 10, offset: int = 0
    ) -> builtins.list[Run]:
        """Runs of a thread, newest first."""
        return await self._client.send(
            calls.list_runs(thread_id, status=status, limit=limit, offset=offset)
        )

    async def wait(
        self,
        thread_id: str | None,
        workflow_id: str,
        **options: Unpack[RunOptions],
    ) -> RunOutput:
        """Create a run and wait for its end: values, pending interrupts or the error.

        There is no read timeout: bound the wait with ``asyncio.timeout``.
        """
        body = calls.run_body(workflow_id, **options)
        return await self._client.send(calls.wait_run(thread_id, body, timeout=None))

    async def join(self, thread_id: str, run_id: str) -> RunOutput:
        """Wait for a run"s end: the thread"s values, pending interrupts or the error.

        There is no read timeout: bound the wait with ``asyncio.timeout``.
        """
        return await self._client.send(calls.join_run(thread_id, run_id, timeout=None))

    async def cancel(
        self,
        thread_id: str,
        run_id: str,
        *,
        wait: bool = False,
        action: CancelAction = "interrupt",
    ) -> Run | None:
        """Cancel a pending or running run; with ``wait`` the stopped run.

        Raises:
            ConflictError: ``run.not_active`` when it already ended.
        """
        return await self._client.send(
            calls.cancel_run(thread_id, run_id, wait=wait, action=action)
        )


class AsyncThreads(_Resource):
    """``/threads``: create, read and delete threads."""

    async def create(
        self,
        metadata: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        if_exists: Literal["raise", "do_nothing"] | None = None,
    ) -> Thread:
        """Create a thread (``metadata["graph_id"]`` binds it to a workflow)."""
        return await self._client.send(
            calls.create_thread(metadata, thread_id=thread_id, if_exists=if_exists)
        )

    async def get(self, thread_id: str) -> Thread:
        """One thread with its values and pending interrupts."""
        return await self._client.send(calls.get_thread(thread_id))

    async def state(self, thread_id: str) -> ThreadState:
        """The thread"s current state."""
        return await self._client.send(calls.thread_state(thread_id))

    async def delete(self, thread_id: str) -> None:
        """Delete a thread with its runs, events and approvals."""
        await self._client.send(calls.delete_thread(thread_id))
