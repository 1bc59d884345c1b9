"""Named rate limits in one process: nodes wait their turn, visibly, and cancel promptly.

The engine here has no GW_REDIS_URL, so its limits are kept in process memory; the
shared (Redis) variant across worker processes is in
tests/integration/service/test_rate_limits_shared.py. The Redis tests at the end
use the shared Redis with keys of their own, and a private Redis for the outage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphwright import Registry, RunEvent
from graphwright.registry import parse_rate_limit
from graphwright.runtime.ratelimits import RateLimits
from tests.integration.runtime.conftest import OpenEngine
from tests.integration.service.conftest import REDIS_URL
from tests.integration.service.private_redis import PrivateRedis

pytestmark = pytest.mark.integration


def limited_map(workflow_id: str, *, limit: str, items: int) -> dict[str, Any]:
    """A map over ``items`` numbers whose item node waits on the limit ``limit``."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "items": {"type": "array", "items": {"type": "integer"}, "default": list(range(items))},
            "out": {"type": "array", "items": {"type": "number"}, "reducer": "append"},
        },
        "nodes": {
            "call": {
                "kind": "map",
                "over": "state.items",
                "node": {
                    "kind": "function",
                    "ref": "rl.call",
                    "writes": "out",
                    "rate_limit": limit,
                    # One attempt only: a wait that counted as a failure would fail the run.
                    "retry": {"max_attempts": 1},
                    "timeout": 0.5,
                },
            }
        },
        "edges": [{"from": "START", "to": "call"}, {"from": "call", "to": "END"}],
    }


def calling_registry(stamps: list[float], **limits: str) -> Registry:
    """``rl.call`` appends its start time to ``stamps``; ``limits`` are declared."""
    registry = Registry()

    async def call(item: int) -> float:
        now = time.time()
        stamps.append(now)
        return now

    registry.add_function("rl.call", call)
    for name, text in limits.items():
        registry.add_rate_limit(name, text)
    return registry


SCHEDULING_SLACK = 0.05


def most_in_any_window(stamps: list[float], seconds: float) -> int:
    """The largest number of stamps inside one window [t, t + seconds) starting at a stamp."""
    ordered = sorted(stamps)
    return max(
        sum(1 for other in ordered[i:] if other < start + seconds)
        for i, start in enumerate(ordered)
    )


async def collect(events: Any) -> list[RunEvent]:
    """All events of a stream."""
    return [event async for event in events]


def samples(text: bytes, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples called ``name`` of a Prometheus exposition, by sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_in_process_limit_spaces_map_items(open_engine: OpenEngine, tenant: str) -> None:
    """9 map items under 3/second: never more than 3 in any second, none fails, waits reported."""
    stamps: list[float] = []
    engine = await open_engine(calling_registry(stamps, crm_api="3/second"))
    await engine.publish(limited_map("rl-spaced", limit="crm_api", items=9))
    started = time.monotonic()
    events = await collect(engine.stream("rl-spaced"))
    elapsed = time.monotonic() - started

    assert events[-1].data == {"status": "completed"}
    assert len(stamps) == 9
    # Start times carry the event loop's scheduling delay (seen: 25 ms on a loaded
    # machine); the limiter's own spacing is checked with that much slack.
    assert most_in_any_window(stamps, 1.0 - SCHEDULING_SLACK) <= 3
    assert elapsed >= 2.0  # 3 at once, 3 a second later, 3 a second after that
    assert [e for e in events if e.type == "node.failed"] == []

    waiting = [e for e in events if e.type == "node.rate_limited"]
    passed = [e for e in events if e.type == "node.rate_limit_passed"]
    assert len(waiting) >= 6  # the 6 items past the first 3 each waited
    assert len(passed) == len(waiting)
    assert {e.node for e in waiting} == {"call"}
    first = waiting[0].data
    assert (first["limiter"], first["limit"], first["per"], first["reason"]) == (
        "crm_api",
        "3/second",
        "global",
        "limit",
    )
    assert all(e.data["waited_ms"] > 0 for e in passed)

    exposition = await engine.runtime.metrics.render()
    labels = (("limiter", "crm_api"), ("tenant", tenant))
    assert samples(exposition, "graphwright_rate_limit_wait_seconds_count")[labels] == 9
    assert samples(exposition, "graphwright_rate_limit_waits_total")[labels] == len(passed)
    assert samples(exposition, "graphwright_rate_limit_wait_seconds_sum")[labels] >= 3.0


async def test_cancel_while_waiting_is_prompt(open_engine: OpenEngine, tenant: str) -> None:
    """A run whose node waits a minute for its turn is cancelled within seconds; it never runs."""
    stamps: list[float] = []
    engine = await open_engine(calling_registry(stamps, slow="1/minute"), lease_seconds=1.5)
    await engine.publish(limited_map("rl-cancel", limit="slow", items=2))
    cancelled_at: float | None = None
    events: list[RunEvent] = []
    async for event in engine.stream("rl-cancel"):
        events.append(event)
        if event.type == "node.rate_limited" and cancelled_at is None:
            cancelled_at = time.monotonic()
            await engine.runtime.run_service.cancel(tenant, event.thread_id, event.run_id)
    assert cancelled_at is not None
    assert time.monotonic() - cancelled_at < 5.0
    assert len(stamps) == 1  # the second item never got its turn
    run = await engine.runtime.runs.get(tenant, events[-1].run_id)
    assert run.status == "interrupted"
    assert [e for e in events if e.type == "node.rate_limit_passed"] == []


async def test_limits_per_tenant_and_global() -> None:
    """A per-tenant limit gives each tenant its own window; a global one is shared."""
    limits = RateLimits(
        {
            "own": parse_rate_limit("own", "2/minute per tenant"),
            "shared": parse_rate_limit("shared", "2/minute"),
        },
        redis_url=None,
    )
    reports: list[tuple[str, dict[str, Any]]] = []

    def report(event: str, data: dict[str, Any]) -> None:
        reports.append((event, data))

    try:
        for tenant in ("a", "a", "b", "b"):
            assert await limits.wait("own", tenant=tenant, report=report) == 0.0
        await limits.wait("shared", tenant="a", report=report)
        await limits.wait("shared", tenant="b", report=report)
        third = asyncio.create_task(limits.wait("shared", tenant="c", report=report))
        await asyncio.sleep(0.2)
        assert not third.done()  # the global window is full for every tenant
        third.cancel()
        with pytest.raises(asyncio.CancelledError):
            await third
    finally:
        await limits.close()
    assert [event for event, _ in reports] == ["node.rate_limited"]
    assert reports[0][1]["retry_after"] > 50


async def test_redis_limit_is_shared_between_limiters() -> None:
    """Two RateLimits on one Redis (as two processes) share a window: the third call waits."""
    limit = parse_rate_limit("crm_api", "2/second")
    prefix = f"gw:test:{uuid.uuid4().hex}"
    one = RateLimits({"crm_api": limit}, redis_url=REDIS_URL, key_prefix=prefix)
    two = RateLimits({"crm_api": limit}, redis_url=REDIS_URL, key_prefix=prefix)
    quiet: Any = lambda *_: None  # noqa: E731
    try:
        assert await one.wait("crm_api", tenant="t", report=quiet) == 0.0
        assert await two.wait("crm_api", tenant="t", report=quiet) == 0.0
        started = time.monotonic()
        waited = await one.wait("crm_api", tenant="t", report=quiet)
        assert waited > 0.5
        assert time.monotonic() - started >= 0.5
    finally:
        await one.close()
        await two.close()


async def test_redis_outage_keeps_nodes_waiting(tmp_path: Path) -> None:
    """With Redis gone, a waiter keeps waiting (reported once); once it is back, it goes on."""
    limit = parse_rate_limit("crm_api", "1/second")
    with PrivateRedis(tmp_path / "redis.log") as server:
        limits = RateLimits({"crm_api": limit}, redis_url=server.url)
        reports: list[tuple[str, dict[str, Any]]] = []

        def report(event: str, data: dict[str, Any]) -> None:
            reports.append((event, data))

        try:
            await limits.wait("crm_api", tenant="t", report=report)
            server.kill()
            waiter = asyncio.create_task(limits.wait("crm_api", tenant="t", report=report))
            await asyncio.sleep(3.0)
            assert not waiter.done()  # no failure, no turn without the shared window
            assert [(e, d["reason"]) for e, d in reports] == [
                ("node.rate_limited", "storage_unavailable")
            ]
            server.start()
            waited = await asyncio.wait_for(waiter, 15)
        finally:
            await limits.close()
    assert waited >= 3.0
    assert [e for e, _ in reports][-1] == "node.rate_limit_passed"


async def test_api_counting_falls_back_to_memory_without_redis(tmp_path: Path) -> None:
    """try_acquire counts in this process's memory while Redis is unreachable."""
    limit = parse_rate_limit("api", "2/minute per tenant")
    with PrivateRedis(tmp_path / "redis.log") as server:
        limits = RateLimits({}, redis_url=server.url)
        try:
            assert await limits.try_acquire(limit, "api", "t") is None
            server.kill()
            assert await limits.try_acquire(limit, "api", "t") is None
            assert await limits.try_acquire(limit, "api", "t") is None
            retry_after = await limits.try_acquire(limit, "api", "t")
        finally:
            await limits.close()
    assert retry_after is not None
    assert 50 < retry_after <= 60
