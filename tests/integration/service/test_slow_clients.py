"""Slow and idle clients against a live server: closed on time, never locking out real requests.

The server gets 2 s to receive a request head (``GW_HEADER_TIMEOUT_SECONDS``) and 2 s
per body chunk (``GW_BODY_TIMEOUT_SECONDS``); SSE streams and idle kept-alive
connections must outlive both.
"""

from __future__ import annotations

import asyncio
import json
import resource
import secrets
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.service.conftest import Server, publish_examples, server_env, start_server

pytestmark = pytest.mark.integration

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
SLOW_CLIENTS = 1100
SLOW_INPUT = {"delays": {"one": 60.0, "two": 0.0, "three": 0.0}}


@pytest.fixture(scope="module")
def guarded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with 2 s head and body timeouts, 1 s heartbeats and no workers."""
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="0",
        GW_HEARTBEAT_SECONDS="1",
        GW_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        GW_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
    )
    folder = tmp_path_factory.mktemp("guarded")
    publish_examples(env, folder)
    running = start_server(env, folder / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def capped(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server allowing 4 connections, with a 30 s body timeout (slow bodies stay in flight)."""
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="0",
        GW_MAX_CONNECTIONS="4",
        GW_BODY_TIMEOUT_SECONDS="30",
    )
    running = start_server(env, tmp_path_factory.mktemp("capped") / "server.log")
    yield running
    running.stop()


@dataclass
class SlowClient:
    """A connection that sends nothing, or a request head a byte at a time."""

    trickle: bool
    opened: float = 0.0
    closed_after: float | None = None
    answer: bytes = b""
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    async def run(self, host: str, port: int, until: float) -> None:
        """Hold the connection until the server closes it or ``until`` (monotonic) passes."""
        reader, writer = await asyncio.open_connection(host, port)
        self.opened = time.monotonic()
        head = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: {'a' * 400}\r\n\r\n".encode()
        try:
            while time.monotonic() < until:
                if self.trickle and self.sent < len(head) - 4:  # never completes the head
                    writer.write(head[self.sent : self.sent + 1])
                    self.sent += 1
                try:
                    chunk = await asyncio.wait_for(reader.read(4096), 0.25)
                except TimeoutError:
                    continue
                if not chunk:
                    self.closed_after = time.monotonic() - self.opened
                    return
                self.answer += chunk
        except ConnectionError as exc:
            self.closed_after = time.monotonic() - self.opened
            self.errors.append(type(exc).__name__)
        finally:
            writer.close()


async def _healthz_latencies(url: str, seconds: float) -> tuple[list[float], list[int]]:
    """/healthz on a fresh connection every 50 ms for ``seconds``: latencies (ms), statuses."""
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            began = time.perf_counter()
            response = await http.get("/healthz")
            latencies.append((time.perf_counter() - began) * 1000)
            statuses.append(response.status_code)
        await asyncio.sleep(0.05)
    return latencies, statuses


def _summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def _enough_open_files(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"needs {count} open files (hard limit {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


async def test_healthz_answers_under_1100_slow_connections_which_close_on_time(
    guarded: Server,
) -> None:
    """With 1,100 idle or byte-by-byte connections open, /healthz answers 200 throughout; the
    slow ones are closed by the head deadline (a partial head gets 408 request.header_timeout)."""
    _enough_open_files(SLOW_CLIENTS + 512)
    parts = urlsplit(guarded.url)
    host, port = str(parts.hostname), int(parts.port or 80)
    quiet, _ = await _healthz_latencies(guarded.url, 1.0)
    clients = [SlowClient(trickle=bool(i % 2)) for i in range(SLOW_CLIENTS)]
    until = time.monotonic() + HEADER_TIMEOUT + 8
    tasks = [asyncio.create_task(c.run(host, port, until)) for c in clients]
    await asyncio.sleep(0.5)
    loaded, statuses = await _healthz_latencies(guarded.url, HEADER_TIMEOUT)
    await asyncio.gather(*tasks)
    print(f"\n/healthz quiet: {_summary(quiet)}; under {SLOW_CLIENTS} slow: {_summary(loaded)}")
    assert set(statuses) == {200}
    still_open = [c for c in clients if c.closed_after is None]
    assert still_open == []
    assert max(c.closed_after or 0 for c in clients) < HEADER_TIMEOUT + 3
    answered = [c for c in clients if c.answer]
    assert answered, "no partial head was answered"
    for client in answered:
        assert client.trickle
        assert client.sent > 0
        status, _, body = client.answer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 408 ")
        assert json.loads(body)["code"] == "request.header_timeout"


async def test_kept_alive_connection_idle_past_the_header_timeout_is_served(
    guarded: Server,
) -> None:
    """An idle kept-alive connection is bounded by the keep-alive time, not the head deadline."""
    async with httpx.AsyncClient(base_url=guarded.url, timeout=10) as http:
        first = await http.get("/healthz")
        await asyncio.sleep(HEADER_TIMEOUT + 1)
        second = await http.get("/healthz")
        # httpx would silently reconnect on a closed connection: count the connections.
    assert first.status_code == second.status_code == 200
    assert first.extensions["network_stream"] is second.extensions["network_stream"]


async def test_stalled_body_is_408_and_the_connection_closed(guarded: Server) -> None:
    """A request body that stops arriving is answered 408 request.body_timeout, then closed."""
    parts = urlsplit(guarded.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    began = time.monotonic()
    writer.write(
        b"POST /threads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"metadata": '
    )
    answer = await asyncio.wait_for(reader.read(), BODY_TIMEOUT + 10)  # until closed
    writer.close()
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["code"] == "request.body_timeout"
    assert BODY_TIMEOUT <= time.monotonic() - began < BODY_TIMEOUT + 3


async def test_oversized_request_head_is_431(guarded: Server) -> None:
    """A request head past 64 KiB is answered 431 request.header_too_large."""
    parts = urlsplit(guarded.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        for i in range(20):
            writer.write(f"X-Filler-{i}: {'a' * 8000}\r\n".encode())
            await writer.drain()
    except ConnectionError:
        pass  # the server may close before all is sent
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["code"] == "request.header_too_large"


async def test_sse_stream_outlives_the_head_and_body_timeouts(guarded: Server) -> None:
    """A run stream keeps receiving heartbeats well past both timeouts."""
    async with httpx.AsyncClient(base_url=guarded.url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        created = await http.post(
            f"/threads/{thread_id}/runs", json={"assistant_id": "svc-chain", "input": SLOW_INPUT}
        )
        assert created.status_code == 200, created.text
        run_path = f"/threads/{thread_id}/runs/{created.json()['run_id']}"
        heartbeats = 0
        began = time.monotonic()
        try:
            async with http.stream("GET", f"{run_path}/stream") as stream:
                assert stream.status_code == 200
                async for line in stream.aiter_lines():
                    heartbeats += line.startswith(": heartbeat")
                    if time.monotonic() - began > HEADER_TIMEOUT + BODY_TIMEOUT + 2:
                        break
        finally:
            await http.post(f"{run_path}/cancel")
    assert time.monotonic() - began > HEADER_TIMEOUT + BODY_TIMEOUT + 2
    assert heartbeats >= 4


async def test_idle_connections_make_room_for_a_new_request(capped: Server) -> None:
    """At GW_MAX_CONNECTIONS idle connections, a new request is served and the oldest idle
    connection is closed for it."""
    parts = urlsplit(capped.url)
    idle = [await asyncio.open_connection(parts.hostname, parts.port) for _ in range(4)]
    await asyncio.sleep(0.2)
    try:
        async with httpx.AsyncClient(base_url=capped.url, timeout=10) as http:
            response = await http.get("/healthz")
        assert response.status_code == 200
        oldest_reader = idle[0][0]
        assert await asyncio.wait_for(oldest_reader.read(), 5) == b""  # closed by the server
        assert not idle[-1][0].at_eof()
    finally:
        for _, writer in idle:
            writer.close()


async def test_new_connection_is_refused_when_all_have_requests_in_flight(
    capped: Server,
) -> None:
    """When every allowed connection has a request in flight, a new one gets 503
    connection.limit with Retry-After."""
    parts = urlsplit(capped.url)
    busy = []
    for _ in range(4):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            b"POST /threads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10\r\n\r\n{"
        )
        busy.append((reader, writer))
    await asyncio.sleep(0.5)
    try:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        for _, busy_writer in busy:
            busy_writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ")
    assert b"\r\nretry-after: 1" in head.lower()
    problem: dict[str, Any] = json.loads(body)
    assert problem["code"] == "connection.limit"
    await _served_again(capped.url)


async def _served_again(url: str) -> None:
    """Closed connections give their places back: /healthz is served again within seconds."""
    for _ in range(50):
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        await asyncio.sleep(0.2)
    raise AssertionError("the server did not serve again after the busy connections closed")
