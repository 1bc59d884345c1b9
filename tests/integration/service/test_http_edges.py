"""HTTP edges of the live server: 405 answers and the per-process stream limit."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.service.conftest import Server, publish_examples, server_env, start_server

pytestmark = pytest.mark.integration

# The first node sleeps this long, so the run stays unfinished while the test streams it,
# whether it stays pending (the limited server has no workers) or another server runs it.
SLOW_INPUT = {"delays": {"one": 60.0, "two": 0.0, "three": 0.0}}


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server with two stream slots, no workers and 1 s heartbeats, on a tenant of its own."""
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="0",
        GW_MAX_STREAMS="2",
        GW_HEARTBEAT_SECONDS="1",
    )
    publish_examples(env, tmp_path)
    running = start_server(env, tmp_path / "limited.log")
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/threads", {"POST"}), ("GET", "/runs/wait", {"POST"})],
    ids=["put-threads", "get-runs-wait"],
)
async def test_method_not_allowed_names_allowed_methods(
    server: Server, method: str, path: str, allowed: set[str]
) -> None:
    """A method the path does not support is a 405 problem with an `Allow` header."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "route.method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == allowed


async def test_thread_stream_holds_one_stream_slot(limited: Server) -> None:
    """With GW_MAX_STREAMS=2 a thread stream plus a run stream are admitted, a third gets 503."""
    async with httpx.AsyncClient(base_url=limited.url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        created = await http.post(
            f"/threads/{thread_id}/runs", json={"assistant_id": "svc-chain", "input": SLOW_INPUT}
        )
        assert created.status_code == 200, created.text
        run_stream = f"/threads/{thread_id}/runs/{created.json()['run_id']}/stream"
        try:
            # The thread stream answers once it yielded from inside the run it follows.
            async with http.stream("GET", f"/threads/{thread_id}/stream") as by_thread:
                assert by_thread.status_code == 200
                async with http.stream("GET", run_stream) as by_run:
                    assert by_run.status_code == 200
                    lines = by_run.aiter_lines()  # kept: a dropped iterator closes the response
                    await anext(lines)  # a heartbeat: this stream is counted now
                    async with http.stream("GET", run_stream) as third:
                        assert third.status_code == 503  # read no further if it was admitted
                        refused = json.loads(await third.aread())
            assert refused["code"] == "stream.limit"
            assert refused["details"]["max_streams"] == 2
            await _admitted_again(http, run_stream)
        finally:
            await http.post(f"{run_stream.removesuffix('/stream')}/cancel")


async def _admitted_again(http: httpx.AsyncClient, url: str) -> None:
    """Closed streams give their slots back: a new stream is admitted within seconds."""
    for _ in range(100):
        async with http.stream("GET", url) as response:
            if response.status_code == 200:
                return
        await asyncio.sleep(0.2)
    raise AssertionError("the closed streams' slots were not given back")
