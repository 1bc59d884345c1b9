"""A named rate limit shared by separate worker processes through Redis.

An API process (no run slots) and two ``graphwright worker`` processes on a
database of their own, all with ``GW_RATE_LIMITS`` declaring one 5/second limit
on the shared Redis. The node implementation writes its start time, so the limit
is measured where it matters: when calls start.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import Server, server_env, start_server

pytestmark = pytest.mark.integration

NODES = Path(__file__).resolve().parent / "_rate_limit_nodes.py"
RUNS = 10
ITEMS = 5  # 50 limited calls in all
PER_SECOND = 5


def limited_workflow(limit: str) -> dict[str, Any]:
    """A map of ITEMS calls of ``rl.stamp``, each waiting on the limit ``limit``."""
    return {
        "dsl": "graphwright/v1",
        "id": "rl-shared",
        "state": {
            "tag": {"type": "string"},
            "marks": {"type": "string"},
            "items": {"type": "array", "items": {"type": "integer"}, "default": list(range(ITEMS))},
            "out": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
        },
        "input": ["tag", "marks"],
        "nodes": {
            "call": {
                "kind": "map",
                "over": "state.items",
                "node": {
                    "kind": "function",
                    "ref": "rl.stamp",
                    "inputs": {"item": "item", "tag": "input.tag", "marks": "input.marks"},
                    "writes": "out",
                    "rate_limit": limit,
                    # One attempt: any failure, a wait counted as one included, fails the run.
                    "retry": {"max_attempts": 1},
                },
            }
        },
        "edges": [{"from": "START", "to": "call"}, {"from": "call", "to": "END"}],
    }


@dataclass
class Cluster:
    """The API process and the two workers."""

    api: Server
    workers: list[Server]


@pytest.fixture(scope="module")
async def cluster(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    """API + two worker processes sharing a fresh 5/second limit on the shared Redis."""
    url = await create_database()
    folder = tmp_path_factory.mktemp("rate-limits")
    # A name of its own, so no other session's calls on the shared Redis count here.
    limit = f"rl_{secrets.token_hex(4)}"
    env = server_env(
        url,
        GW_WORKERS="0",
        GW_REGISTRY_MODULES=str(NODES),
        GW_RATE_LIMITS=f"{limit}={PER_SECOND}/second",
    )
    document = folder / "rl-shared.json"
    document.write_text(json.dumps(limited_workflow(limit)))
    publish(env, document)
    api = start_server(env, folder / "api.log")
    workers: list[Server] = []
    try:
        for name in ("one", "two"):
            worker_env = {**env, "GW_WORKERS": "4"}
            workers.append(start_server(worker_env, folder / f"{name}.log", command="worker"))
        yield Cluster(api=api, workers=workers)
    finally:
        for worker in workers:
            worker.stop()
        api.stop()


def publish(env: dict[str, str], document: Path) -> None:
    """Publish ``document`` with the CLI (which validates the limit's name against env)."""
    published = subprocess.run(
        [str(Path(sys.executable).parent / "graphwright"), "publish", str(document)],
        env=env,
        capture_output=True,
        check=False,
    )
    assert published.returncode == 0, published.stderr.decode()[-2000:]


def most_in_any_window(stamps: list[float], seconds: float) -> int:
    """The largest number of stamps inside one window [t, t + seconds) starting at a stamp."""
    ordered = sorted(stamps)
    return max(
        sum(1 for other in ordered[i:] if other < start + seconds)
        for i, start in enumerate(ordered)
    )


async def test_two_workers_share_one_limit(cluster: Cluster, tmp_path: Path) -> None:
    """50 limited calls over two worker processes: at most 5 start in any second, none fails."""
    marks = tmp_path / "marks"
    async with get_client(url=cluster.api.url) as client:
        created = []
        for index in range(RUNS):
            thread = await client.threads.create()
            run = await client.runs.create(
                thread["thread_id"], "rl-shared", input={"tag": f"r{index}", "marks": str(marks)}
            )
            created.append((thread["thread_id"], run["run_id"]))
        await asyncio.gather(*(client.runs.join(t, r) for t, r in created))
        finished = [await client.runs.get(t, r) for t, r in created]

    assert Counter(run["status"] for run in finished) == {"success": RUNS}
    rows = [line.split() for line in marks.read_text().splitlines()]
    stamps = [float(row[0]) for row in rows]
    calls = Counter((row[2], row[3]) for row in rows)
    assert len(calls) == RUNS * ITEMS
    assert set(calls.values()) == {1}  # no call ran twice: no attempt failed
    assert len({row[1] for row in rows}) == 2  # both worker processes made calls
    assert most_in_any_window(stamps, 1.0) <= PER_SECOND
    # 5 at once, then 5 a second: the 46th to 50th start more than 9 s after the first.
    assert max(stamps) - min(stamps) > (RUNS * ITEMS / PER_SECOND) - 1
