"""A schedule through a PostgreSQL crash: firings wait the outage out, none lost or doubled."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.cron_schedule import Schedule
from graphwright.runtime.crons import CronSpec, cron_service
from graphwright.runtime.process import Runtime, open_runtime
from graphwright.runtime.run_request import RunRequest
from graphwright.settings import Settings
from graphwright.store.pool import OUTAGE_ERRORS
from tests.integration.faults.private_postgres import (
    PrivatePostgres,
    remove_private_postgres,
    start_private_postgres,
)

pytestmark = pytest.mark.integration

TENANT = "faults"
DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "cron-tick",
    "state": {"token": {"type": "string", "default": ""}},
    "input": ["token"],
    "nodes": {"tick": {"kind": "function", "ref": "cron.tick", "inputs": {"token": "state.token"}}},
    "edges": [{"from": "START", "to": "tick"}, {"from": "tick", "to": "END"}],
}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own, which it crashes."""
    server = start_private_postgres()
    try:
        yield server
    finally:
        remove_private_postgres(server)


def registry(marks: Path) -> Registry:
    """``cron.tick`` appends its token to ``marks`` (a side effect)."""
    reg = Registry()

    async def tick(token: str) -> dict[str, Any]:
        with marks.open("a", encoding="utf-8") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return {}

    reg.add_function("cron.tick", tick)
    return reg


async def scheduled_runs(runtime: Runtime, cron_id: str) -> list[dict[str, Any]]:
    """Per scheduled time of the cron: its number of runs and their statuses."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "select metadata->>'cron_scheduled_at' as at, count(*) as n,"
            " array_agg(status) as statuses from gw_runs"
            " where tenant_id = %s and metadata->>'cron_id' = %s group by 1 order by 1",
            (TENANT, cron_id),
        )
        return list(await cur.fetchall())


async def test_firings_wait_out_a_postgres_crash(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """Crash PostgreSQL for 4 s under an every-second cron: each second still fires once."""
    settings = Settings(
        database_url=private_postgres.url,
        tenant=TENANT,
        workers=2,
        lease_seconds=2,
        cron_poll_seconds=1,
        pool_min_size=1,
        pool_max_size=6,
        checkpointers=1,
    )
    async with open_runtime(settings, registry=registry(tmp_path / "marks")) as runtime:
        await runtime.catalog.publish(TENANT, DOC)
        crons = cron_service(runtime)
        spec = CronSpec(
            schedule="* * * * * *",
            request=RunRequest(assistant_id="cron-tick", input={"token": "t"}),
        )
        cron = await crons.create(TENANT, None, spec)
        await asyncio.sleep(4)
        await asyncio.to_thread(private_postgres.stop, "immediate")
        crashed_at = time.time()
        await asyncio.sleep(4)
        await asyncio.to_thread(private_postgres.start)
        await asyncio.sleep(6)
        deadline = time.monotonic() + 60
        while True:  # the scheduler is back: every firing is a run, and every run ended
            try:
                await crons.delete(TENANT, cron.cron_id)
                break
            except OUTAGE_ERRORS:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.5)
        while True:
            found = await scheduled_runs(runtime, cron.cron_id)
            if all(s in ("success", "error") for row in found for s in row["statuses"]):
                break
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.5)
    times = [datetime.fromisoformat(row["at"]) for row in found]
    assert all(row["n"] == 1 for row in found), found
    assert all(row["statuses"] == ["success"] for row in found), found
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(seconds=1)}
    assert times[0].timestamp() < crashed_at - 1
    assert times[-1].timestamp() > crashed_at + 6  # firings went on after the restart
    assert times[0] == Schedule("* * * * * *").next_after(cron.created_at)
