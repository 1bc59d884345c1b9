"""Every endpoint of the client, written once: ``client.workflows``, ``.approvals``, ``.runs``...

Each method builds the :class:`~graphwright.client.calls.Call` (method, path, query,
body, how to read the answer, whether it may be sent again); :func:`endpoint` makes
it a blocking method on :class:`~graphwright.client.Client` and a coroutine method on
:class:`~graphwright.client.AsyncClient` (see :mod:`graphwright.client.endpoints`).
Adding an endpoint means adding one method here.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Coroutine, Mapping
from typing import Any, Literal, Unpack, overload

import httpx

from graphwright.client.calls import (
    ApprovalStatus,
    Call,
    CancelAction,
    Document,
    RunOptions,
    StreamMode,
    document_body,
    has_code,
    parse_model,
    parse_models,
    parse_nothing,
    query,
    run_body,
    run_location,
    runs_path,
    segment,
)
from graphwright.client.endpoints import Awaiting, Blocking, M, Resource, endpoint
from graphwright.client.errors import problem_body
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

__all__ = ["Approvals", "HealthChecks", "Operations", "Runs", "Threads", "Workflows"]


class Workflows(Resource[M]):
    """``/workflows``: validate, publish and read workflow documents."""

    @endpoint
    def validate(self, doc: Document) -> Call[ValidationResult]:
        """Check a document without publishing it (problems are a result, not an error)."""
        data, content = document_body(doc)
        return Call(
            "POST",
            "/workflows/validate",
            _validation,
            json=data,
            content=content,
            idempotent=True,
            accept=has_code(422, "workflow.invalid"),
        )

    @endpoint
    def publish(self, doc: Document) -> Call[PublishedWorkflow]:
        """Publish a new version (``created=False`` when identical content exists).

        Raises:
            InvalidRequestError: ``workflow.invalid`` with every problem.
        """
        data, content = document_body(doc)
        return Call(
            "POST",
            "/workflows",
            parse_model(PublishedWorkflow),
            json=data,
            content=content,
            idempotent=True,  # publishing identical content again is a no-op
        )

    @endpoint
    def get(self, workflow_id: str, version: int | None = None) -> Call[PublishedWorkflow]:
        """One version (default: the latest) with its document."""
        return Call(
            "GET",
            f"/workflows/{segment(workflow_id)}",
            parse_model(PublishedWorkflow),
            params=query(version=version) or None,
            idempotent=True,
        )

    @endpoint
    def versions(self, workflow_id: str) -> Call[builtins.list[PublishedWorkflow]]:
        """Every version, oldest first."""
        path = f"/workflows/{segment(workflow_id)}/versions"
        return Call("GET", path, parse_models(PublishedWorkflow), idempotent=True)

    @endpoint
    def list(self) -> Call[builtins.list[PublishedWorkflow]]:
        """The latest version of each workflow."""
        return Call("GET", "/workflows", parse_models(PublishedWorkflow), idempotent=True)

    # The result type follows ``format``: overloads per client mode, as no decorator can
    # carry overloads. The implementation is one method like the others.
    @overload
    def graph(
        self: Workflows[Blocking],
        workflow_id: str,
        format: Literal["json"] = ...,
        *,
        version: int | None = ...,
    ) -> dict[str, Any]: ...
    @overload
    def graph(
        self: Workflows[Blocking],
        workflow_id: str,
        format: Literal["mermaid"],
        *,
        version: int | None = ...,
    ) -> str: ...
    @overload
    def graph(
        self: Workflows[Awaiting],
        workflow_id: str,
        format: Literal["json"] = ...,
        *,
        version: int | None = ...,
    ) -> Coroutine[Any, Any, dict[str, Any]]: ...
    @overload
    def graph(
        self: Workflows[Awaiting],
        workflow_id: str,
        format: Literal["mermaid"],
        *,
        version: int | None = ...,
    ) -> Coroutine[Any, Any, str]: ...
    def graph(
        self,
        workflow_id: str,
        format: Literal["json", "mermaid"] = "json",
        *,
        version: int | None = None,
    ) -> Any:
        """The graph as nodes and edges (``json``) or Mermaid text."""

        def parse(response: httpx.Response) -> dict[str, Any] | str:
            if format == "mermaid":
                return response.text
            body: dict[str, Any] = response.json()
            return body

        path = f"/workflows/{segment(workflow_id)}/graph"
        params = query(format=format, version=version)
        return self.client.send(Call("GET", path, parse, params=params, idempotent=True))


class Approvals(Resource[M]):
    """``/approvals``: the inbox of approval gates."""

    @endpoint
    def list(
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
    ) -> Call[builtins.list[Approval]]:
        """Approvals, oldest first; ``metadata`` must be contained in the thread's."""
        params = query(
            status=status,
            limit=limit,
            offset=offset,
            workflow_id=workflow_id,
            thread_id=thread_id,
            metadata=json.dumps(dict(metadata)) if metadata else None,
            older_than=older_than,
            newer_than=newer_than,
        )
        return Call("GET", "/approvals", parse_models(Approval), params=params, idempotent=True)

    @endpoint
    def get(self, approval_id: str) -> Call[Approval]:
        """One approval."""
        path = f"/approvals/{segment(approval_id)}"
        return Call("GET", path, parse_model(Approval), idempotent=True)

    @endpoint
    def decide(
        self,
        approval_id: str,
        decision: str,
        *,
        comment: str | None = None,
        edits: Mapping[str, Any] | None = None,
        by: str | None = None,
    ) -> Call[Approval]:
        """Decide a pending approval; the thread resumes in ``resume_run_id``.

        Not retried: a second decision is a 409.

        Raises:
            ConflictError: ``approval.already_decided`` or ``approval.stale``.
            InvalidRequestError: ``approval.invalid_decision`` / ``approval.invalid_edit``.
        """
        body: dict[str, Any] = {"decision": decision}
        if comment is not None:
            body["comment"] = comment
        if edits is not None:
            body["edits"] = dict(edits)
        if by is not None:
            body["by"] = by
        path = f"/approvals/{segment(approval_id)}/decide"
        return Call("POST", path, parse_model(Approval), json=body)


class HealthChecks(Resource[M]):
    """``/healthz`` and ``/readyz``."""

    @endpoint
    def healthz(self) -> Call[Health]:
        """Whether the process answers."""
        return Call("GET", "/healthz", parse_model(Health), idempotent=True)

    @endpoint
    def readyz(self) -> Call[Readiness]:
        """Whether its dependencies are reachable (``ready=False`` with failed checks)."""
        accept = has_code(503, "service.not_ready")
        return Call("GET", "/readyz", _readiness, idempotent=True, accept=accept)


class Operations(Resource[M]):
    """``/ops``: operations at a glance."""

    @endpoint
    def summary(self) -> Call[OpsSummary]:
        """Queue depth, running runs, failures in the last hour and pending approvals.

        For the caller's tenant (and metadata scope), in total and per workflow.
        """
        return Call("GET", "/ops/summary", parse_model(OpsSummary), idempotent=True)


class Runs(Resource[M]):
    """Runs on threads (``thread_id=None``: on a new thread)."""

    @endpoint
    def create(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        stream_mode: StreamMode | None = None,
        after_seconds: float | None = None,
        **options: Unpack[RunOptions],
    ) -> Call[Run]:
        """Queue a background run (``stream_mode`` decides what its streams carry)."""
        body = run_body(
            workflow_id, stream_mode=stream_mode, after_seconds=after_seconds, **options
        )
        return Call("POST", runs_path(thread_id), parse_model(Run), json=body)

    @endpoint
    def get(self, thread_id: str, run_id: str) -> Call[Run]:
        """One run."""
        path = runs_path(thread_id, f"/{segment(run_id)}")
        return Call("GET", path, parse_model(Run), idempotent=True)

    @endpoint
    def list(
        self, thread_id: str, *, status: str | None = None, limit: int = 10, offset: int = 0
    ) -> Call[builtins.list[Run]]:
        """Runs of a thread, newest first."""
        params = query(limit=limit, offset=offset, status=status)
        return Call("GET", runs_path(thread_id), parse_models(Run), params=params, idempotent=True)

    @endpoint
    def wait(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        timeout: float | None = None,
        **options: Unpack[RunOptions],
    ) -> Call[RunOutput]:
        """Create a run and wait for its end: values, pending interrupts or the error.

        ``timeout`` bounds the wait for the answer in seconds (None: no limit).
        """
        path = runs_path(thread_id, "/wait")
        body = run_body(workflow_id, **options)
        return Call("POST", path, _output, json=body, long_poll=True, read_timeout=timeout)

    @endpoint
    def join(self, thread_id: str, run_id: str, *, timeout: float | None = None) -> Call[RunOutput]:
        """Wait for a run's end: the thread's values, pending interrupts or the error.

        ``timeout`` bounds the wait for the answer in seconds (None: no limit).
        """

        def parse(response: httpx.Response) -> RunOutput:
            return RunOutput.from_body(response.json(), run_id=run_id, thread_id=thread_id)

        return Call(
            "GET",
            runs_path(thread_id, f"/{segment(run_id)}/join"),
            parse,
            idempotent=True,
            long_poll=True,
            read_timeout=timeout,
        )

    @endpoint
    def cancel(
        self,
        thread_id: str,
        run_id: str,
        *,
        wait: bool = False,
        action: CancelAction = "interrupt",
    ) -> Call[Run | None]:
        """Cancel a pending or running run; with ``wait`` the stopped run.

        Returns None without ``wait``, and when ``action="rollback"`` deleted the run.

        Raises:
            ConflictError: ``run.not_active`` when it already ended.
        """

        def parse(response: httpx.Response) -> Run | None:
            if response.status_code in (202, 204) or not response.content:
                return None
            return Run.model_validate(response.json())

        return Call(
            "POST",
            runs_path(thread_id, f"/{segment(run_id)}/cancel"),
            parse,
            params=[("wait", "true" if wait else "false"), ("action", action)],
            long_poll=wait,
        )


class Threads(Resource[M]):
    """``/threads``: create, read and delete threads."""

    @endpoint
    def create(
        self,
        metadata: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        if_exists: Literal["raise", "do_nothing"] | None = None,
    ) -> Call[Thread]:
        """Create a thread (``metadata["graph_id"]`` binds it to a workflow)."""
        body: dict[str, Any] = {"metadata": dict(metadata or {})}
        if thread_id is not None:
            body["thread_id"] = thread_id
        if if_exists is not None:
            body["if_exists"] = if_exists
        return Call("POST", "/threads", parse_model(Thread), json=body)

    @endpoint
    def get(self, thread_id: str) -> Call[Thread]:
        """One thread with its values and pending interrupts."""
        return Call("GET", f"/threads/{segment(thread_id)}", parse_model(Thread), idempotent=True)

    @endpoint
    def state(self, thread_id: str) -> Call[ThreadState]:
        """The thread's current state."""
        path = f"/threads/{segment(thread_id)}/state"
        return Call("GET", path, parse_model(ThreadState), idempotent=True)

    @endpoint
    def delete(self, thread_id: str) -> Call[None]:
        """Delete a thread with its runs, events and approvals."""
        return Call("DELETE", f"/threads/{segment(thread_id)}", parse_nothing, idempotent=True)


# -- answers read by more than a model ------------------------------------------------------


def _validation(response: httpx.Response) -> ValidationResult:
    body = problem_body(response)
    if response.is_error:
        return ValidationResult.model_validate(
            {"valid": False, "problems": body.get("problems") or []}
        )
    return ValidationResult.model_validate(body)


def _readiness(response: httpx.Response) -> Readiness:
    body = problem_body(response)
    return Readiness(
        ready=not response.is_error,
        checks=body.get("checks") or {},
        failed=body.get("failed") or [],
        detail=body.get("detail"),
    )


def _output(response: httpx.Response) -> RunOutput:
    where = run_location(response)
    thread_id, run_id = where if where is not None else (None, None)
    return RunOutput.from_body(response.json(), run_id=run_id, thread_id=thread_id)
