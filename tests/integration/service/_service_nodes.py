"""Node implementations for service tests, loaded by the server via GW_REGISTRY_MODULES.

Side effects are appended to files so tests in another process can count them.
"""

from __future__ import annotations

import asyncio
import os
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
