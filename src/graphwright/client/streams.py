"""Resumable event streams: what to request, which events to deliver, when to reconnect.

Pure (no I/O): :class:`StreamSession` is the state of one followed stream, and
both clients drive it with the same loop: ``request()``, then per connection
``opened()`` and ``accept()`` for each event, and at its end ``closed()``,
``broken()`` or ``refused()``, which say whether (and after how long) to
reconnect with ``Last-Event-ID``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from graphwright.client.calls import run_location, segment
from graphwright.client.errors import (
    GraphwrightAPIError,
    GraphwrightConnectionError,
    StreamError,
)
from graphwright.client.models import StreamEvent
from graphwright.client.retry import Backoff, never_sent

__all__ = ["StreamRequest", "StreamSession", "event_position"]

_TRANSIENT = frozenset({502, 503, 504})


@dataclass(frozen=True)
class StreamRequest:
    """One connection attempt."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None
    params: tuple[tuple[str, str], ...] = ()


_RUN_DONE = 2**63 - 1


def event_position(event_id: str | None) -> tuple[str, int] | None:
    """``(run, seq)`` of an event id: ``"7"`` -> ``("", 7)``, ``"<run>:7"`` -> ``("<run>", 7)``.

    A thread stream's ``"<run>:done"`` (the end of that run) comes after all its
    events. None for ids of another form, delivered without duplicate checks.
    """
    if not event_id:
        return None
    run, _, seq = event_id.rpartition(":")
    if run and seq == "done":
        return run, _RUN_DONE
    try:
        return run, int(seq)
    except ValueError:
        return None


class StreamSession:
    """The state of one followed stream (a run's, or a thread's every run).

    Args:
        thread_id: The thread (None until a stateless run creation answers).
        run_id: The run followed; None for a thread stream or before creation.
        last_event_id: Deliver only events after this id.
        create: ``(path, body)`` of a ``POST .../runs/stream`` creating the run first.
        stream_mode: Modes to follow (default: the run's own); ``progress`` is always there.
        attempts: Consecutive failed connection attempts allowed before giving up.
        backoff: Delays between attempts.
    """

    def __init__(
        self,
        *,
        thread_id: str | None,
        run_id: str | None = None,
        last_event_id: str | None = None,
        create: tuple[str, dict[str, Any]] | None = None,
        stream_mode: str | Sequence[str] | None = None,
        attempts: int = 8,
        backoff: Backoff | None = None,
    ) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.last_event_id = last_event_id
        self.follows_run = run_id is not None or create is not None
        self.reconnects = 0
        """How many times the stream was reconnected."""
        self._create = create
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode or ())
        self._params = tuple(("stream_mode", mode) for mode in modes)
        self._attempts = attempts
        self._backoff = backoff or Backoff()
        self._failures = 0
        self._connected = False
        self._seen: dict[str, int] = {}
        self._note(last_event_id)

    # -- what to send ------------------------------------------------------------------

    @property
    def creating(self) -> bool:
        """Whether the next request creates the run (nothing was confirmed yet)."""
        return self._create is not None

    def request(self) -> StreamRequest:
        """The next connection: the creation, or a follow after the last delivered event."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self._create is not None:
            path, body = self._create
            return StreamRequest("POST", path, headers, body)
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return StreamRequest("GET", self._follow_path(), headers, params=self._params)

    def _follow_path(self) -> str:
        if self.thread_id is None or (self.follows_run and self.run_id is None):
            raise StreamError(
                "the stream cannot be resumed: the server did not name the run "
                "(no Content-Location)",
                last_event_id=self.last_event_id,
            )
        thread = segment(self.thread_id)
        if self.run_id is None:
            return f"/threads/{thread}/stream"
        return f"/threads/{thread}/runs/{segment(self.run_id)}/stream"

    # -- one connection -------------------------------------------------------------------

    def opened(self, response: httpx.Response) -> None:
        """A connection was accepted; a creation's ``Content-Location`` names the run."""
        self._connected = True
        if self._create is None:
            return
        self._create = None  # the run exists now: never create it again
        where = run_location(response)
        if where is not None:
            self.thread_id, self.run_id = where

    def accept(self, event: StreamEvent) -> bool:
        """Whether to deliver ``event`` (False for one already delivered); records its id."""
        position = event_position(event.id)
        if position is not None:
            run, seq = position
            if seq <= self._seen.get(run, -1):
                return False
        self._note(event.id)
        if event.id is not None:
            self.last_event_id = event.id
        return True

    def _note(self, event_id: str | None) -> None:
        position = event_position(event_id)
        if position is not None:
            self._seen[position[0]] = position[1]

    # -- after a connection ------------------------------------------------------------

    def closed(self, *, alive: bool, run_ended: bool) -> float | None:
        """The server ended the response: None to stop, else the delay before reconnecting.

        A run stream stops once the run ended (the server sends every event of a
        run before it closes). A thread stream follows future runs: it reconnects.
        """
        if self.follows_run and run_ended:
            return None
        return self._again(alive, "the server closed the stream")

    def broken(self, exc: httpx.TransportError, *, alive: bool) -> float:
        """The connection failed: the delay before reconnecting.

        Raises:
            GraphwrightConnectionError: the creation may have reached the server
                but no answer came, so sending it again could start a second run.
            StreamError: too many consecutive failed attempts.
        """
        if self._create is not None and not never_sent(exc):
            raise GraphwrightConnectionError(
                f"the connection broke before the server confirmed the run ({exc!r}); "
                "the run may have been created: look for it before starting another"
            ) from exc
        return self._again(alive, repr(exc), cause=exc)

    def refused(self, error: GraphwrightAPIError) -> float | None:
        """The server answered with an error: None to stop, else the delay before retrying.

        Raises:
            GraphwrightAPIError: on the first connection, or a non-transient error.
        """
        if not self._connected:
            if error.status in _TRANSIENT and self._create is None:
                return self._again(False, str(error), cause=error)
            raise error
        if error.status == 404:
            return None  # deleted (a rolled-back run, a deleted thread): nothing more to see
        if error.status in _TRANSIENT:
            return self._again(False, str(error), cause=error)
        raise error

    def _again(self, alive: bool, why: str, *, cause: BaseException | None = None) -> float:
        self._failures = 1 if alive else self._failures + 1
        if self._failures > self._attempts:
            what = "stream lost after" if self._connected else "could not connect in"
            raise StreamError(
                f"{what} {self._attempts} attempts: {why}", last_event_id=self.last_event_id
            ) from cause
        if self._connected:
            self.reconnects += 1
        return self._backoff.delay(self._failures)
