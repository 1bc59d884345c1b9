"""When the client sends a request again, and how long it waits first.

A request that never reached the server (connect errors and timeouts, no free
connection) is always safe to send again. One that may have reached it is sent
again only when it is idempotent, and so are 502/503/504 answers. 4xx answers
are never retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["Backoff", "RetryPolicy", "never_sent"]

_RETRY_STATUSES = frozenset({502, 503, 504})


def never_sent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly did not reach the server."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: about ``base * 2**(n-1)``, at most ``cap`` seconds."""

    base: float = 0.25
    cap: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` >= 1 failed so far)."""
        if self.base <= 0:
            return 0.0
        ceiling = min(self.cap, self.base * 2 ** max(attempt - 1, 0))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a request is sent again, and after which failures."""

    retries: int = 3
    backoff: Backoff = Backoff()

    def after_error(
        self, exc: httpx.TransportError, *, attempt: int, idempotent: bool
    ) -> float | None:
        """Delay before sending again after ``exc`` on ``attempt`` (1-based); None: give up."""
        if attempt > self.retries or not (idempotent or never_sent(exc)):
            return None
        return self.backoff.delay(attempt)

    def after_status(self, status: int, *, attempt: int, idempotent: bool) -> float | None:
        """Delay before sending again after an error status; None: give up."""
        if attempt > self.retries or not idempotent or status not in _RETRY_STATUSES:
            return None
        return self.backoff.delay(attempt)
