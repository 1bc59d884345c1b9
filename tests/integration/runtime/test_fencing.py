"""Fencing: once another process holds a run's lease, this process's checkpoint writes fail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.store import Pool

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "fenced",
    "state": {"trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        name: {"kind": "function", "ref": f"fence.{name}", "writes": "trail"}
        for name in ("one", "two", "three")
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "three"},
        {"from": "three", "to": "END"},
    ],
}


async def test_taken_over_run_cannot_write_checkpoints(
    open_engine: OpenEngine, pool: Pool, tenant: str
) -> None:
    """After a take-over, the old holder's next checkpoint is refused and it stops; node three
    never runs here and the new holder's row is left alone."""
    entered, release = asyncio.Event(), asyncio.Event()
    ran: list[str] = []
    registry = Registry()

    async def one() -> str:
        ran.append("one")
        return "one"

    async def two() -> str:
        ran.append("two")
        entered.set()
        await release.wait()
        return "two"

    async def three() -> str:
        ran.append("three")
        return "three"

    for name, func in (("one", one), ("two", two), ("three", three)):
        registry.add_function(f"fence.{name}", func)
    engine = await open_engine(registry, lease_seconds=60)  # no renewal during the test
    await engine.publish(DOC)

    async def run() -> Any:
        return await engine.run("fenced", thread_id="fenced-1")

    running = asyncio.create_task(run())
    await asyncio.wait_for(entered.wait(), 30)
    async with pool.connection() as conn:  # what another process's claim does
        await conn.execute(
            "update gw_runs set lease_owner = 'someone-else', attempts = attempts + 1"
            " where tenant_id = %s and thread_id = %s and status = 'running'",
            (tenant, "fenced-1"),
        )
    release.set()
    result = await asyncio.wait_for(running, 30)

    assert result.status == "failed"
    assert ran == ["one", "two"]
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select status, lease_owner from gw_runs where tenant_id = %s and thread_id = %s",
            (tenant, "fenced-1"),
        )
        assert await cur.fetchall() == [{"status": "running", "lease_owner": "someone-else"}]
    history = await engine.history("fenced-1", limit=10)
    assert all("two" not in (c.values.get("trail") or []) for c in history)
