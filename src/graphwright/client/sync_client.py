"""The synchronous graphwright client (``httpx.Client`` underneath, no event loop)."""

from __future__ import annotations

import time
from collections.abc import Generator
from types import TracebackType
from typing import TypeVar

import httpx

from graphwright.client.calls import Call
from graphwright.client.core import ClientCore, StreamView
from graphwright.client.endpoints import Blocking
from graphwright.client.errors import GraphwrightConnectionError, NotFoundError, error_from_response
from graphwright.client.models import StreamEvent
from graphwright.client.sse import SSEDecoder
from graphwright.client.streams import StreamSession

__all__ = ["Client", "EventStream"]

T = TypeVar("T")


class Client(ClientCore[Blocking, "EventStream", httpx.BaseTransport]):
    """Blocking client for graphwright's own endpoints and the run and stream calls a UI needs.

    Methods return their results; streams are iterators. Arguments: see ``__init__``.
    """

    _http: httpx.Client

    def _connect(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

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
                response = self._http.request(**self._request(call))
            except httpx.TransportError as exc:
                time.sleep(self._delay_after_error(call, exc, attempt))
                continue
            delay = self._delay_after_response(call, response, attempt)
            if delay is None:
                return call.parse(response)
            time.sleep(delay)

    def _stream(self, session: StreamSession) -> EventStream:
        return EventStream(session, self._events(session))

    def _events(self, session: StreamSession) -> Generator[StreamEvent, None, None]:
        while True:
            decoder = SSEDecoder()
            try:
                with self._http.stream(**self._stream_request(session.request())) as response:
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
        ids = self._ended_run(session)
        if ids is None:
            return True
        try:
            return self.runs.get(*ids).ended
        except NotFoundError:
            return True  # rolled back: its stream is over
        except GraphwrightConnectionError:
            return False  # reconnecting will tell


class EventStream(StreamView):
    """An iterator of :class:`StreamEvent` that reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID`` (backoff,
    bounded attempts), so the events it yields have no gap and no duplicate.
    Close it (``close`` or ``with``) when stopping early.
    """

    def __init__(self, session: StreamSession, events: Generator[StreamEvent, None, None]) -> None:
        super().__init__(session)
        self._events = events

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
