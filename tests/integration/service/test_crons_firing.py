"""Schedules fired by several processes: each firing exactly once, through crashes and downtime.

An API process without run slots and ``graphwright worker`` processes (each with a
scheduler) share a database of their own. Firings are counted from the runs'
metadata (``cron_scheduled_at``): one run per scheduled second, none missing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import Server, server_env, start_server
from tests.integration.service.test_runs_sdk import lines
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

TICK = chain("cron-tick", ["tick"])
EVERY_SECOND = "* * * * * *"


@dataclass
class Cluster:
    """An API process and worker processes sharing one database."""

    api: Server
    workers: list[Server]
    env: dict[str, str]
    folder: Path
    database_url: str

    def add_worker(self, **env: str) -> Server:
        """Start one more worker process (``env``: settings of its own)."""
        name = f"worker-{uuid.uuid4().hex[:6]}"
        worker = start_server({**self.env, **env}, self.folder / f"{name}.log", command="worker")
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
async def shared_cluster(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """API (no run slots) + workers with 2 slots, 2-s leases, schedulers polling every second."""
    url = await create_database()
    folder = tmp_path_factory.mktemp("cron-cluster")
    env = server_env(url, GW_WORKERS="0", GW_LEASE_SECONDS="2", GW_CRON_POLL_SECONDS="1")
    api = start_server(env, folder / "api.log")
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        published = await http.post("/workflows", json=TICK)
    assert published.status_code in (200, 201), published.text
    built = Cluster(api, [], {**env, "GW_WORKERS": "2"}, folder, url)
    try:
        yield built
    finally:
        for worker in built.workers:
            worker.stop()
        api.stop()


@pytest.fixture
async def cluster(shared_cluster: Cluster) -> Cluster:
    """The shared cluster with exactly two live, started worker processes."""
    for worker in shared_cluster.workers:
        if worker.process.poll() is not None:
            worker.stop()  # closes its log
    shared_cluster.workers = [w for w in shared_cluster.workers if w.process.poll() is None]
    while len(shared_cluster.workers) < 2:
        shared_cluster.add_worker()
    for worker in shared_cluster.workers:
        await started(worker)
    return shared_cluster


@dataclass(frozen=True)
class Firing:
    """The runs started for one scheduled time."""

    at: datetime
    runs: int
    statuses: list[str]
    misfire: bool


async def firings(cluster: Cluster, cron_id: str) -> list[Firing]:
    """Runs of ``cron_id`` grouped by scheduled time, in order."""
    async with await psycopg.AsyncConnection.connect(
        cluster.database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        cur = await conn.execute(
            "select metadata->>'cron_scheduled_at' as at, count(*) as n,"
            " array_agg(status) as statuses,"
            " bool_or(coalesce((metadata->>'cron_misfire')::boolean, false)) as misfire"
            " from gw_runs where metadata->>'cron_id' = %s group by 1 order by 1",
            (cron_id,),
        )
        rows = await cur.fetchall()
    return [
        Firing(datetime.fromisoformat(r["at"]), r["n"], r["statuses"], r["misfire"]) for r in rows
    ]


async def create_cron(cluster: Cluster, marks: Path) -> dict[str, Any]:
    """An every-second cron of cron-tick (new thread per firing, deleted afterwards)."""
    body = {
        "assistant_id": "cron-tick",
        "schedule": EVERY_SECOND,
        "input": {"token": "t", "marks": str(marks), "delays": {"tick": 0.0}},
    }
    async with httpx.AsyncClient(base_url=cluster.api.url, timeout=60) as http:
        answer = await http.post("/runs/crons", json=body)
    assert answer.status_code == 200, answer.text
    cron: dict[str, Any] = answer.json()
    return cron


async def delete_cron(cluster: Cluster, cron_id: str) -> None:
    """Delete the cron (no firing starts after this returns)."""
    async with httpx.AsyncClient(base_url=cluster.api.url, timeout=60) as http:
        assert (await http.delete(f"/runs/crons/{cron_id}")).status_code == 204


async def settled(cluster: Cluster, cron_id: str, *, seconds: float = 90.0) -> list[Firing]:
    """The cron's firings once every run has ended."""
    deadline = time.monotonic() + seconds
    while True:
        found = await firings(cluster, cron_id)
        if all(s not in ("pending", "running") for f in found for s in f.statuses):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.5)


async def started(worker: Server, *, seconds: float = 60.0) -> None:
    """Wait until a worker process says it runs (``graphwright worker ...: N run slots``)."""
    deadline = time.monotonic() + seconds
    while "run slots" not in worker.log.read_text(errors="replace"):
        assert worker.process.poll() is None, worker.log.read_text()[-2000:]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


def assert_each_second_once(found: list[Firing]) -> None:
    """One run per scheduled second, and no second missing between the first and the last."""
    assert all(f.runs == 1 for f in found), [f for f in found if f.runs != 1]
    steps = {(b.at - a.at) for a, b in itertools.pairwise(found)}
    assert steps <= {timedelta(seconds=1)}, sorted(steps)
    assert all(f.statuses == ["success"] for f in found), found


@pytest.mark.parametrize(
    "seconds",
    [pytest.param(20, id="20s"), pytest.param(60, id="a-minute", marks=pytest.mark.soak)],
)
async def test_two_processes_fire_each_second_exactly_once(
    cluster: Cluster, tmp_path: Path, seconds: int
) -> None:
    """Two schedulers racing for an every-second cron: each scheduled second has one run."""
    marks = tmp_path / "marks"
    cron = await create_cron(cluster, marks)
    await asyncio.sleep(seconds)
    await delete_cron(cluster, cron["cron_id"])
    found = await settled(cluster, cron["cron_id"])
    assert_each_second_once(found)
    assert len(found) >= seconds - 6  # workers see the cron within a poll, then every second
    assert len(lines(marks)) == len(found)  # each run's node ran once


async def test_a_killed_scheduler_leaves_no_firing_lost_or_doubled(
    cluster: Cluster, tmp_path: Path
) -> None:
    """SIGKILL one of two workers mid-schedule: the other takes over; each second fires once."""
    marks = tmp_path / "marks"
    cron = await create_cron(cluster, marks)
    await asyncio.sleep(6)
    victim = cluster.workers[0]
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(10)
    victim.stop()  # closes its log
    killed_at = time.time()
    await asyncio.sleep(8)
    await delete_cron(cluster, cron["cron_id"])
    found = await settled(cluster, cron["cron_id"])
    assert_each_second_once(found)
    assert found[0].at.timestamp() < killed_at - 2
    assert found[-1].at.timestamp() > killed_at + 4


async def test_firings_missed_while_every_process_was_down_run_once(
    shared_cluster: Cluster, tmp_path: Path
) -> None:
    """With no scheduler for 6 s, the missed firings run once on recovery, then every second.

    The workers stop cleanly on SIGTERM. The recovering worker treats firings more than
    2 s late as missed (GW_CRON_MISFIRE_GRACE_SECONDS=2, GW_CRON_MISFIRE=once).
    """
    cluster = shared_cluster
    running = [w for w in cluster.workers if w.process.poll() is None]
    for worker in running:
        await started(worker)  # its signal handlers are in place
        worker.process.send_signal(signal.SIGTERM)
    for worker in running:
        assert worker.process.wait(30) == 0
    for worker in cluster.workers:
        worker.stop()  # closes its log
    cluster.workers = []
    marks = tmp_path / "marks"
    cron = await create_cron(cluster, marks)
    first = datetime.fromisoformat(cron["next_run_date"])
    await asyncio.sleep(6)
    assert await firings(cluster, cron["cron_id"]) == []  # nobody to fire it
    recovering = cluster.add_worker(GW_CRON_MISFIRE_GRACE_SECONDS="2")
    deadline = time.monotonic() + 90
    while len(await firings(cluster, cron["cron_id"])) < 4:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    await delete_cron(cluster, cron["cron_id"])
    found = await settled(cluster, cron["cron_id"])
    recovering.stop()  # the other tests' workers have the default grace
    assert all(f.runs == 1 for f in found)
    assert found[0].at == first
    assert found[0].misfire
    assert found[1].at - first >= timedelta(seconds=6)  # the missed seconds ran as one
    assert not found[1].misfire
