"""The thread TTL sweeper across a PostgreSQL restart: retried, never crashed, work done after."""

from __future__ import annotations

import asyncio
import time

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from graphwright.store import open_pool
from graphwright.store.thread_ttl import set_thread_ttl
from tests.integration.faults.private_postgres import PrivatePostgres
from tests.integration.hygiene_rows import run_ids, thread_rows

pytestmark = pytest.mark.integration

CHAIN = {
    "dsl": "graphwright/v1",
    "id": "hy-outage",
    "state": {"trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        name: {
            "kind": "function",
            "ref": "hy.step",
            "inputs": {"name": f"'{name}'"},
            "writes": "trail",
        }
        for name in ("one", "two")
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "END"},
    ],
}


async def wait_for(condition: object, seconds: float) -> None:
    """Poll ``condition()`` until true (fails the test after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_ttl_sweep_during_a_restart_is_retried(private_postgres: PrivatePostgres) -> None:
    """With PostgreSQL down the sweeper's passes fail and are retried (the task lives on);
    once it is back, the expired threads go with every row and the others stay."""
    registry = Registry()

    async def step(name: str) -> str:
        return name

    registry.add_function("hy.step", step)
    settings = Settings(
        database_url=private_postgres.url,
        tenant="acme",
        workers=1,
        pool_min_size=1,
        pool_max_size=4,
        thread_ttl_sweep_seconds=0.2,
        lease_seconds=3,
        heartbeat_seconds=1,
        startup_wait_seconds=0,
    )
    async with Engine(settings, registry=registry, workers=True) as engine:
        await engine.publish(CHAIN)
        doomed = [(await engine.run("hy-outage")).thread_id for _ in range(3)]
        kept = (await engine.run("hy-outage")).thread_id
        hygiene = engine.runtime.hygiene
        assert hygiene is not None
        pool = engine.runtime.pool
        refs = [("acme", t) for t in doomed]
        runs = await run_ids(pool, refs)
        before = await thread_rows(pool, refs, runs)
        kept_before = await thread_rows(
            pool, [("acme", kept)], await run_ids(pool, [("acme", kept)])
        )
        for thread_id in doomed:
            await set_thread_ttl(pool, "acme", thread_id, minutes=0.04)  # 2.4 s
        expires = time.monotonic() + 2.4

        await asyncio.to_thread(private_postgres.stop, "immediate")
        failures = hygiene.failures
        await wait_for(lambda: hygiene.failures >= failures + 2, 30)
        await asyncio.sleep(max(0.0, expires - time.monotonic()) + 0.5)
        assert hygiene.running
        assert hygiene.expired == 0
        await asyncio.to_thread(private_postgres.start)
        await wait_for(lambda: hygiene.expired == 3, 60)

        assert hygiene.running
    check = await open_pool(private_postgres.url, min_size=1, max_size=1)
    try:
        after = await thread_rows(check, refs, runs)
        kept_after = await thread_rows(
            check, [("acme", kept)], await run_ids(check, [("acme", kept)])
        )
    finally:
        await check.close()
    assert before["checkpoints"] > 0
    assert before["gw_runs"] == 3
    assert after == dict.fromkeys(before, 0)
    assert kept_after == kept_before
