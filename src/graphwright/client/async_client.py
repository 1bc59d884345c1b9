"""The asynchronous graphwright client (``httpx.AsyncClient`` underneath)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import TracebackType
from typing import TypeVar

import httpx

from graphwright.client.calls import Call
from graphwright.client.core import ClientCore, StreamView
from graphwright.client.endpoints import Awaiting
from graphwright.client.errors import GraphwrightConnectionError, NotFoundError, error_from_response
from graphwright.client.models import StreamEvent
from graphwright.client.sse import SSEDecoder
from graphwright.client.streams import StreamSession

__all__ = ["AsyncClient", "AsyncEventStream"]

T = TypeVar("T")


class AsyncClient(ClientCore[Awaiting, "AsyncEventStream", httpx.AsyncBaseTransport]):
    """Async client for graphwright's own endpoints and the run and stream calls a UI needs.

    Methods are coroutines; streams are async iterators. Arguments: see ``__init__``.
    """

    _http: httpx.AsyncClient

    def _connect(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

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
                response = await self._http.request(**self._request(call))
            except httpx.TransportError as exc:
                await asyncio.sleep(self._delay_after_error(call, exc, attempt))
                continue
            delay = self._delay_after_response(call, response, attempt)
            if delay is None:
                return call.parse(response)
            await asyncio.sleep(delay)

    def _stream(self, session: StreamSession) -> AsyncEventStream:
        return AsyncEventStream(session, self._events(session))

    async def _events(self, session: StreamSession) -> AsyncGenerator[StreamEvent, None]:
        while True:
            decoder = SSEDecoder()
            try:
                async with self._http.stream(**self._stream_request(session.request())) as response:
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
        ids = self._ended_run(session)
        if ids is None:
            return True
        try:
            return (await self.runs.get(*ids)).ended
        except NotFoundError:
            return True  # rolled back: its stream is over
        except GraphwrightConnectionError:
            return False  # reconnecting will tell


class AsyncEventStream(StreamView):
    """An async iterator of :class:`StreamEvent` that reconnects by itself.

    After a dropped connection it reconnects with ``Last-Event-ID`` (backoff,
    bounded attempts), so the events it yields have no gap and no duplicate.
    Close it (``aclose`` or ``async with``) when stopping early.
    """

    def __init__(self, session: StreamSession, events: AsyncGenerator[StreamEvent, None]) -> None:
        super().__init__(session)
        self._events = events

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop following and close the connection."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
