"""Node implementations of ``bench_service.py`` (``register(registry)``).

Loaded by the benchmark's in-process Engine and, through ``GW_REGISTRY_MODULES``,
by the ``graphwright serve`` subprocess, so both run exactly the same code.
"""

from __future__ import annotations

import asyncio
import hashlib

from graphwright import Registry


def register(registry: Registry) -> None:
    """Register ``bench.step``: trivial async work (one yield, a short hash)."""

    async def step(label: str, token: str) -> dict[str, object]:
        await asyncio.sleep(0)
        digest = hashlib.blake2s(f"{token}:{label}".encode(), digest_size=4).hexdigest()
        return {"trail": [f"{label}:{digest}"]}

    registry.add_function("bench.step", step)
