"""Request body limits (size and read pace), enforced before the body reaches any handler."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphwright.api.problems import PROBLEM_JSON, problem_body

__all__ = ["MIN_BODY_BYTES_PER_SECOND", "BodyLimit"]

MIN_BODY_BYTES_PER_SECOND = 500
"""Slowest average pace a body may arrive at, after the first ``read_timeout`` (as
Apache's ``mod_reqtimeout``): a client dripping a byte just under every ``read_timeout``
cannot hold a request open for days."""


class BodyLimit:
    """Refuse bodies past ``max_bytes`` (413) or arriving too slowly (408), as problem+json.

    A wait for the next body chunk longer than ``read_timeout`` seconds, or a body
    slower than ``read_timeout`` plus one second per :data:`MIN_BODY_BYTES_PER_SECOND`
    bytes received, is answered ``408 request.body_timeout`` and the connection is
    closed. Only the body is timed: once it is complete, waiting for the client to
    disconnect (what a streaming response does) is not bounded.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._too_large().answer(send)
            return
        pace = _Pace(self.read_timeout)
        seen = 0
        refusal: _Refused | None = None
        started = False

        async def limited() -> Message:
            nonlocal seen, refusal
            if pace.done:
                return await receive()
            try:
                message = await pace.next(receive, seen)
            except TimeoutError:
                refusal = self._too_slow()
                raise refusal from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refusal = self._too_large()
                    raise refusal
                pace.done = not message.get("more_body", False)
            else:
                pace.done = True  # http.disconnect
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body is refused, whatever the app answers (a parse error) is
            # replaced by the one problem response.
            nonlocal started
            if refusal is None or started:
                started = True
                await send(message)
            elif not refusal.answered:
                await refusal.answer(send)

        try:
            await self.app(scope, limited, guarded_send)
        except _Refused as exc:
            if not started and not exc.answered:
                await exc.answer(send)

    def _too_large(self) -> _Refused:
        detail = f"request body is larger than {self.max_bytes} bytes"
        return _Refused(413, code="request.too_large", detail=detail)

    def _too_slow(self) -> _Refused:
        detail = (
            "the request body did not arrive in time "
            f"(GW_BODY_TIMEOUT_SECONDS={self.read_timeout:g})"
        )
        # The rest of the body may still be on its way: the connection cannot be reused.
        return _Refused(408, code="request.body_timeout", detail=detail, close=True)


class _Pace:
    """When the next body chunk is due."""

    def __init__(self, read_timeout: float | None) -> None:
        self.read_timeout = read_timeout
        self.started: float | None = None
        self.done = False

    async def next(self, receive: Receive, seen: int) -> Message:
        """The next message; TimeoutError when it comes later than the pace allows."""
        if self.read_timeout is None:
            return await receive()
        now = time.monotonic()
        if self.started is None:
            self.started = now
        deadline = self.started + self.read_timeout + seen / MIN_BODY_BYTES_PER_SECOND
        async with asyncio.timeout(max(0.0, min(self.read_timeout, deadline - now))):
            return await receive()


class _Refused(Exception):
    """The body is refused; :meth:`answer` sends the problem response once."""

    def __init__(self, status: int, *, code: str, detail: str, close: bool = False) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.close = close
        self.answered = False

    async def answer(self, send: Send) -> None:
        self.answered = True
        data = json.dumps(problem_body(self.status, self.code, self.detail)).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        if self.close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
