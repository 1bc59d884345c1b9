"""A node writing to the Store while PostgreSQL is down waits it out: the run succeeds once."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from langgraph.config import get_store

from graphwright.registry import Registry
from graphwright.runtime.process import open_runtime
from graphwright.runtime.run_request import RunRequest
from graphwright.settings import Settings
from tests.integration.faults.private_postgres import PrivatePostgres
from tests.integration.faults.test_postgres_restarts import retrying

pytestmark = pytest.mark.integration

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "store-outage",
    "state": {"token": {"type": "string", "default": ""}},
    "input": ["token"],
    "nodes": {
        "put": {"kind": "function", "ref": "fault.store_put", "inputs": {"token": "state.token"}}
    },
    "edges": [{"from": "START", "to": "put"}, {"from": "put", "to": "END"}],
}


def mark(marks: Path, line: str) -> None:
    """Append a side-effect line (fsynced)."""
    with marks.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


async def test_store_write_during_an_outage_waits_and_succeeds_once(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """The node's put, issued with PostgreSQL stopped, completes after the restart.

    The node runs once (one start, one end mark), the run succeeds, and the item is
    stored once, for the run's tenant.
    """
    marks = tmp_path / "marks.txt"
    started, go = asyncio.Event(), asyncio.Event()
    registry = Registry()

    async def store_put(token: str) -> dict[str, Any]:
        mark(marks, f"start {token}")
        started.set()
        await go.wait()
        await get_store().aput(("outage",), token, {"token": token})
        mark(marks, f"end {token}")
        return {}

    registry.add_function("fault.store_put", store_put)
    settings = Settings(
        database_url=private_postgres.url,
        tenant="faults",
        workers=1,
        lease_seconds=30,  # the outage stays well inside the lease
        pool_min_size=1,
        pool_max_size=4,
        checkpointers=1,
    )
    token = uuid.uuid4().hex[:8]
    async with open_runtime(settings, registry=registry) as runtime:
        await runtime.catalog.publish("faults", DOC)
        run = await runtime.run_service.create(
            "faults",
            f"outage-{token}",
            RunRequest(assistant_id="store-outage", input={"token": token}, if_not_exists="create"),
        )
        async with asyncio.timeout(60):
            await started.wait()
        await asyncio.to_thread(private_postgres.stop, "fast")
        go.set()
        await asyncio.sleep(8)  # longer than the pool waits for a connection (5 s)
        assert marks.read_text().split("\n")[:-1] == [f"start {token}"]
        await asyncio.to_thread(private_postgres.start)
        async with asyncio.timeout(90):
            while True:
                status = (await retrying(lambda: runtime.runs.get("faults", run.run_id))).status
                if status not in ("pending", "running"):
                    break
                await asyncio.sleep(0.3)
        assert status == "success"
        item = await runtime.store_items.get("faults", ("outage",), token)
        assert item is not None
        assert item.value == {"token": token}
        assert await runtime.store_items.count("faults") == 1
        assert await runtime.store_items.count("other") == 0
    assert marks.read_text().split("\n")[:-1] == [f"start {token}", f"end {token}"]
