"""Connection hygiene for ``graphwright serve``: slow or idle clients cannot exhaust the process.

uvicorn bounds the idle time between requests of a kept-alive connection, but not
the time a client takes to send a request head: a socket that never sends a byte,
or sends its headers a byte at a time, is kept forever. Its ``limit_concurrency``
counts such sockets too, so a thousand of them make every real request a 503.

:class:`GuardedHttpProtocol` (uvicorn's httptools protocol) adds:

- a **head deadline**: a connection has ``header_timeout`` seconds from connecting
  (or from the first byte of a later request on it) to complete a request head;
  then a partial head is answered ``408 request.header_timeout`` and the
  connection closed (a connection that sent nothing is just closed);
- a **head size cap** of :data:`MAX_HEAD_BYTES` (``431 request.header_too_large``);
- a **connection cap**: past ``max_connections`` open connections, the one that has
  waited longest without a request in flight (idle, or still sending its head) is
  closed to make room, so idle and slow sockets never lock out a real request; when
  every connection has a request in flight the new one is answered
  ``503 connection.limit``.

A connection with a request in flight (an SSE stream, a body being read) has no
deadline here: bodies are paced by :class:`~graphwright.api.limits.BodyLimit`, and
responses may last as long as they need.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from graphwright.api.problems import PROBLEM_JSON, problem_body

__all__ = ["MAX_HEAD_BYTES", "ConnectionGuard", "GuardedHttpProtocol", "guarded_protocol"]

MAX_HEAD_BYTES = 64 * 1024
"""Largest request head (request line and headers) accepted."""

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` of a ``503 connection.limit`` answer."""

LINGER_SECONDS = 2.0
"""After an answer written here, how long what the client still sends is read and dropped
(unless it closes first): closing with unread input would reset the connection, and the
client could lose the answer."""


@dataclass
class ConnectionGuard:
    """Limits shared by one server's connections, and who is waiting for a request head.

    Attributes:
        max_connections: Open connections past which the longest-waiting one is closed.
        header_timeout: Seconds to complete a request head.
        max_head_bytes: Largest request head.
        waiting: Connections without a request in flight, longest-waiting first.
        timed_out: Connections closed for a late request head (logged at shutdown).
        evicted: Connections closed to make room for a new one.
        refused: New connections answered 503 because none could be closed.
    """

    max_connections: int
    header_timeout: float
    max_head_bytes: int = MAX_HEAD_BYTES
    waiting: dict[GuardedHttpProtocol, None] = field(default_factory=dict)
    timed_out: int = 0
    evicted: int = 0
    refused: int = 0


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` whose connections share ``guard``."""

    class BoundProtocol(GuardedHttpProtocol):
        pass

    BoundProtocol.guard = guard
    return BoundProtocol


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline, a head size cap and a connection cap.

    Use :func:`guarded_protocol` to bind it to a :class:`ConnectionGuard`.
    """

    guard: ConnectionGuard

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._linger: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (making room if needed) and start its head deadline."""
        super().connection_made(transport)
        if len(self.connections) > self.guard.max_connections and not self._make_room():
            self.guard.refused += 1
            self._answer_and_close(
                503,
                code="connection.limit",
                detail="the server has too many connections with requests in flight; retry",
                headers=[(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
            )
            return
        self._wait_for_head()

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse a request head past the size cap."""
        if self._linger is not None:
            return  # answered and closing: input is dropped
        super().data_received(data)
        if self._head_timer is not None and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self.guard.max_head_bytes:
                self._answer_and_close(
                    431,
                    code="request.header_too_large",
                    detail=f"the request head is larger than {self.guard.max_head_bytes} bytes",
                )

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self._stop_waiting()
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    # -- httptools parser callbacks -----------------------------------------------------

    def on_message_begin(self) -> None:
        """A request starts: its head is due ``header_timeout`` from now (or from connecting)."""
        super().on_message_begin()
        if self._head_timer is None:
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self.guard.header_timeout, self._head_late)

    def on_headers_complete(self) -> None:
        """The head is complete: the request is in flight, with no deadline here."""
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """The response is sent: an idle kept-alive connection may make room for others."""
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.guard.waiting[self] = None

    # -- internals ----------------------------------------------------------------------

    def _wait_for_head(self) -> None:
        self.guard.waiting[self] = None
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.guard.header_timeout, self._head_late)

    def _stop_waiting(self) -> None:
        self.guard.waiting.pop(self, None)
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without a request; False if none."""
        victim = next(iter(self.guard.waiting), None)
        if victim is None:
            return False
        self.guard.evicted += 1
        victim.close_idle()
        return True

    def close_idle(self) -> None:
        """Close this connection, which has no request in flight."""
        self._stop_waiting()
        self.transport.close()

    def _head_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        self.guard.timed_out += 1
        if self._head_bytes == 0:
            self.close_idle()  # never sent a byte of this request: nothing to answer
            return
        self._answer_and_close(
            408,
            code="request.header_timeout",
            detail=f"the request head did not arrive within {self.guard.header_timeout:g} s",
        )

    def _answer_and_close(
        self,
        status: int,
        *,
        code: str,
        detail: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Write a problem response below the application, then close the connection."""
        self._stop_waiting()
        body = json.dumps(problem_body(status, code, detail)).encode()
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}".encode()]
        for name, value in [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *(headers or []),
        ]:
            lines.append(name + b": " + value)
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        # Half-close: the client reads the answer and its end of stream, then closes
        # (``eof_received`` closes our side); one that does not is cut off shortly.
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)


_REASONS = {
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
