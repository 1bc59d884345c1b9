"""PostgreSQL restarted under load: every run completes, state is exact, no event is lost."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.process import Runtime, open_runtime
from graphwright.runtime.run_request import RunRequest
from graphwright.settings import Settings
from tests.integration.faults.private_postgres import PrivatePostgres

pytestmark = pytest.mark.integration

LABELS = ("one", "two", "three")
DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "fault-chain",
    "state": {
        "token": {"type": "string", "default": ""},
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "extend"},
    },
    "input": ["token"],
    "nodes": {
        label: {
            "kind": "function",
            "ref": "fault.step",
            "inputs": {"label": f"'{label}'", "token": "state.token"},
        }
        for label in LABELS
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "three"},
        {"from": "three", "to": "END"},
    ],
}


def registry(marks: Path) -> Registry:
    """``fault.step`` sleeps a little, then records ``<token> <label>`` (a side effect)."""
    reg = Registry()

    async def step(label: str, token: str) -> dict[str, Any]:
        await asyncio.sleep(0.25)
        with marks.open("a", encoding="utf-8") as handle:
            handle.write(f"{token} {label}\n")
            handle.flush()
            os.fsync(handle.fileno())
        return {"trail": [label]}

    reg.add_function("fault.step", step)
    return reg


async def retrying(call: Any, *, seconds: float = 60.0) -> Any:
    """``await call()`` until it stops failing (the database may be restarting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def restart_loop(server: PrivatePostgres, times: int, *, down: float, up: float) -> None:
    """Crash PostgreSQL (immediate stop) ``times`` times, ``down`` s each, ``up`` s apart."""
    for _ in range(times):
        await asyncio.sleep(up)
        await asyncio.to_thread(server.stop, "immediate")
        await asyncio.sleep(down)
        await asyncio.to_thread(server.start)


async def event_seqs(runtime: Runtime, tenant: str, run_id: str) -> list[int]:
    """Sequence numbers of a run's logged events."""
    return [e.seq for e in await runtime.events.read(tenant, run_id, after=0)]


@pytest.mark.parametrize(
    ("restarts", "down"),
    [
        pytest.param(4, 1.0, id="crashes-shorter-than-the-lease"),
        pytest.param(2, 4.0, id="outages-longer-than-the-lease", marks=pytest.mark.soak),
    ],
)
async def test_runs_survive_postgres_crashes(
    private_postgres: PrivatePostgres, tmp_path: Path, restarts: int, down: float
) -> None:
    """Under crashes every run ends success with an exact trail and gap-free events.

    A node interrupted mid-flight may run again (at-least-once); a node whose
    completion was checkpointed never does, so no run's trail has a duplicate.
    """
    marks = tmp_path / "marks.txt"
    settings = Settings(
        database_url=private_postgres.url,
        tenant="faults",
        workers=4,
        lease_seconds=2,
        pool_min_size=1,
        pool_max_size=10,
        checkpointers=2,
    )
    tokens = [uuid.uuid4().hex[:8] for _ in range(32)]
    async with open_runtime(settings, registry=registry(marks)) as runtime:
        await runtime.catalog.publish("faults", DOC)
        runs = [
            await runtime.run_service.create(
                "faults",
                f"fault-{token}",
                RunRequest(
                    assistant_id="fault-chain", input={"token": token}, if_not_exists="create"
                ),
            )
            for token in tokens
        ]
        await restart_loop(private_postgres, restarts, down=down, up=1.2)
        async with asyncio.timeout(120):
            while True:
                statuses = await retrying(
                    lambda: runtime.runs.statuses("faults", [r.run_id for r in runs])
                )
                if all(
                    s in ("success", "error", "timeout", "interrupted") for s in statuses.values()
                ):
                    break
                await asyncio.sleep(0.3)
        assert set(statuses.values()) == {"success"}, statuses
        attempts: Counter[int] = Counter()
        for run in runs:
            row = await runtime.runs.get("faults", run.run_id)
            attempts[row.attempts] += 1
            assert row.result is not None
            assert row.result["trail"] == list(LABELS)
            seqs = await event_seqs(runtime, "faults", run.run_id)
            assert seqs == list(range(1, len(seqs) + 1)), (run.run_id, seqs)
        print(f"\nruns by claims: {dict(sorted(attempts.items()))}")
    counts = Counter(marks.read_text().split("\n")[:-1])
    again = sum(n - 1 for n in counts.values())
    print(f"\nnode executions repeated after an interruption: {again} of {sum(counts.values())}")
    assert set(counts) == {f"{t} {label}" for t in tokens for label in LABELS}
