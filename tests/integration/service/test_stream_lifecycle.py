"""How an SSE stream ends besides its run ending: the client leaves, stops reading, or the
server is stopped (sse-starlette's disconnect detection, send timeout and shutdown)."""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.service.conftest import Server, publish_examples, server_env, start_server

pytestmark = pytest.mark.integration

SLOW = {"one": 30.0, "two": 0.0, "three": 0.0}
SEND_TIMEOUT = 2.0


async def _first_event(http: httpx.AsyncClient, method: str, path: str, **kw: Any) -> str:
    """Open a stream, read up to its first event, close it; the run's Content-Location."""
    async with http.stream(method, path, **kw) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                break
        return response.headers["content-location"]


async def _status_after(http: httpx.AsyncClient, location: str, seconds: float) -> list[str]:
    """The run's status every 0.1 s for up to ``seconds``, until it has ended."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append((await http.get(location)).json()["status"])
        if seen[-1] not in ("pending", "running"):
            break
        await asyncio.sleep(0.1)
    return seen


async def test_client_leaving_cancels_a_run_created_with_on_disconnect_cancel(
    server: Server, tmp_path: Path
) -> None:
    """A stateless streamed run (``on_disconnect`` defaults to cancel) is interrupted within
    seconds of its client disconnecting, and its slow node never completes."""
    marks = tmp_path / "marks"
    body = {
        "assistant_id": "svc-chain",
        "input": {"token": "gone", "marks": str(marks), "delays": SLOW},
        "stream_mode": ["progress"],
        "on_completion": "keep",
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        location = await _first_event(http, "POST", "/runs/stream", json=body)
        left = time.monotonic()
        try:
            statuses = await _status_after(http, location, 10)
            noticed = time.monotonic() - left
        finally:
            await http.post(f"{location}/cancel")  # if the disconnect did not cancel it
        await asyncio.sleep(0.5)
    print(f"\nrun interrupted {noticed:.2f}s after its client left")
    assert statuses[-1] == "interrupted"
    assert not marks.exists(), "the cancelled node completed"


async def test_client_leaving_keeps_a_run_created_with_on_disconnect_continue(
    server: Server, tmp_path: Path
) -> None:
    """With ``on_disconnect=continue`` the run goes on to the end after its client left."""
    marks = tmp_path / "marks"
    delays = {"one": 0.3, "two": 0.3, "three": 0.3}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        body = {
            "assistant_id": "svc-chain",
            "input": {"token": "stay", "marks": str(marks), "delays": delays},
            "on_disconnect": "continue",
        }
        location = await _first_event(http, "POST", f"/threads/{thread_id}/runs/stream", json=body)
        statuses = await _status_after(http, location, 20)
    assert statuses[-1] == "success"
    assert [line.split()[1] for line in marks.read_text().splitlines()] == ["one", "two", "three"]


@pytest.fixture
def guarded(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server with one stream slot, a 2 s send timeout, 1 s heartbeats, 4 MB bodies."""
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="1",
        GW_MAX_STREAMS="1",
        GW_HEARTBEAT_SECONDS="1",
        GW_STREAM_SEND_TIMEOUT_SECONDS=str(SEND_TIMEOUT),
        GW_MAX_BODY_BYTES="4000000",
    )
    publish_examples(env, tmp_path)
    running = start_server(env, tmp_path / "guarded.log")
    yield running
    running.stop()


async def test_client_that_stops_reading_is_dropped_and_its_slot_given_back(
    guarded: Server,
) -> None:
    """A client that reads nothing of a 10 MB replay is dropped after the send timeout:
    the only stream slot serves another client again, the server logs one line."""
    # 0.9 MB in every values and debug event: more than the kernel's socket buffers hold.
    big = {"token": "x" * 900_000, "delays": {"one": 0.0, "two": 0.0, "three": 0.0}}
    parts = urlsplit(guarded.url)
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        created = await http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "svc-chain", "input": big, "stream_mode": ["values", "debug"]},
        )
        assert created.status_code == 200, created.text
        run_path = f"/threads/{thread_id}/runs/{created.json()['run_id']}"
        await http.get(f"{run_path}/join")
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills fast
        stalled.connect((parts.hostname, parts.port))
        stalled.sendall(
            f"GET {run_path}/stream HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        try:
            began = time.monotonic()
            await asyncio.sleep(0.5)
            assert (await _open_stream(http, f"{run_path}/stream")) == 503  # slot taken
            admitted_after = await _until_admitted(http, f"{run_path}/stream", 15)
        finally:
            stalled.close()
    print(f"\nstalled stream dropped, slot back {admitted_after - began:.1f}s after it opened")
    assert SEND_TIMEOUT <= admitted_after - began < SEND_TIMEOUT + 8
    assert "dropped a stream: the client read nothing" in guarded.log.read_text()


async def _open_stream(http: httpx.AsyncClient, path: str) -> int:
    async with http.stream("GET", path) as response:
        return response.status_code


async def _until_admitted(http: httpx.AsyncClient, path: str, seconds: float) -> float:
    """Poll until a stream of ``path`` is admitted; when (monotonic)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await _open_stream(http, path) == 200:
            return time.monotonic()
        await asyncio.sleep(0.2)
    raise AssertionError(f"no stream slot came back within {seconds} s")


@dataclass
class Reader:
    """Reads one stream to its end, noting how it ended and when."""

    path: str
    events: list[str] = field(default_factory=list)
    ended: str = ""
    at: float = 0.0

    async def read(self, http: httpx.AsyncClient, opened: asyncio.Event) -> None:
        """Read until the server ends (``clean``) or cuts (``cut``) the stream."""
        try:
            async with http.stream("GET", self.path) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    opened.set()
                    if line.startswith("data:") and '"type":"run.finished"' in line:
                        self.events.append("run.finished")
            self.ended = "clean"
        except httpx.RemoteProtocolError:
            self.ended = "cut"
        self.at = time.monotonic()


async def test_sigterm_cuts_endless_streams_at_once_and_lets_run_streams_finish(
    database_url: str, tmp_path: Path
) -> None:
    """On SIGTERM a thread stream is cut at once; a run stream whose run ends meanwhile ends
    cleanly with it; one whose run does not is cut after GW_DRAIN_SECONDS (4 s), before
    uvicorn's own limit (9 s); then the process exits."""
    drain = 4.0
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="1",
        GW_HEARTBEAT_SECONDS="0.5",
        GW_DRAIN_SECONDS=str(drain),
    )
    publish_examples(env, tmp_path)
    server = start_server(env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            threads = [(await http.post("/threads", json={})).json()["thread_id"] for _ in "abc"]
            quick = {"one": 1.0, "two": 1.0, "three": 1.0}  # ends during the drain
            ending = await _create(http, threads[1], {"delays": quick}, stream_mode=["progress"])
            later = await _create(http, threads[2], {}, after_seconds=3600)  # stays pending
            readers = [
                Reader(f"/threads/{threads[0]}/stream"),
                Reader(f"{ending}/stream?stream_mode=progress"),
                Reader(f"{later}/stream"),
            ]
            opened = [asyncio.Event() for _ in readers]
            tasks = [
                asyncio.create_task(r.read(http, o)) for r, o in zip(readers, opened, strict=True)
            ]
            await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 10)
            server.process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        exit_code = await asyncio.to_thread(server.process.wait, 30)
        exited = time.monotonic() - stopped
    finally:
        server.stop()
    thread_stream, run_stream, pending_stream = readers
    print(
        f"\nafter SIGTERM: thread stream {thread_stream.ended} at "
        f"{thread_stream.at - stopped:.1f}s, run stream {run_stream.ended} at "
        f"{run_stream.at - stopped:.1f}s, pending run's stream {pending_stream.ended} at "
        f"{pending_stream.at - stopped:.1f}s, exit {exit_code} at {exited:.1f}s"
    )
    assert (thread_stream.ended, pending_stream.ended) == ("cut", "cut")
    assert thread_stream.at - stopped < 2.5
    assert (run_stream.ended, run_stream.events) == ("clean", ["run.finished"])
    assert drain - 0.5 <= pending_stream.at - stopped < drain + 3
    assert exited < drain + 4


async def _create(
    http: httpx.AsyncClient, thread_id: str, state: dict[str, Any], **options: Any
) -> str:
    body = {"assistant_id": "svc-chain", "input": {"token": "s", **state}, **options}
    created = await http.post(f"/threads/{thread_id}/runs", json=body)
    assert created.status_code == 200, created.text
    return f"/threads/{thread_id}/runs/{created.json()['run_id']}"
