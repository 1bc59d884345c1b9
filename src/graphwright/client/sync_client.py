"""The synchronous graphwright client (``httpx.Client`` underneath, no event loop)."""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar, Unpack

import httpx

from graphwright.client import calls
from graphwright.client.calls import Call, RunOptions, StreamMode
from graphwright.client.errors import GraphwrightConnectionError, NotFoundError, error_from_response
from graphwright.client.models import StreamEvent
from graphwright.client.retry import Backoff, RetryPolicy
from graphwright.client.sse import SSEDecoder
from graphwright.client.streams import StreamSession
from graphwright.client.sync_resources import (
    Approvals,
    HealthChecks,
    Operations,
    Runs,
    Threads,
    Workflows,
)

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
        self.ops = Operations(self)
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
    ) -> EventStream:
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
    ) -> EventStream:
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

    def _session_options(self) -> dict[str, Any]:
        return {"attempts": self._reconnect_attempts, "backoff": self._policy.backoff}

    def _stream(self, session: StreamSession) -> EventStream:
        return EventStream(session, self._events(session))

    def _events(self, session: StreamSession) -> Generator[StreamEvent, None, None]:
        timeout = httpx.Timeout(self._timeout, read=max(self._timeout, 60.0))
        while True:
            request = session.request()
            decoder = SSEDecoder()
            try:
                with self._http.stream(
                    request.method,
                    request.path,
                    headers=request.headers,
                    params=request.params,
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

    def __init__(self, session: StreamSession, events: Generator[StreamEvent, None, None]) -> None:
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
        self._events.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
