"""The synchronous graphwright client (``httpx.Client`` underneath, no event loop)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping
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

__all__ = ["Client", "EventStream"]

T = TypeVar("T")


class Client:
    """Client for graphwright's own endpoints and the run and stream calls a UI needs.

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._policy = RetryPolicy(retries, Backoff(backoff))
        self._reconnect_attempts = reconnect_attempts
        self._http = httpx.Client(
            base_url=base_url,
            headers=calls.client_headers(
                api_key=api_key, bearer_token=bearer_token, headers=headers
            ),
            timeout=timeout,
            transport=transport,
        )
        self.workflows = Workflows(self)
        self.approvals = Approvals(self)
        self.health = HealthChecks(self)
        self.runs = Runs(self)
        self.threads = Threads(self)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying as :class:`~graphwright.client.retry.RetryPolicy` allows.

        Raises:
            GraphwrightAPIError: the server's error (a typed subclass).
            GraphwrightConnectionError: no answer after the allowed retries.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
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
                time.sleep(delay)
                continue
            if not response.is_error or call.accepts(response):
                return call.parse(response)
            delay = self._policy.after_status(
                response.status_code, attempt=attempt, idempotent=call.idempotent
            )
            if delay is None:
                raise error_from_response(response)
            time.sleep(delay)

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
    ) -> EventStream:
        """Create a run and stream its events, resuming after dropped connections.

        ``thread_id=None`` runs on a new thread. ``options`` are those of
        :meth:`Runs.create` (``input``, ``command``, ``metadata``...). The
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
    ) -> EventStream:
        """Events of a run after ``last_event_id`` (all without), live until the run ends."""
        session = StreamSession(
            thread_id=thread_id, run_id=run_id, last_event_id=last_event_id, **self._sk()
        )
        return self._stream(session)

    def follow_thread(self, thread_id: str, *, last_event_id: str | None = None) -> EventStream:
        """Events of every run of a thread (ids ``<run_id>:<seq>``), until closed."""
        session = StreamSession(thread_id=thread_id, last_event_id=last_event_id, **self._sk())
        return self._stream(session)

    def _sk(self) -> dict[str, Any]:
        return {"attempts": self._reconnect_attempts, "backoff": self._policy.backoff}

    def _stream(self, session: StreamSession) -> EventStream:
        return EventStream(session, self._events(session))

    def _events(self, session: StreamSession) -> Iterator[StreamEvent]:
        timeout = httpx.Timeout(self._timeout, read=max(self._timeout, 60.0))
        while True:
            request = session.request()
            decoder = SSEDecoder()
            try:
                with self._http.stream(
                    request.method,
                    request.path,
                    headers=request.headers,
                    json=request.json,
                    timeout=timeout,
                ) as response:
                    if response.is_error:
                        response.read()
                        delay = session.refused(error_from_response(response))
                    else:
                        session.opened(response)
                        for line in response.iter_lines():
                            event = decoder.feed(line)
                            if event is not None and session.accept(event):
                                yield event
                        ended = session.follows_run and self._run_ended(session)
                        delay = session.closed(alive=decoder.alive, run_ended=ended)
            except httpx.TransportError as exc:
                delay = session.broken(exc, alive=decoder.alive)
            if delay is None:
                return
            time.sleep(delay)

    def _run_ended(self, session: StreamSession) -> bool:
        """Whether the followed run ended (False when that cannot be known now)."""
        if session.thread_id is None or session.run_id is None:
            return True  # the creation named no run: there is nothing to resume
        try:
            run = self.send(calls.get_run(session.thread_id, session.run_id))
        except NotFoundError:
            return True  # rolled back: its stream is over
        except GraphwrightConnectionError:
            return False  # reconnecting will tell
        return run.ended


class EventStream:
    """An iterator of :class:`StreamEvent` that reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID`` (backoff,
    bounded attempts), so the events it yields have no gap and no duplicate.
    Close it (``close`` or ``with``) when stopping early.
    """

    def __init__(self, session: StreamSession, events: Iterator[StreamEvent]) -> None:
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

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop following and close the connection."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client


class Workflows(_Resource):
    """``/workflows``: validate, publish and read workflow documents."""

    def validate(self, doc: Document) -> ValidationResult:
        """Check a document without publishing it (problems are a result, not an error)."""
        return self._client.send(calls.validate_workflow(doc))

    def publish(self, doc: Document) -> PublishedWorkflow:
        """Publish a new version (``created=False`` when identical content exists).

        Raises:
            InvalidRequestError: ``workflow.invalid`` with every problem.
        """
        return self._client.send(calls.publish_workflow(doc))

    def get(self, workflow_id: str, version: int | None = None) -> PublishedWorkflow:
        """One version (default: the latest) with its document."""
        return self._client.send(calls.get_workflow(workflow_id, version))

    def versions(self, workflow_id: str) -> builtins.list[PublishedWorkflow]:
        """Every version, oldest first."""
        return self._client.send(calls.workflow_versions(workflow_id))

    def list(self) -> builtins.list[PublishedWorkflow]:
        """The latest version of each workflow."""
        return self._client.send(calls.list_workflows())

    @overload
    def graph(
        self, workflow_id: str, format: Literal["json"] = ..., *, version: int | None = ...
    ) -> dict[str, Any]: ...
    @overload
    def graph(
        self, workflow_id: str, format: Literal["mermaid"], *, version: int | None = ...
    ) -> str: ...
    def graph(
        self,
        workflow_id: str,
        format: Literal["json", "mermaid"] = "json",
        *,
        version: int | None = None,
    ) -> dict[str, Any] | str:
        """The graph as nodes and edges (``json``) or Mermaid text."""
        return self._client.send(calls.workflow_graph(workflow_id, format, version))


class Approvals(_Resource):
    """``/approvals``: the inbox of approval gates."""

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
    ) -> builtins.list[Approval]:
        """Approvals, oldest first; ``metadata`` must be contained in the thread's."""
        return self._client.send(
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

    def get(self, approval_id: str) -> Approval:
        """One approval."""
        return self._client.send(calls.get_approval(approval_id))

    def decide(
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
        return self._client.send(call)


class HealthChecks(_Resource):
    """``/healthz`` and ``/readyz``."""

    def healthz(self) -> Health:
        """Whether the process answers."""
        return self._client.send(calls.healthz())

    def readyz(self) -> Readiness:
        """Whether its dependencies are reachable (``ready=False`` with failed checks)."""
        return self._client.send(calls.readyz())


class Runs(_Resource):
    """Runs on threads (``thread_id=None``: on a new thread)."""

    def create(
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
        return self._client.send(calls.create_run(thread_id, body))

    def get(self, thread_id: str, run_id: str) -> Run:
        """One run."""
        return self._client.send(calls.get_run(thread_id, run_id))

    def list(
        self, thread_id: str, *, status: str | None = None, limit: int = 10, offset: int = 0
    ) -> builtins.list[Run]:
        """Runs of a thread, newest first."""
        return self._client.send(
            calls.list_runs(thread_id, status=status, limit=limit, offset=offset)
        )

    def wait(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        timeout: float | None = None,
        **options: Unpack[RunOptions],
    ) -> RunOutput:
        """Create a run and wait for its end: values, pending interrupts or the error.

        ``timeout`` bounds the wait for the answer in seconds (None: no limit).
        """
        body = calls.run_body(workflow_id, **options)
        return self._client.send(calls.wait_run(thread_id, body, timeout=timeout))

    def join(self, thread_id: str, run_id: str, *, timeout: float | None = None) -> RunOutput:
        """Wait for a run's end: the thread's values, pending interrupts or the error.

        ``timeout`` bounds the wait for the answer in seconds (None: no limit).
        """
        return self._client.send(calls.join_run(thread_id, run_id, timeout=timeout))

    def cancel(
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
        return self._client.send(calls.cancel_run(thread_id, run_id, wait=wait, action=action))


class Threads(_Resource):
    """``/threads``: create, read and delete threads."""

    def create(
        self,
        metadata: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        if_exists: Literal["raise", "do_nothing"] | None = None,
    ) -> Thread:
        """Create a thread (``metadata["graph_id"]`` binds it to a workflow)."""
        return self._client.send(
            calls.create_thread(metadata, thread_id=thread_id, if_exists=if_exists)
        )

    def get(self, thread_id: str) -> Thread:
        """One thread with its values and pending interrupts."""
        return self._client.send(calls.get_thread(thread_id))

    def state(self, thread_id: str) -> ThreadState:
        """The thread's current state."""
        return self._client.send(calls.thread_state(thread_id))

    def delete(self, thread_id: str) -> None:
        """Delete a thread with its runs, events and approvals."""
        self._client.send(calls.delete_thread(thread_id))
