"""Fixtures for the engine tests: engines on the session's database, one tenant per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any, Protocol

import pytest

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from graphwright.store import Pool


class OpenEngine(Protocol):
    """Open an engine on the session's database (closed when the test ends)."""

    async def __call__(
        self, registry: Registry, *, tenant: str | None = None, **settings: Any
    ) -> Engine: ...


@pytest.fixture
async def open_engine(database_url: str, pool: Pool, tenant: str) -> AsyncIterator[OpenEngine]:
    """Return a function opening engines for ``registry`` (default: the test's tenant).

    Depends on ``pool`` so the session's database is migrated before any engine opens.
    """
    async with AsyncExitStack() as stack:

        async def open_(
            registry: Registry, *, tenant: str | None = tenant, **settings: Any
        ) -> Engine:
            options: dict[str, Any] = {
                "database_url": database_url,
                "tenant": tenant,
                "pool_min_size": 1,
                "pool_max_size": 4,
                "checkpointers": 2,
                **settings,
            }
            engine = Engine(Settings(**options), registry=registry)
            return await stack.enter_async_context(engine)

        yield open_
