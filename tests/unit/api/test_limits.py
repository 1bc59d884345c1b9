"""Request bodies: too large is 413, too slow is 408; a finished body is never timed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from graphwright.api import create_app
from graphwright.api.limits import BodyLimit
from graphwright.settings import Settings

SCOPE: Scope = {
    "type": "http",
    "method": "POST",
    "path": "/threads",
    "raw_path": b"/threads",
    "query_string": b"",
    "root_path": "",
    "scheme": "http",
    "server": ("localhost", 8123),
    "client": ("127.0.0.1", 50000),
    "http_version": "1.1",
    "headers": [(b"host", b"localhost"), (b"content-type", b"application/json")],
}


def _receive(chunks: Sequence[tuple[float, bytes]], *, then_wait: float = 60.0) -> Receive:
    """Body chunks, each after its delay; afterwards a disconnect after ``then_wait`` s."""
    queue = list(chunks)

    async def receive() -> Message:
        if queue:
            delay, body = queue.pop(0)
            await asyncio.sleep(delay)
            return {"type": "http.request", "body": body, "more_body": bool(queue)}
        await asyncio.sleep(then_wait)
        return {"type": "http.disconnect"}

    return receive


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the whole body, answer its length, then wait for the disconnect (as a stream does)."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode(), "more_body": True})
    await receive()  # the client going away: not a body read
    await send({"type": "http.response.body", "body": b""})


async def test_chunks_within_the_timeout_are_read() -> None:
    """Chunks arriving faster than the read timeout make a normal request."""
    send = _Recorder()
    chunks = [(0.05, b"a" * 100), (0.05, b"b" * 100)]
    await BodyLimit(_echo_length, 1024, read_timeout=0.5)(
        dict(SCOPE), _receive(chunks, then_wait=0), send
    )
    assert send.status == 200
    assert send.messages[1]["body"] == b"200"


async def test_stalled_body_is_408_and_closes_the_connection() -> None:
    """A body whose next chunk is later than the read timeout is 408 request.body_timeout."""
    send = _Recorder()
    began = time.monotonic()
    chunks = [(0, b"{"), (5.0, b"}")]
    await BodyLimit(_echo_length, 1024, read_timeout=0.3)(dict(SCOPE), _receive(chunks), send)
    assert send.status == 408
    assert send.json()["code"] == "request.body_timeout"
    assert send.headers[b"connection"] == b"close"
    assert time.monotonic() - began < 2.0


async def test_dripping_body_is_408_although_each_gap_is_short() -> None:
    """A byte every 0.2 s under a 0.5 s read timeout times out: the body is too slow overall."""
    send = _Recorder()
    began = time.monotonic()
    chunks = [(0.2, b"x")] * 50
    await BodyLimit(_echo_length, 1024, read_timeout=0.5)(dict(SCOPE), _receive(chunks), send)
    assert send.status == 408
    assert 0.5 <= time.monotonic() - began < 2.0


async def test_waiting_for_the_disconnect_after_the_body_is_not_timed() -> None:
    """Once the body is complete, a response may wait on the client far past the read timeout."""
    send = _Recorder()
    chunks = [(0, b"{}")]
    await BodyLimit(_echo_length, 1024, read_timeout=0.2)(
        dict(SCOPE), _receive(chunks, then_wait=0.6), send
    )
    assert send.status == 200
    assert len(send.messages) == 3


async def test_streamed_body_past_the_size_limit_is_413() -> None:
    """A body without Content-Length that grows past max_bytes is 413 request.too_large."""
    send = _Recorder()
    chunks = [(0, b"a" * 800), (0, b"b" * 800)]
    await BodyLimit(_echo_length, 1024, read_timeout=1.0)(dict(SCOPE), _receive(chunks), send)
    assert send.status == 413
    assert send.json()["code"] == "request.too_large"


async def test_stalled_body_on_a_route_is_408_not_a_parse_error() -> None:
    """Through the app, a stalled JSON body is answered 408, not the route's 400 or 422."""
    app = create_app(Settings(body_timeout_seconds=0.3))
    send = _Recorder()
    chunks = [(0, b'{"metadata": '), (5.0, b"{}}")]
    await app(dict(SCOPE), _receive(chunks), send)
    assert send.status == 408
    assert send.json()["code"] == "request.body_timeout"
