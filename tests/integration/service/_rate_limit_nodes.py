"""Node implementation of the shared rate-limit test, loaded by the worker processes.

Each call appends ``<start time> <pid> <tag> <item>`` to the file ``marks`` the
moment it starts, so the test can count calls per second across processes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from graphwright import Registry


def _append(path: str, line: str) -> None:
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def register(registry: Registry) -> None:
    """Register ``rl.stamp``."""

    async def stamp(item: int, tag: str, marks: str) -> int:
        # Async, so the time is taken the moment the call starts (no thread hand-off).
        _append(marks, f"{time.time():.6f} {os.getpid()} {tag} {item}")
        return item

    registry.add_function("rl.stamp", stamp)
