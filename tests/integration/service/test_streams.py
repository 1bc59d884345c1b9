"""Resumable streams: reconnects never lose or repeat an event, whatever breaks."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.integration.service.conftest import (
    EXAMPLES,
    Server,
    publish_examples,
    server_env,
    start_server,
)
from tests.integration.service.private_redis import PrivateRedis
from tests.integration.service.sse import Event, read_events

pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())


async def _run_to_gate(client: LangGraphClient) -> tuple[str, str]:
    """Run asset-discovery (map progress, then the approval gate); return (thread, run)."""
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "asset-discovery",
        input=DISCOVERY_INPUT,
        stream_mode=["values", "updates", "progress"],
    )
    await client.runs.join(thread["thread_id"], run["run_id"])
    return thread["thread_id"], run["run_id"]


async def test_random_disconnects_across_50_runs_lose_and_repeat_nothing(
    server: Server, client: LangGraphClient
) -> None:
    """Cut each stream at a random point; reconnecting with the last id gives the same events."""
    rng = random.Random(20261121)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for _ in range(50):
            thread_id, run_id = await _run_to_gate(client)
            path = f"/threads/{thread_id}/runs/{run_id}/stream"
            whole = await read_events(http, path)
            assert any(e.event == "progress" and '"map.progress"' in e.data for e in whole)
            cut = rng.randint(1, len(whole) - 1)
            head = await read_events(http, path, stop_after=cut)
            tail = await read_events(http, path, last_event_id=head[-1].id)
            assert head + tail == whole


async def test_live_stream_cut_mid_run_resumes_exactly(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """A stream cut while the run is still going resumes with no gap and no duplicate."""
    marks = tmp_path / "marks"
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "svc-chain",
        input={"token": "t", "marks": str(marks), "delays": {"one": 0.3, "two": 0.3, "three": 0.3}},
        stream_mode=["updates", "progress"],
    )
    path = f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        head = await read_events(http, path, stop_after=4)
        tail = await read_events(http, path, last_event_id=head[-1].id)
        whole = await read_events(http, path)
    assert head + tail == whole
    assert [int(e.id or 0) for e in whole] == sorted(int(e.id or 0) for e in whole)


async def test_thread_stream_follows_the_resume_run(
    server: Server, client: LangGraphClient
) -> None:
    """One thread stream shows the run to the gate, then the run the decision starts."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        reader = asyncio.create_task(
            _read_thread(http, tid, runs=2, params={"stream_mode": "progress"})
        )
        await asyncio.sleep(0.3)
        await client.runs.wait(tid, "asset-discovery", input=DISCOVERY_INPUT)
        pending = (await http.get("/approvals", params={"thread_id": tid})).json()
        approval = pending[0] if isinstance(pending, list) else pending["items"][0]
        approval_id = approval.get("approval_id") or approval["id"]
        decided = await http.post(
            f"/approvals/{approval_id}/decide",
            json={"decision": "approve", "by": "ana"},
        )
        assert decided.status_code == 200, decided.text
        events = await asyncio.wait_for(reader, 60)
    done = [json.loads(e.data) for e in events if e.event == "run_done"]
    assert [d["status"] for d in done] == ["interrupted", "success"]
    types = [json.loads(e.data)["type"] for e in events if e.event == "progress"]
    assert "approval.requested" in types
    assert "approval.decided" in types
    assert types.count("run.finished") == 2
    run_ids = {(e.id or "").split(":")[0] for e in events}
    assert len(run_ids) == 2

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        cut = len(events) // 2
        resumed = await _read_thread(
            http,
            tid,
            runs=2,
            params={"stream_mode": "progress"},
            last_event_id=events[cut - 1].id,
            stop_at=len(events) - cut,
        )
    assert resumed == events[cut:]


async def _read_thread(
    http: httpx.AsyncClient,
    thread_id: str,
    *,
    runs: int,
    params: dict[str, object],
    last_event_id: str | None = None,
    stop_at: int | None = None,
) -> list[Event]:
    """Read a thread stream until ``runs`` run_done events (or ``stop_at`` events)."""
    out: list[Event] = []
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    fields: dict[str, str] = {}
    async with http.stream(
        "GET", f"/threads/{thread_id}/stream", params=params, headers=headers
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if not fields:
                continue
            out.append(Event(fields.get("id"), fields.get("event", ""), fields.get("data", "")))
            fields = {}
            if stop_at is not None and len(out) >= stop_at:
                break
            if sum(e.event == "run_done" for e in out) >= runs and stop_at is None:
                break
    return out


@dataclass
class OwnRedisServer:
    """A server of the test's own, on a Redis of the test's own that it may restart."""

    redis: PrivateRedis
    server: Server


@pytest.fixture
def own_redis_server(database_url: str, tmp_path: Path) -> Iterator[OwnRedisServer]:
    """A private Redis and a server using it (2 run slots); both stopped after the test."""
    with PrivateRedis(tmp_path / "redis.log") as redis:
        env = server_env(database_url, GW_REDIS_URL=redis.url, GW_WORKERS="2")
        publish_examples(env, tmp_path)
        running = start_server(env, tmp_path / "server.log")
        try:
            yield OwnRedisServer(redis=redis, server=running)
        finally:
            running.stop()


async def test_replay_is_complete_after_redis_restarts(own_redis_server: OwnRedisServer) -> None:
    """Redis (which keeps nothing) restarts between two connections: the replay is complete."""
    redis, server = own_redis_server.redis, own_redis_server.server
    # The server's bus really listens on this Redis, so the restart below reaches it.
    assert await asyncio.to_thread(redis.wait_for_pattern_subscriptions) == 1
    async with (
        get_client(url=server.url) as client,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        thread_id, run_id = await _run_to_gate(client)
        path = f"/threads/{thread_id}/runs/{run_id}/stream"
        whole = await read_events(http, path)
        head = await read_events(http, path, stop_after=len(whole) // 3)
        await asyncio.to_thread(redis.restart)
        tail = await read_events(http, path, last_event_id=head[-1].id)
        # A new run while the service reconnects to Redis still streams completely.
        second_thread, second_run = await _run_to_gate(client)
        second = await read_events(http, f"/threads/{second_thread}/runs/{second_run}/stream")
    assert head + tail == whole
    assert len({e.id for e in whole}) == len(whole)
    assert second[0].event == "metadata"
    assert second[-1].event in {"progress", "updates", "values"}
    # The bus subscribed again to the restarted (empty) Redis.
    assert await asyncio.to_thread(redis.wait_for_pattern_subscriptions) == 1


async def test_run_started_on_one_api_process_is_followed_on_another(
    server: Server, client: LangGraphClient, database_url: str, tmp_path: Path
) -> None:
    """Two API processes: a run created through one is streamed live through the other."""
    other = start_server(server_env(database_url, GW_WORKERS="0"), tmp_path / "api2.log")
    try:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"],
            "asset-discovery",
            input=DISCOVERY_INPUT,
            stream_mode=["updates", "progress"],
        )
        path = f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream"
        async with httpx.AsyncClient(timeout=30) as http:
            through_other = await read_events(http, other.url + path)
            through_first = await read_events(http, server.url + path)
    finally:
        other.stop()
    assert through_other == through_first
    assert through_other[0].event == "metadata"


async def test_a_client_that_never_reads_does_not_hold_up_the_run(
    server: Server, client: LangGraphClient
) -> None:
    """A stalled reader of a busy stream does not stop the run from finishing."""
    thread = await client.threads.create()
    big = {
        "client_id": "stall",
        "raw_assets": [
            {"name": f"host-{i:04d}", "type": "server", "ip": f"10.1.{i // 250}.{i % 250}"}
            for i in range(400)
        ],
    }
    run = await client.runs.create(
        thread["thread_id"], "asset-discovery", input=big, stream_mode=["values", "progress"]
    )
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1024)
    sock = writer.get_extra_info("socket")
    import socket as socket_module

    sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_RCVBUF, 4096)
    writer.write(
        (
            f"GET /threads/{thread['thread_id']}/runs/{run['run_id']}/stream HTTP/1.1\r\n"
            f"Host: {host}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    try:
        await asyncio.wait_for(client.runs.join(thread["thread_id"], run["run_id"]), 120)
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
        assert finished["status"] == "interrupted"  # reached the approval gate
    finally:
        writer.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        events = await read_events(
            http, f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream"
        )
    maps = [e for e in events if e.event == "progress" and '"map.progress"' in e.data]
    assert json.loads(maps[-1].data)["data"]["done"] == 400
    _ = reader


async def test_stream_limit_refuses_with_503(database_url: str, tmp_path: Path) -> None:
    """Past GW_MAX_STREAMS open streams a new stream gets 503 stream.limit."""
    limited = start_server(
        server_env(database_url, GW_WORKERS="0", GW_MAX_STREAMS="1"), tmp_path / "limited.log"
    )
    try:
        async with httpx.AsyncClient(base_url=limited.url, timeout=30) as http:
            thread = (await http.post("/threads", json={})).json()
            async with http.stream("GET", f"/threads/{thread['thread_id']}/stream") as first:
                assert first.status_code == 200
                second = await http.get(f"/threads/{thread['thread_id']}/stream")
            assert second.status_code == 503
            assert second.json()["code"] == "stream.limit"
    finally:
        limited.stop()
