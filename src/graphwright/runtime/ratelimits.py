"""Named rate limits of one process, shared with every other process through Redis.

Nodes with a ``rate_limit`` wait here for their turn (:meth:`RateLimits.wait`,
the gate of every run's :class:`~graphwright.nodes.context.RunContext`); the
API's per-tenant request limit asks here too (:meth:`RateLimits.try_acquire`).
The bookkeeping is the ``limits`` library's moving window: at most ``burst``
calls in any window of the limit's length, in Redis (``GW_REDIS_URL``) so that
N processes share one quota, or in this process's memory without Redis. Its
Redis storage talks through redis-py (``implementation="redispy"``; the
library's default client, coredis, is not needed).

Waiting:

- A node waits its turn, in this process in arrival order (one waiter per limit
  and key talks to the storage; the others queue behind it), across processes
  by whoever asks first once a call leaves the window. A call is granted only
  :data:`MARGIN` seconds after the call it displaces left the window (a waiter
  sleeps until then).
- The window records a call at the moment it is asked for, while the answer
  takes a varying time to come back (a new connection, a busy event loop).
  So a granted call starts :data:`LEAD` seconds after that moment (at once if
  the answer took longer): calls then start as far apart as the window recorded
  them, and the called service, which sees arrivals with jitter of its own,
  does not find more than the limit in one of its windows.
- Waiting is reported on the run's stream (``node.rate_limited`` when it begins,
  ``node.rate_limit_passed`` when the turn comes) and to :attr:`RateLimits.observers`
  (``/metrics``). It is not a failure and uses no retry attempt; cancelling the
  run ends it at once (it is an ``asyncio`` sleep).
- When Redis is unreachable, waiting nodes keep waiting and retry the storage
  with backoff (``node.rate_limited`` with ``reason: storage_unavailable``): a
  per-process limit in its place would multiply the quota by the number of
  processes, which is what the limit is there to prevent. The run's own time
  limit (``GW_RUN_TIMEOUT_SECONDS``) still applies. API requests, on the other
  hand, are counted in this process's memory while Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any
from weakref import WeakValueDictionary

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from graphwright.errors import RegistryError
from graphwright.nodes.rate_limit import Report
from graphwright.registry.rate_limits import RateLimit

__all__ = ["KEY_PREFIX", "LEAD", "MARGIN", "RateLimits", "WaitObserver"]

log = logging.getLogger("graphwright.ratelimits")

KEY_PREFIX = "gw:ratelimit"
"""Prefix of graphwright's rate-limit keys in Redis."""
MARGIN = 0.1
"""Seconds after a call leaves the window before the next waiting call is granted."""
LEAD = 0.03
"""Seconds from the moment the window records a call to the call's start."""
STORAGE_TIMEOUT = 2.0
"""Seconds one Redis call may take before it counts as the storage being unavailable."""
_BACKOFF = (0.25, 5.0)
"""First and longest pause between storage retries while Redis is unreachable."""

WaitObserver = Callable[[str, str, float], None]
"""Called after every turn a node took: ``(limit name, tenant, seconds waited)``."""


class RateLimits:
    """The process's named limits; one storage for all of them (Redis or memory)."""

    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        *,
        redis_url: str | None,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        """Prepare the storage; nothing connects until the first call.

        Args:
            limits: The declared limits by name (the registry's).
            redis_url: Shared storage; ``None``: this process's memory.
            key_prefix: Prefix of the Redis keys.
        """
        self.limits = dict(limits)
        self.shared = redis_url is not None
        self.observers: list[WaitObserver] = []
        self._pool: Any = None
        self._storage: Storage
        if redis_url is not None:
            import redis.asyncio as redis

            self._pool = redis.ConnectionPool.from_url(
                redis_url,
                socket_timeout=STORAGE_TIMEOUT,
                socket_connect_timeout=STORAGE_TIMEOUT,
            )
            self._storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=key_prefix,
                connection_pool=self._pool,
            )
        else:
            self._storage = MemoryStorage()
        self._window = MovingWindowRateLimiter(self._storage)
        self._local: MemoryStorage | None = None
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        self._outage = False

    async def close(self) -> None:
        """Release the Redis connections (or the memory storage's expiry task)."""
        for storage in (self._storage, self._local):
            timer = getattr(storage, "timer", None)
            if isinstance(timer, asyncio.Task):
                timer.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    async def wait(self, name: str, *, tenant: str, report: Report) -> float:
        """Wait until the limit ``name`` lets one more call of ``tenant`` start.

        Returns the seconds waited (0 for a turn taken at once). Reports
        ``node.rate_limited`` when the wait begins (and when its reason changes)
        and ``node.rate_limit_passed`` when it ends; a turn taken at once reports
        nothing.

        Raises:
            RegistryError: ``registry.unknown_name`` for an undeclared limit (a
                stored workflow is checked against the registry when loaded, so
                this does not happen to a run).
        """
        limit = self._limit(name)
        key = "/".join(_identifiers("node", limit, tenant))
        item = _item(limit)
        started = time.monotonic()
        waiting = _Waiting(limit, report)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        if lock.locked():  # queued behind this process's other waiters
            waiting.says("storage_unavailable" if self._outage else "limit", None)
        async with lock:
            pause = _BACKOFF[0]
            while True:
                asked = time.time()
                try:
                    retry_after = await self._attempt(
                        item, _identifiers("node", limit, tenant), margin=MARGIN
                    )
                except StorageError as exc:
                    self._lost(exc)
                    waiting.says("storage_unavailable", pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, _BACKOFF[1])
                    continue
                self._back()
                if retry_after is None:
                    break
                waiting.says("limit", retry_after)
                await asyncio.sleep(retry_after)
        lead = asked + LEAD - time.time()
        if lead > 0:
            await asyncio.sleep(lead)
        waited = 0.0
        if waiting.reason is not None:
            waited = time.monotonic() - started
            report("node.rate_limit_passed", {"limiter": name, "waited_ms": _ms(waited)})
        for observer in self.observers:
            observer(name, tenant, waited)
        return waited

    async def try_acquire(self, limit: RateLimit, *identifiers: str) -> float | None:
        """Count one call under ``limit`` unless it is full; ``None`` if counted.

        Otherwise returns the seconds until a call leaves the window. While Redis
        is unreachable the call is counted in this process's memory instead.
        """
        item = _item(limit)
        try:
            retry_after = await self._attempt(item, identifiers)
        except StorageError as exc:
            self._lost(exc)
            if self._local is None:
                self._local = MemoryStorage()
            window = MovingWindowRateLimiter(self._local)
            return await _attempt(window, item, identifiers)
        self._back()
        return retry_after

    def _limit(self, name: str) -> RateLimit:
        try:
            return self.limits[name]
        except KeyError:
            raise RegistryError(
                f"no rate limit is declared as '{name}'", code="registry.unknown_name"
            ) from None

    async def _attempt(
        self, item: RateLimitItem, identifiers: tuple[str, ...], *, margin: float = 0.0
    ) -> float | None:
        return await _attempt(self._window, item, identifiers, margin=margin)

    def _lost(self, exc: StorageError) -> None:
        if not self._outage:
            self._outage = True
            log.warning("rate-limit storage unavailable, limited calls wait: %s", exc.storage_error)

    def _back(self) -> None:
        if self._outage:
            self._outage = False
            log.info("rate-limit storage reachable again")


class _Waiting:
    """What one waiter has reported, so each change is reported once."""

    def __init__(self, limit: RateLimit, report: Report) -> None:
        self.limit = limit
        self.report = report
        self.reason: str | None = None

    def says(self, reason: str, retry_after: float | None) -> None:
        if reason == self.reason:
            return
        self.reason = reason
        self.report(
            "node.rate_limited",
            {
                "limiter": self.limit.name,
                "limit": self.limit.describe(),
                "per": self.limit.per,
                "reason": reason,
                "retry_after": None if retry_after is None else round(retry_after, 3),
            },
        )


async def _attempt(
    window: MovingWindowRateLimiter,
    item: RateLimitItem,
    identifiers: tuple[str, ...],
    *,
    margin: float = 0.0,
) -> float | None:
    """Take one call of the window, or return the seconds until one leaves it.

    With ``margin``, a call is taken only once the call it displaces left the
    window ``margin`` seconds ago. That is checked first, on a window ``margin``
    longer (``limits`` keeps windows in whole seconds, reading them is finer);
    the hit itself holds the exact limit even when another process asks at the
    same moment.
    """
    if margin > 0:
        storage: Any = window.storage
        key = item.key_for(*identifiers)
        oldest, count = await storage.get_moving_window(
            key, item.amount, item.get_expiry() + margin
        )
        if count >= item.amount:
            return max(float(oldest) + item.get_expiry() + margin - time.time(), 0.001)
    if await window.hit(item, *identifiers):
        return None
    stats = await window.get_window_stats(item, *identifiers)
    # A call may have left between the two requests: then try again at once.
    return max(stats.reset_time + margin - time.time(), 0.001)


def _item(limit: RateLimit) -> RateLimitItem:
    """The ``limits`` item of ``limit``: ``burst`` calls per window of whole seconds."""
    return RateLimitItemPerSecond(limit.burst, limit.window)


def _identifiers(kind: str, limit: RateLimit, tenant: str) -> tuple[str, ...]:
    """The key parts of ``limit``: shared by all tenants, or the tenant's own."""
    return (kind, limit.name, tenant if limit.per == "tenant" else "*")


def _ms(seconds: float) -> float:
    return math.floor(seconds * 1_000_000) / 1000
