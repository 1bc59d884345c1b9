"""Node implementations of ``bench_streams.py`` (``register(registry)``).

Loaded by the ``graphwright serve`` subprocess through ``GW_REGISTRY_MODULES``.
"""

from __future__ import annotations

import asyncio
import time

from graphwright import Registry


def register(registry: Registry) -> None:
    """Register ``bench.tick``: sleep, count, and say whether to loop again."""

    async def tick(n: int, limit: int, seconds: float, until: float) -> dict[str, object]:
        await asyncio.sleep(seconds)
        n += 1
        more = n < limit and (until <= 0 or time.time() < until)
        return {"n": n, "more": more}

    registry.add_function("bench.tick", tick)
