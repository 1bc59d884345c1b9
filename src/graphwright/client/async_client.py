"""The asynchronous graphwright client (``httpx.AsyncClient`` underneath)."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx

from graphwright.client import calls
from graphwright.client.calls import (
    ApprovalStatus,
    Call,
    CancelAction,
    Document,
    RunOptions,
    StreamMode,
)
from graphwright.client.errors import (
    GraphwrightConnectionError,
    NotFoundError,
    error_from_response,
)
from graphwright.client.models import (
    Approval,
    Health,
    PublishedWorkflow,
    Readiness,
    Run,
    RunOutput,
    StreamEvent,
    Thread,
    ThreadState,
    ValidationResult,
)
from graphwright.client.retry import Backoff, RetryPolicy
from graphwright.client.sse import SSEDecoder
from graphwright.client.streams import StreamSession

__all__ = ["AsyncClient", "AsyncEventStream"]

T = TypeVar("T")


class AsyncClient:
    """Async client for graphwright's own endpoints and the run and stream calls a UI needs.

    Use it for workflows (validate, publish, versions, graph), the approvals
    inbox, health, and streams that resume by themselves after a dropped
    connection. The official ``langgraph-sdk`` keeps working against the same
    server for everything it covers (assistants, thread history, state updates,
    crons...): use it where you already do.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8123``.
        api_key: Sent as ``X-Api-Key``.
        bearer_token: Sent as ``Authorization: Bearer <token>``.
        timeout: Seconds for connecting and for each read (``wait``/``join`` wait longer).
        retries: Times a request is sent again after a connection failure (never after 4xx).
        headers: Extra headers for every request.
        reconnect_attempts: Consecutive failed attempts before a stream raises ``StreamError``.
        backoff: Base delay in seconds between attempts (doubling, with jitter, up to 5 s).
        transport: An httpx transport (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        bearer_token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        headers: Mapping[str, str] | None = None,
        reconnect_attempts: int = 8,
        backoff: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._policy = RetryPolicy(retries, Backoff(backoff))
        self._reconnect_attempts = reconnect_attempts
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=calls.client_headers(
                api_key=api_key, bearer_token=bearer_token, headers=headers
            ),
            timeout=timeout,
            transport=transport,
        )
        self.workflows = AsyncWorkflows(self)
        self.approvals = AsyncApprovals(self)
        self.health = AsyncHealthChecks(self)
        self.runs = AsyncRuns(self)
        self.threads = AsyncThreads(self)

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call, retrying as :class:`~graphwright.client.retry.RetryPolicy` allows.

        Raises:
            GraphwrightAPIError: the server's error (a typed subclass).
            GraphwrightConnectionError: no answer after the allowed retries.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=tuple(call.params) if call.params is not None else None,
                    json=call.json,
                    content=call.content,
                    headers={"Content-Type": "application/json"} if call.content else None,
                    timeout=self._call_timeout(call),
                )
            except httpx.TransportError as exc:
                delay = self._policy.after_error(exc, attempt=attempt, idempotent=call.idempotent)
                if delay is None:
                    raise GraphwrightConnectionError(
                        f"{call.method} {call.path} failed: {exc!r}"
                    ) from exc
                await asyncio.sleep(delay)
                continue
            if not response.is_error or call.accepts(response):
                return call.parse(response)
            delay = self._policy.after_status(
                response.status_code, attempt=attempt, idempotent=call.idempotent
            )
            if delay is None:
                raise error_from_response(response)
            await asyncio.sleep(delay)

    def _call_timeout(self, call: Call[Any]) -> httpx.Timeout:
        if call.long_poll:
            return httpx.Timeout(self._timeout, read=call.read_timeout)
        return httpx.Timeout(self._timeout)

    # -- streams ---------------------------------------------------------------------

    def stream_run(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        stream_mode: StreamMode = ("progress",),
        on_disconnect: Literal["cancel", "continue"] = "continue",
        **options: Unpack[RunOptions],
    ) -> AsyncEventStream:
        """Create a run and stream its events, resuming after dropped connections.

        ``thread_id=None`` runs on a new thread. ``options`` are those of
        :meth:`AsyncRuns.create` (``input``, ``command``, ``metadata``...). The
        run id is known (``stream.run_id``) once the server accepted the run.
        ``on_disconnect="continue"`` keeps the run going while the client reconnects.
        """
        body = calls.run_body(
            workflow_id, stream_mode=stream_mode, on_disconnect=on_disconnect, **options
        )
        create = (calls.runs_path(thread_id, "/stream"), body)
        return self._stream(StreamSession(thread_id=thread_id, create=create, **self._sk()))

    def follow_run(
        self, thread_id: str, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncEventStream:
        """Events of a run after ``last_event_id`` (all without), live until the run ends."""
        session = StreamSession(
            thread_id=thread_id, run_id=run_id, last_event_id=last_event_id, **self._sk()
        )
        return self._stream(session)

    def follow_thread(
        self, thread_id: str, *, last_event_id: str | None = None
    ) -> AsyncEventStream:
        """Events of every run of a thread (ids ``<run_id>:<seq>``), until closed."""
        session = StreamSession(thread_id=thread_id, last_event_id=last_event_id, **self._sk())
        return self._stream(session)

    def _sk(self) -> dict[str, Any]:
        return {"attempts": self._reconnect_attempts, "backoff": self._policy.backoff}

    def _stream(self, session: StreamSession) -> AsyncEventStream:
        return AsyncEventStream(session, self._events(session))

    async def _events(self, session: StreamSession) -> AsyncIterator[StreamEvent]:
        timeout = httpx.Timeout(self._timeout, read=max(self._timeout, 60.0))
        while True:
            request = session.request()
            decoder = SSEDecoder()
            try:
                async with self._http.stream(
                    request.method,
                    request.path,
                    headers=request.headers,
                    json=request.json,
                    timeout=timeout,
                ) as response:
                    if response.is_error:
                        await response.aread()
                        delay = session.refused(error_from_response(response))
                    else:
                        session.opened(response)
                        async for line in response.aiter_lines():
                            event = decoder.feed(line)
                            if event is not None and session.accept(event):
                                yield event
                        ended = session.follows_run and await self._run_ended(session)
                        delay = session.closed(alive=decoder.alive, run_ended=ended)
            except httpx.TransportError as exc:
                delay = session.broken(exc, alive=decoder.alive)
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def _run_ended(self, session: StreamSession) -> bool:
        """Whether the followed run ended (False when that cannot be known now)."""
        if session.thread_id is None or session.run_id is None:
            return True  # the creation named no run: there is nothing to resume
        try:
            run = await self.send(calls.get_run(session.thread_id, session.run_id))
        except NotFoundError:
            return True  # rolled back: its stream is over
        except GraphwrightConnectionError:
            return False  # reconnecting will tell
        return run.ended


class AsyncEventStream:
    """An async iterator of :class:`StreamEvent` that reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID`` (backoff,
    bounded attempts), so the events it yields have no gap and no duplicate.
    Close it (``aclose`` or ``async with``) when stopping early.
    """

    def __init__(self, session: StreamSession, events: AsyncIterator[StreamEvent]) -> None:
        self._session = session
        self._events = events

    @property
    def thread_id(self) -> str | None:
        """The thread (known once a stateless creation answered)."""
        return self._session.thread_id

    @property
    def run_id(self) -> str | None:
        """The run followed (None for a thread stream)."""
        return self._session.run_id

    @property
    def last_event_id(self) -> str | None:
        """Id of the last event yielded: resume from it later with ``follow_*``."""
        return self._session.last_event_id

    @property
    def reconnects(self) -> int:
        """How many times the connection was re-established."""
        return self._session.reconnects

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop following and close the connection."""
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
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
        """Approvals, oldest first; ``metadata`` must be contained in the thread's."""
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
        """Wait for a run's end: the thread's values, pending interrupts or the error.

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
        """The thread's current state."""
        return await self._client.send(calls.thread_state(thread_id))

    async def delete(self, thread_id: str) -> None:
        """Delete a thread with its runs, events and approvals."""
        await self._client.send(calls.delete_thread(thread_id))
