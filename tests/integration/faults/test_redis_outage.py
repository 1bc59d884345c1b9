"""Redis down while a stream is open: the run completes and its stream still ends with it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration.service.conftest import publish_examples, server_env, start_server
from tests.integration.service.private_redis import PrivateRedis
from tests.integration.service.sse import read_events

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
