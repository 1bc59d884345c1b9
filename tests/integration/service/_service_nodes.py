"""Node implementations for service tests, loaded by the server via GW_REGISTRY_MODULES.

Side effects are appended to files so tests in another process can count them.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from graphwright import Registry


def _mark(path: str, line: str) -> None:
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def register(registry: Registry) -> None:
    """Register ``svc.*`` functions."""

    async def step(label: str, token: str, marks: str, seconds: float) -> dict[str, object]:
        if seconds:
            await asyncio.sleep(seconds)
        if marks:
            _mark(marks, f"{token} {label} {os.getpid()}")
        return {"trail": [label]}

    registry.add_function("svc.step", step)

    async def timed(label: str, token: str, marks: str, seconds: float) -> dict[str, object]:
        """Like ``svc.step``, marking when each execution starts and how it ends."""
        _mark(marks, f"start {token} {label} {os.getpid()} {time.time():.6f}")
        outcome = "cancelled"
        try:
            await asyncio.sleep(seconds)
            outcome = "end"
        finally:
            _mark(marks, f"{outcome} {token} {label} {os.getpid()} {time.time():.6f}")
        return {"trail": [label]}

    registry.add_function("svc.timed", timed)

    async def pad(size: int) -> dict[str, object]:
        """Append ``size`` characters to ``pad`` (a state that keeps growing in a loop)."""
        return {"pad": "x" * size}

    registry.add_function("svc.pad", pad)

    def count(pairs: list[object]) -> int:
        return len(pairs)

    registry.add_function("svc.count", count)
    register_options(registry)


def register_options(registry: Registry) -> None:
    """Register ``svc.options``: returns what the run's config and runtime context hold."""
    from langgraph.config import get_config
    from langgraph.runtime import get_runtime

    from graphwright.nodes.context import RunContext

    async def options() -> dict[str, object]:
        configurable = get_config()["configurable"]
        context = get_runtime(RunContext).context
        return {
            "seen": {
                "configurable": {
                    k: configurable.get(k) for k in ("model", "user_id", "thread_id", "gw_tenant")
                },
                "context": dict(context.values),
                "tenant": context.tenant,
            }
        }

    registry.add_function("svc.options", options)
