"""A run whose expression blows its evaluation budget fails with a code; the loop keeps ticking."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from graphwright import Registry
from tests.integration.runtime.conftest import OpenEngine

pytestmark = pytest.mark.integration

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "costly",
    "state": {
        "xs": {"type": "array", "items": {"type": "integer"}, "default": list(range(1000))},
        "out": {"type": "integer", "nullable": True},
    },
    "nodes": {
        "count": {
            "kind": "function",
            "ref": "b.count",
            "inputs": {"pairs": "state.xs.map(a, state.xs.map(b, a * b))"},
            "writes": "out",
        }
    },
    "edges": [{"from": "START", "to": "count"}, {"from": "count", "to": "END"}],
}


def registry() -> Registry:
    """One function counting the pairs it is given."""
    reg = Registry()

    def count(pairs: list[list[int]]) -> int:
        return len(pairs)

    reg.function("b.count")(count)
    return reg


async def test_budget_exceeded_fails_the_run_without_freezing(open_engine: OpenEngine) -> None:
    """The node fails with expr.budget_exceeded while another coroutine keeps ticking."""
    engine = await open_engine(registry())
    await engine.publish(DOC)
    worst, ticks, stop = 0.0, 0, asyncio.Event()

    async def ticker() -> None:
        nonlocal worst, ticks
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.monotonic()
            worst, last, ticks = max(worst, now - last), now, ticks + 1

    task = asyncio.create_task(ticker())
    result = await engine.run("costly")
    stop.set()
    await task
    print(f"longest event-loop stall during the run: {worst * 1000:.1f} ms over {ticks} ticks")

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "expr.budget_exceeded"
    assert ticks > 0
