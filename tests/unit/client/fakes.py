"""A scripted stand-in for the server's stream endpoints, behind ``httpx.MockTransport``.

Each stream connection follows the next :class:`Connection` of a plan: deliver
some frames after ``Last-Event-ID``, then end cleanly, close early or break.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from graphwright.api.sse import frame
from graphwright.client import AsyncClient, Client, StreamEvent

BASE_URL = "http://gw.test"
Ending = Literal["end", "cut", "cut-mid-frame", "close", "connect-error", "not-found"]


class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body of fixed chunks, then optionally a transport error."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.error is not None:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.error is not None:
            raise self.error


@dataclass
class Connection:
    """How one stream connection behaves: ``frames`` events (None: all), then ``ending``."""

    frames: int | None = None
    ending: Ending = "end"


@dataclass
class FakeStreamServer:
    """One run ``r1`` on thread ``t1`` (or several runs for a thread stream)."""

    events: list[tuple[str, str, Any]]
    """``(id, event, data)`` in order; ids ``"<seq>"`` or ``"<run>:<seq>"``."""
    plan: list[Connection] = field(default_factory=list)
    replay_ignores_id: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    status: str = "running"

    @classmethod
    def for_run(cls, count: int, plan: list[Connection], **kwargs: Any) -> FakeStreamServer:
        """A run whose ``count`` events are progress events with ids 1..count."""
        events = [
            (str(seq), "progress", {"type": "node.finished", "node": f"n{seq}", "data": {}})
            for seq in range(1, count + 1)
        ]
        return cls(events=events, plan=plan, **kwargs)

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request of the client."""
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/threads/t1/runs/r1":
            return httpx.Response(200, json=run_json(self.status))
        if path.endswith("/stream"):
            return self._stream(request)
        return httpx.Response(404, json={"code": "route.not_found", "detail": path})

    def _stream(self, request: httpx.Request) -> httpx.Response:
        connection = self.plan.pop(0) if self.plan else Connection()
        if connection.ending == "connect-error":
            raise httpx.ConnectError("connection refused", request=request)
        if connection.ending == "not-found":
            body = {"status": 404, "code": "run.not_found", "detail": "no such run"}
            return httpx.Response(404, json=body)
        after = request.headers.get("last-event-id")
        pending = self._after(None if self.replay_ignores_id else after)
        sent = pending if connection.frames is None else pending[: connection.frames]
        chunks = [b": heartbeat\n\n"] + [encode(*event) for event in sent]
        error: Exception | None = None
        if connection.ending in ("cut", "cut-mid-frame"):
            error = httpx.ReadError("connection reset", request=request)
            if connection.ending == "cut-mid-frame" and len(sent) < len(pending):
                half = encode(*pending[len(sent)])
                chunks.append(half[: len(half) // 2])
        elif connection.ending == "end" and len(sent) == len(pending):
            self.status = "success"
        headers = {"content-type": "text/event-stream", "content-location": "/threads/t1/runs/r1"}
        return httpx.Response(200, headers=headers, stream=ChunkStream(chunks, error))

    def _after(self, last_id: str | None) -> list[tuple[str, str, Any]]:
        if last_id is None:
            return list(self.events)
        ids = [event_id for event_id, _, _ in self.events]
        return self.events[ids.index(last_id) + 1 :]

    def stream_requests(self) -> list[httpx.Request]:
        """The requests that opened (or tried to open) a stream."""
        return [r for r in self.requests if r.url.path.endswith("/stream")]

    def expected(self) -> list[StreamEvent]:
        """Every event of the script, as the client should yield them."""
        return [StreamEvent(event=name, data=data, id=i) for i, name, data in self.events]


def encode(event_id: str, event: str, data: Any) -> bytes:
    """One SSE frame (the server's own framing when the id is a number)."""
    if event_id.isdigit():
        return frame(event, data, event_id=int(event_id))
    return f"event: {event}\ndata: {json.dumps(data)}\nid: {event_id}\n\n".encode()


def run_json(status: str) -> dict[str, Any]:
    """A run as ``GET /threads/t1/runs/r1`` returns it."""
    return {
        "run_id": "r1",
        "thread_id": "t1",
        "assistant_id": "wf",
        "created_at": "2025-01-01T00:00:00+00:00",
        "updated_at": "2025-01-01T00:00:00+00:00",
        "status": status,
        "metadata": {},
        "multitask_strategy": "reject",
        "kwargs": {},
        "attempts": 1,
        "error": None,
    }


def sync_client(server: FakeStreamServer, **options: Any) -> Client:
    """A sync client on the fake server, retrying without delay."""
    transport = httpx.MockTransport(server.handler)
    return Client(BASE_URL, transport=transport, backoff=0, **options)


def async_client(server: FakeStreamServer, **options: Any) -> AsyncClient:
    """An async client on the fake server, retrying without delay."""
    transport = httpx.MockTransport(server.handler)
    return AsyncClient(BASE_URL, transport=transport, backoff=0, **options)


async def collect(
    kind: str,
    server: FakeStreamServer,
    method: str,
    *args: Any,
    limit: int | None = None,
    **kwargs: Any,
) -> tuple[list[StreamEvent], Any]:
    """Call ``method`` on a ``kind`` ("sync"/"async") client; return its events and stream."""
    events: list[StreamEvent] = []
    if kind == "sync":
        with sync_client(server) as client, getattr(client, method)(*args, **kwargs) as stream:
            for event in stream:
                events.append(event)
                if limit is not None and len(events) == limit:
                    break
        return events, stream
    async with (
        async_client(server) as aclient,
        getattr(aclient, method)(*args, **kwargs) as astream,
    ):
        async for event in astream:
            events.append(event)
            if limit is not None and len(events) == limit:
                break
    return events, astream
