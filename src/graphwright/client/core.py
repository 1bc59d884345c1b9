"""What :class:`~graphwright.client.Client` and :class:`~graphwright.client.AsyncClient` share.

Everything but I/O is here, once: options, the resources, the stream constructors,
the retry decisions and the stream views. The two clients add only the loops that
send a call and read a stream, blocking or awaiting.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar, Unpack

import httpx

from graphwright.client.calls import (
    Call,
    RunOptions,
    StreamMode,
    client_headers,
    run_body,
    runs_path,
)
from graphwright.client.endpoints import M
from graphwright.client.errors import GraphwrightConnectionError, error_from_response
from graphwright.client.resources import (
    Approvals,
    HealthChecks,
    Operations,
    Runs,
    Threads,
    Workflows,
)
from graphwright.client.retry import Backoff, RetryPolicy
from graphwright.client.streams import StreamRequest, StreamSession

__all__ = ["ClientCore", "StreamView"]

S = TypeVar("S")
"""The stream class (``EventStream`` or ``AsyncEventStream``)."""
X = TypeVar("X")
"""The httpx transport class (``httpx.BaseTransport`` or ``httpx.AsyncBaseTransport``)."""


class ClientCore(ABC, Generic[M, S, X]):
    """The shared part of :class:`~graphwright.client.Client` (blocking) and
    :class:`~graphwright.client.AsyncClient` (awaiting)."""

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
        transport: X | None = None,
    ) -> None:
        """A client for graphwright's own endpoints and the run and stream calls a UI needs.

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
        self._timeout = timeout
        self._policy = RetryPolicy(retries, Backoff(backoff))
        self._reconnect_attempts = reconnect_attempts
        self._connect(
            base_url,
            headers=client_headers(api_key=api_key, bearer_token=bearer_token, headers=headers),
            timeout=timeout,
            transport=transport,
        )
        self.workflows: Workflows[M] = Workflows(self)
        self.approvals: Approvals[M] = Approvals(self)
        self.health: HealthChecks[M] = HealthChecks(self)
        self.ops: Operations[M] = Operations(self)
        self.runs: Runs[M] = Runs(self)
        self.threads: Threads[M] = Threads(self)

    @abstractmethod
    def _connect(
        self, base_url: str, *, headers: dict[str, str], timeout: float, transport: X | None
    ) -> None:
        """Open the httpx client."""

    @abstractmethod
    def send(self, call: Call[Any]) -> Any:
        """Send one call, retrying as :class:`~graphwright.client.retry.RetryPolicy` allows.

        Raises:
            GraphwrightAPIError: the server's error (a typed subclass).
            GraphwrightConnectionError: no answer after the allowed retries.
        """

    # -- streams ---------------------------------------------------------------------

    def stream_run(
        self,
        thread_id: str | None,
        workflow_id: str,
        *,
        stream_mode: StreamMode = ("progress",),
        on_disconnect: Literal["cancel", "continue"] = "continue",
        **options: Unpack[RunOptions],
    ) -> S:
        """Create a run and stream its events, resuming after dropped connections.

        ``thread_id=None`` runs on a new thread. ``options`` are those of
        ``runs.create`` (``input``, ``command``, ``metadata``...). The run id is
        known (``stream.run_id``) once the server accepted the run.
        ``on_disconnect="continue"`` keeps the run going while the client reconnects.
        """
        body = run_body(
            workflow_id, stream_mode=stream_mode, on_disconnect=on_disconnect, **options
        )
        create = (runs_path(thread_id, "/stream"), body)
        return self._stream(
            StreamSession(thread_id=thread_id, create=create, **self._session_options())
        )

    def follow_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        last_event_id: str | None = None,
        stream_mode: StreamMode | None = None,
    ) -> S:
        """Events of a run after ``last_event_id`` (all without), live until the run ends.

        ``stream_mode`` narrows the run's own modes; ``progress`` can always be
        asked for, whatever modes the run was created with.
        """
        session = StreamSession(
            thread_id=thread_id,
            run_id=run_id,
            last_event_id=last_event_id,
            stream_mode=stream_mode,
            **self._session_options(),
        )
        return self._stream(session)

    def follow_thread(
        self,
        thread_id: str,
        *,
        last_event_id: str | None = None,
        stream_mode: StreamMode | None = None,
    ) -> S:
        """Events of every run of a thread, one run after another, until closed.

        Ids are ``<run_id>:<seq>``; a ``run_done`` event (id ``<run_id>:done``)
        ends each run. Without ``last_event_id`` it starts with the latest run.
        ``stream_mode``: run modes such as ``progress``, or ``lifecycle`` (run
        starts and ends only); default: each run's own modes.
        """
        session = StreamSession(
            thread_id=thread_id,
            last_event_id=last_event_id,
            stream_mode=stream_mode,
            **self._session_options(),
        )
        return self._stream(session)

    @abstractmethod
    def _stream(self, session: StreamSession) -> S:
        """The stream object following ``session``."""

    def _session_options(self) -> dict[str, Any]:
        return {"attempts": self._reconnect_attempts, "backoff": self._policy.backoff}

    # -- decisions both I/O loops take -----------------------------------------------------

    def _request(self, call: Call[Any]) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.request`` for ``call``."""
        timeout = httpx.Timeout(self._timeout)
        if call.long_poll:
            timeout = httpx.Timeout(self._timeout, read=call.read_timeout)
        return {
            "method": call.method,
            "url": call.path,
            "params": tuple(call.params) if call.params is not None else None,
            "json": call.json,
            "content": call.content,
            "headers": {"Content-Type": "application/json"} if call.content else None,
            "timeout": timeout,
        }

    def _delay_after_error(self, call: Call[Any], exc: httpx.TransportError, attempt: int) -> float:
        """Seconds before sending ``call`` again after ``exc``.

        Raises:
            GraphwrightConnectionError: no more attempts (or not safe to repeat).
        """
        delay = self._policy.after_error(exc, attempt=attempt, idempotent=call.idempotent)
        if delay is None:
            raise GraphwrightConnectionError(f"{call.method} {call.path} failed: {exc!r}") from exc
        return delay

    def _delay_after_response(
        self, call: Call[Any], response: httpx.Response, attempt: int
    ) -> float | None:
        """None when ``response`` is the call's result, else seconds before sending it again.

        Raises:
            GraphwrightAPIError: the server's error, not worth (or allowed) retrying.
        """
        if not response.is_error or call.accepts(response):
            return None
        delay = self._policy.after_status(
            response.status_code, attempt=attempt, idempotent=call.idempotent
        )
        if delay is None:
            raise error_from_response(response)
        return delay

    def _stream_request(self, request: StreamRequest) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.stream`` for one stream connection."""
        return {
            "method": request.method,
            "url": request.path,
            "headers": request.headers,
            "params": request.params,
            "json": request.json,
            "timeout": httpx.Timeout(self._timeout, read=max(self._timeout, 60.0)),
        }

    @staticmethod
    def _ended_run(session: StreamSession) -> tuple[str, str] | None:
        """``(thread, run)`` whose status says whether a closed stream is over; None: it is."""
        if session.thread_id is None or session.run_id is None:
            return None  # the creation named no run: there is nothing to resume
        return session.thread_id, session.run_id


class StreamView:
    """What a stream tells about itself (both stream classes)."""

    def __init__(self, session: StreamSession) -> None:
        self._session = session

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
