"""Worker processes: takeover after SIGKILL, draining on SIGTERM, a burst of runs.

These tests run an API process without workers plus separate ``graphwright worker``
processes on a database of their own, so no other server's workers interfere.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import (
    Server,
    publish_examples,
    server_env,
    start_server,
)
from tests.integration.service.test_runs_sdk import chain_input, lines

pytestmark = pytest.mark.integration


@dataclass
class Cluster:
    """An API process and worker processes sharing one database."""

    api: Server
    workers: list[Server]
    env: dict[str, str]
    folder: Path

    def add_worker(self, name: str) -> Server:
        """Start one more worker process."""
        worker = start_server(self.env, self.folder / f"{name}.log", command="worker")
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
async def shared_cluster(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """API (no run slots) + worker processes (4 slots each), 2-second leases."""
    url = await create_database()
    folder = tmp_path_factory.mktemp("cluster")
    env = server_env(url, GW_WORKERS="0", GW_LEASE_SECONDS="2")
    publish_examples(env, folder)
    api = start_server(env, folder / "api.log")
    worker_env = {**env, "GW_WORKERS": "4"}
    built = Cluster(api=api, workers=[], env=worker_env, folder=folder)
    try:
        yield built
    finally:
        for worker in built.workers:
            worker.stop()
        api.stop()


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The shared cluster with exactly two live worker processes."""
    for worker in shared_cluster.workers:
        if worker.process.poll() is not None:
            worker.stop()  # closes its log
    shared_cluster.workers = [w for w in shared_cluster.workers if w.process.poll() is None]
    while len(shared_cluster.workers) < 2:
        shared_cluster.add_worker(f"worker-{uuid.uuid4().hex[:6]}")
    return shared_cluster


async def _until(check: object, limit: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_sigkilled_worker_run_completes_elsewhere_with_same_run_id(
    cluster: Cluster, tmp_path: Path
) -> None:
    """SIGKILL the worker mid-run: another worker finishes the same run; done nodes don't rerun."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "k", two=4.0)
        )
        await _until(lambda: any(line[1] == "one" for line in lines(marks)))
        # Kill only once node one's checkpoint is saved: a kill between a node's side
        # effect and its checkpoint re-runs that node (at-least-once), by design.
        for _ in range(200):
            state = await client.threads.get_state(thread["thread_id"])
            if state["next"] == ["two"]:
                break
            await asyncio.sleep(0.02)
        assert state["next"] == ["two"]
        victim = int(lines(marks)[0][2])
        os.kill(victim, signal.SIGKILL)
        result = await client.runs.join(thread["thread_id"], run["run_id"])
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
    assert finished["status"] == "success"
    assert finished["run_id"] == run["run_id"]
    assert finished["attempts"] == 2
    done = lines(marks)
    assert [line[1] for line in done] == ["one", "two", "three"]
    assert int(done[1][2]) != victim
    assert isinstance(result, dict)
    assert result["trail"] == ["one", "two", "three"]


async def test_sigterm_drains_the_in_flight_run(cluster: Cluster, tmp_path: Path) -> None:
    """SIGTERM lets the in-flight run finish on the same worker, then the process exits."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "d", two=1.5)
        )
        await _until(lambda: any(line[1] == "one" for line in lines(marks)))
        owner = int(lines(marks)[0][2])
        worker = next(w for w in cluster.workers if w.process.pid == owner)
        worker.process.send_signal(signal.SIGTERM)
        await client.runs.join(thread["thread_id"], run["run_id"])
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
    assert finished["status"] == "success"
    assert {int(line[2]) for line in lines(marks)} == {owner}
    assert worker.process.wait(30) == 0


async def test_stream_follows_a_released_run_into_its_next_attempt(
    cluster: Cluster, tmp_path: Path
) -> None:
    """A run released by a draining worker goes on elsewhere, and its open stream with it."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        # Node two outlasts GW_DRAIN_SECONDS (5): the draining worker releases the run.
        run = await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "r", two=7.0)
        )
        await _until(lambda: any(line[1] == "one" for line in lines(marks)))  # two is running
        owner = int(lines(marks)[0][2])
        events = []

        async def follow() -> None:
            async for part in client.runs.join_stream(thread["thread_id"], run["run_id"]):
                events.append(part)

        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        drained = next(w for w in cluster.workers if w.process.pid == owner)
        drained.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(follower, 90)
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
    assert finished["status"] == "success", finished["error"]
    assert finished["attempts"] == 2
    attempts = [p.data.get("attempt") for p in events if p.event == "metadata"]
    assert 2 in attempts
    assert [line[1] for line in lines(marks)][-1] == "three"
    assert int(lines(marks)[-1][2]) != owner


async def test_burst_of_500_runs_each_completes_exactly_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    """500 runs created at once across two workers all succeed, each node executed once."""
    marks = tmp_path / "marks"
    count = 500
    async with httpx.AsyncClient(base_url=cluster.api.url, timeout=60) as http:
        semaphore = asyncio.Semaphore(32)

        async def create(i: int) -> str:
            async with semaphore:
                response = await http.post(
                    "/runs",
                    json={
                        "assistant_id": "svc-chain",
                        "input": chain_input(marks, f"b{i}"),
                        "on_completion": "keep",
                    },
                )
                assert response.status_code == 200, response.text
                return str(response.json()["run_id"]) + " " + response.json()["thread_id"]

        created = await asyncio.gather(*(create(i) for i in range(count)))

        async def join(item: str) -> str:
            run_id, thread_id = item.split()
            async with semaphore:
                await http.get(f"/threads/{thread_id}/runs/{run_id}/join")
                response = await http.get(f"/threads/{thread_id}/runs/{run_id}")
                return str(response.json()["status"])

        statuses = await asyncio.gather(*(join(item) for item in created))
    assert Counter(statuses) == {"success": count}
    per_token = Counter((line[0], line[1]) for line in lines(marks))
    assert len(per_token) == count * 3
    assert set(per_token.values()) == {1}
    workers_used = {line[2] for line in lines(marks)}
    assert len(workers_used) == 2


async def test_cancel_reaches_the_worker_process(cluster: Cluster, tmp_path: Path) -> None:
    """A cancel sent to the API process stops the run in whichever worker process runs it."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "x", two=30.0)
        )
        await _until(lambda: any(line[1] == "one" for line in lines(marks)))
        await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
        stopped = await client.runs.get(thread["thread_id"], run["run_id"])
    assert stopped["status"] == "interrupted"
    assert [line[1] for line in lines(marks)] == ["one"]


async def test_after_seconds_delays_the_start(cluster: Cluster, tmp_path: Path) -> None:
    """A run with after_seconds stays pending until then, then runs (no polling needed)."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "later"), after_seconds=2
        )
        await asyncio.sleep(1.0)
        early = await client.runs.get(thread["thread_id"], run["run_id"])
        await client.runs.join(thread["thread_id"], run["run_id"])
        late = await client.runs.get(thread["thread_id"], run["run_id"])
    assert early["status"] == "pending"
    assert late["status"] == "success"
