"""Redis down while streams are open: runs complete and their streams still end with them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration.service.conftest import (
    Server,
    publish_examples,
    server_env,
    start_server,
)
from tests.integration.service.private_redis import PrivateRedis
from tests.integration.service.sse import Event, read_events

pytestmark = pytest.mark.integration


async def test_stream_ends_with_its_run_while_redis_is_down(
    database_url: str, tmp_path: Path
) -> None:
    """An API-only process follows a run executed by a worker process; Redis dies mid-run.

    The stream keeps heartbeating, follows the event log, and ends when the run
    ends (not when Redis returns); the events it delivered are complete, in order.
    """
    with PrivateRedis(tmp_path / "redis.log") as redis:
        api_env = server_env(database_url, GW_REDIS_URL=redis.url, GW_WORKERS="0")
        worker_env = server_env(database_url, GW_REDIS_URL=redis.url, GW_WORKERS="2")
        publish_examples(api_env, tmp_path)
        # The default heartbeat (10 s) is longer than the bus's reconnect attempts (<= 2 s).
        api = start_server({**api_env, "GW_HEARTBEAT_SECONDS": "10"}, tmp_path / "api.log")
        worker = start_server(worker_env, tmp_path / "worker.log", command="worker")
        try:
            await worker_ready(worker)
            async with (
                get_client(url=api.url) as client,
                httpx.AsyncClient(base_url=api.url, timeout=60) as http,
            ):
                thread = await client.threads.create()
                token = uuid.uuid4().hex[:8]
                run = await client.runs.create(
                    thread["thread_id"],
                    "svc-chain",
                    input={"token": token, "delays": {"one": 1.0, "two": 1.5, "three": 0.5}},
                )
                path = f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream"
                reading = asyncio.create_task(
                    read_events(http, path, params={"stream_mode": "progress"})
                )
                await asyncio.sleep(0.5)
                await asyncio.to_thread(redis.stop)  # down for the rest of the run
                started = time.monotonic()
                events = await asyncio.wait_for(reading, 45)
                waited = time.monotonic() - started
                final = await client.runs.get(thread["thread_id"], run["run_id"])
        finally:
            worker.stop()
            api.stop()
    print(f"\nstream ended {waited:.1f}s after Redis went down (run takes ~3 s)")
    assert final["status"] == "success"
    ids = [int(e.id) for e in events if e.id]
    assert ids == sorted(set(ids))
    progress = [json.loads(e.data)["type"] for e in events if e.event == "progress"]
    assert progress[-1] == "run.finished"
    assert progress.count("node.finished") == 3


async def worker_ready(worker: Server) -> None:
    """Wait until a ``graphwright worker`` process says it has its run slots."""
    async with asyncio.timeout(60):
        while "run slots" not in worker.log.read_text():
            assert worker.process.poll() is None, worker.log.read_text()
            await asyncio.sleep(0.1)


@dataclass(frozen=True)
class RedisOutage:
    """How long Redis stays dead, and how many runs are streamed meanwhile."""

    down: float
    runs: int


OUTAGES = [
    pytest.param(RedisOutage(down=8, runs=4), id="short", marks=pytest.mark.soak),
    pytest.param(RedisOutage(down=30, runs=8), id="long", marks=pytest.mark.soak),
]


@pytest.mark.parametrize("outage", OUTAGES)
async def test_streams_ride_out_redis_killed_and_flushed(
    database_url: str, tmp_path: Path, outage: RedisOutage
) -> None:
    """Redis is SIGKILLed while several streams are open and comes back empty.

    Every run completes; every stream ends with its run, before Redis is back;
    a stream reconnected with Last-Event-ID during the outage continues with no
    gap and no duplicate (its events are exactly the run's log); once Redis is
    back, streams of new runs work again.
    """
    step = outage.down / 6  # each run ends about half-way through the outage
    with PrivateRedis(tmp_path / "redis.log") as redis:
        env = server_env(database_url, GW_REDIS_URL=redis.url, GW_WORKERS="0")
        publish_examples(env, tmp_path)
        api = start_server(env, tmp_path / "api.log")
        worker = start_server(
            {**env, "GW_WORKERS": str(outage.runs)}, tmp_path / "worker.log", command="worker"
        )
        await worker_ready(worker)
        try:
            async with (
                get_client(url=api.url) as client,
                httpx.AsyncClient(base_url=api.url, timeout=120) as http,
            ):
                paths = []
                for _ in range(outage.runs):
                    thread = await client.threads.create()
                    run = await client.runs.create(
                        thread["thread_id"],
                        "svc-chain",
                        input={"delays": {"one": 1.0 + step, "two": step, "three": step}},
                    )
                    paths.append(f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream")

                async def follow(path: str) -> tuple[list[Event], float]:
                    events = await read_events(http, path, params={"stream_mode": "progress"})
                    return events, time.monotonic()

                async def follow_twice(path: str) -> tuple[list[Event], float]:
                    first = await read_events(
                        http, path, params={"stream_mode": "progress"}, stop_after=2
                    )
                    await killed.wait()
                    rest, ended = await follow_from(path, first[-1].id)
                    return first + rest, ended

                async def follow_from(path: str, last: str | None) -> tuple[list[Event], float]:
                    events = await read_events(
                        http, path, params={"stream_mode": "progress"}, last_event_id=last
                    )
                    return events, time.monotonic()

                killed = asyncio.Event()
                whole = [asyncio.create_task(follow(p)) for p in paths]
                split = [asyncio.create_task(follow_twice(p)) for p in paths[::2]]
                await asyncio.sleep(1.0)
                await asyncio.to_thread(redis.kill)
                killed.set()
                await asyncio.sleep(outage.down)
                await asyncio.to_thread(redis.start)  # a new, empty server: flushed
                back = time.monotonic()
                streamed = await asyncio.wait_for(asyncio.gather(*whole), 120)
                rejoined = await asyncio.wait_for(asyncio.gather(*split), 120)
                replays = [
                    await read_events(http, p, params={"stream_mode": "progress"}) for p in paths
                ]
                final = [await http.get(p.removesuffix("/stream")) for p in paths]
                after = await client.runs.wait(None, "svc-chain", input={"token": "after"})
        finally:
            worker.stop()
            api.stop()
    print(
        f"\nstreams ended {max(back - e for _, e in streamed):.1f}s to "
        f"{min(back - e for _, e in streamed):.1f}s before Redis came back"
    )
    assert [r.json()["status"] for r in final] == ["success"] * outage.runs
    for (events, ended), replay in zip(streamed, replays, strict=True):
        assert ended < back  # ended with its run, not when Redis returned
        assert [e.id for e in events] == [e.id for e in replay]
        assert json.loads(events[-1].data)["type"] == "run.finished"
    for (events, _), replay in zip(rejoined, replays[::2], strict=True):
        assert [e.id for e in events] == [e.id for e in replay]  # no gap, no duplicate
    assert isinstance(after, dict)
    assert after["trail"] == ["one", "two", "three"]
