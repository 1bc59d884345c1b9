"""Runaway runs are stopped: a state that keeps growing, and a run past its time limit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

LOOP: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "runaway",
    "state": {
        "pad": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "seconds": {"type": "number", "default": 0},
    },
    "input": ["seconds"],
    "nodes": {"grow": {"kind": "function", "ref": "ra.grow", "inputs": {"s": "state.seconds"}}},
    "edges": [
        {"from": "START", "to": "grow"},
        {"from": "grow", "cases": [{"when": "true", "to": "grow"}], "default": "END"},
    ],
    "limits": {"max_steps": 10000},
}


def registry(calls: list[int]) -> Registry:
    """``ra.grow`` sleeps ``s`` seconds and appends 10 KB to ``pad``."""
    reg = Registry()

    async def grow(s: float) -> dict[str, Any]:
        calls.append(1)
        await asyncio.sleep(s)
        return {"pad": "x" * 10_000}

    reg.add_function("ra.grow", grow)
    return reg


async def test_growing_state_stops_the_run(open_engine: OpenEngine) -> None:
    """A self-loop growing its state stops failed with run.state_too_large after a few steps."""
    calls: list[int] = []
    engine = await open_engine(registry(calls), max_state_bytes=100_000)
    await engine.publish(LOOP)
    result = await engine.run("runaway", {"seconds": 0})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "run.state_too_large"
    assert result.error["details"]["max_state_bytes"] == 100_000
    assert 10 <= len(calls) <= 12  # 10 KB per step: stopped at the first checkpoint past 100 KB
    row = await engine.runtime.runs.get(engine.tenant, result.run_id)
    assert row.status == "error"


async def test_run_past_its_time_limit_stops(open_engine: OpenEngine) -> None:
    """With GW_RUN_TIMEOUT_SECONDS, a run still looping stops with run.timeout."""
    calls: list[int] = []
    engine = await open_engine(registry(calls), run_timeout_seconds=0.5)
    await engine.publish(LOOP)
    result = await engine.run("runaway", {"seconds": 0.2})
    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "run.timeout"
    assert len(calls) <= 4
    row = await engine.runtime.runs.get(engine.tenant, result.run_id)
    assert row.status == "timeout"
    assert (await engine.get_state(result.thread_id)).status == "failed"
