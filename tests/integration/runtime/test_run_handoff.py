"""Runs on new threads start in an idle run slot of the creating process (no queue trip)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.process import Runtime, open_runtime
from graphwright.runtime.run_request import RunRequest
from graphwright.settings import Settings
from tests.integration.conftest import CreateDatabase

pytestmark = pytest.mark.integration

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "handoff",
    "state": {"hold": {"type": "number", "default": 0}, "done": {"type": "boolean"}},
    "input": ["hold"],
    "nodes": {"work": {"kind": "function", "ref": "ho.work", "inputs": {"hold": "state.hold"}}},
    "edges": [{"from": "START", "to": "work"}, {"from": "work", "to": "END"}],
}


def registry() -> Registry:
    """``ho.work`` sleeps ``hold`` seconds."""
    reg = Registry()

    async def work(hold: float) -> dict[str, Any]:
        await asyncio.sleep(hold)
        return {"done": True}

    reg.add_function("ho.work", work)
    return reg


@pytest.fixture(scope="module")
async def database_url(create_database: CreateDatabase) -> str:
    """A database of this module's own: no other process's workers claim its queued runs."""
    return await create_database()


@pytest.fixture
async def services(database_url: str, tenant: str) -> AsyncIterator[Runtime]:
    """Runtime of one process with one run slot, on the session's database."""
    settings = Settings(
        database_url=database_url, tenant=tenant, workers=1, pool_min_size=1, pool_max_size=6
    )
    async with open_runtime(settings, registry=registry()) as opened:
        await opened.catalog.publish(tenant, DOC)
        yield opened


def request(hold: float, **options: Any) -> RunRequest:
    """A run of the handoff workflow on a thread created with it."""
    return RunRequest(
        assistant_id="handoff", input={"hold": hold}, if_not_exists="create", **options
    )


async def test_new_thread_run_starts_in_an_idle_slot(services: Runtime, tenant: str) -> None:
    """With a slot idle, the run is created claimed (running, first attempt) and completes."""
    await asyncio.sleep(0.2)  # the slot has looked at the (empty) queue and waits
    run = await services.run_service.create(tenant, "h-1", request(0))
    assert (run.status, run.attempts, run.lease_owner) == ("running", 1, services.owner)
    done = await services.run_service.wait_done(tenant, run.run_id)
    assert done.status == "success"
    thread = await services.threads.get(tenant, "h-1")
    assert thread.status == "completed"


async def test_busy_slots_and_delayed_runs_go_through_the_queue(
    services: Runtime, tenant: str
) -> None:
    """A run created while the slot is busy, or delayed, is queued and runs after."""
    await asyncio.sleep(0.2)
    first = await services.run_service.create(tenant, "h-2", request(0.5))
    assert first.status == "running"
    second = await services.run_service.create(tenant, "h-3", request(0))
    delayed = await services.run_service.create(tenant, "h-4", request(0, after_seconds=0.1))
    assert (second.status, delayed.status) == ("pending", "pending")
    for run in (first, second, delayed):
        ended = await services.run_service.wait_done(tenant, run.run_id)
        assert ended.status == "success", ended.error


async def test_delayed_run_starts_when_due_while_slots_idle(services: Runtime, tenant: str) -> None:
    """A delayed run queued while the slot idles starts about when due, not at the idle wake."""
    await asyncio.sleep(0.2)
    warm = await services.run_service.create(tenant, "h-5", request(0))
    await services.run_service.wait_done(tenant, warm.run_id)  # the slot read "next due" now
    started = asyncio.get_running_loop().time()
    delayed = await services.run_service.create(tenant, "h-6", request(0, after_seconds=0.3))
    assert delayed.status == "pending"
    done = await asyncio.wait_for(services.run_service.wait_done(tenant, delayed.run_id), 3)
    assert done.status == "success"
    assert asyncio.get_running_loop().time() - started >= 0.3
