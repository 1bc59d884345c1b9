"""The cron scheduler: every process with run slots fires due crons of every tenant.

It sleeps until the next fire time it knows of (or :meth:`CronScheduler.wake`),
never longer than ``GW_CRON_POLL_SECONDS`` so that crons created through another
process are seen too, then leases the due crons and fires each one (see
:mod:`graphwright.runtime.crons`). With several processes, each due cron is leased
by one of them; a PostgreSQL outage is logged and waited out with backoff, leaving
firings to be retried under their lease, never dropped or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import psycopg

from graphwright.errors import GraphwrightError
from graphwright.runtime.background import BackgroundLoop
from graphwright.runtime.crons import CronService, cron_service
from graphwright.store.pool import OUTAGE_ERRORS

if TYPE_CHECKING:
    from graphwright.runtime.process import Runtime

__all__ = ["CronScheduler", "cron_scheduler"]

log = logging.getLogger("graphwright.crons")

_RETRIED: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, psycopg.Error, GraphwrightError)
"""Errors of a tick that are waited out: outages (and a firing the lease lets be retried)."""
_LATE = 0.005
"""Seconds to wake after a fire time, so the database sees it as passed."""


class CronScheduler(BackgroundLoop):
    """Fires the due crons of every tenant, in the background."""

    task_name = "graphwright-cron-scheduler"

    def __init__(
        self,
        crons: CronService,
        *,
        owner: str,
        lease_seconds: float,
        poll_seconds: float,
        batch: int = 50,
    ) -> None:
        """Fire through ``crons`` as lease owner ``owner``."""
        self.crons = crons
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.fired = 0
        """Runs started by this process's firings (a figure for tests and logs)."""
        self._wake = asyncio.Event()
        super().__init__()

    def wake(self) -> None:
        """Look again now (a cron was created or changed)."""
        self._wake.set()

    async def tick(self) -> int:
        """Lease and fire one batch of due crons; returns how many were leased."""
        store = self.crons.store
        claimed, now = await store.claim_due(
            self.owner, lease_seconds=self.lease_seconds, limit=self.batch
        )
        for cron in claimed:
            if await self.crons.fire(cron, now=now, owner=self.owner) is not None:
                self.fired += 1
        return len(claimed)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            timeout = self.poll_seconds
            try:
                self._wake.clear()
                while await self.tick() >= self.batch:
                    pass
                due, now = await self.crons.store.next_due()
                if due is not None:
                    left = (due - now).total_seconds() + _LATE
                    timeout = max(_LATE, min(self.poll_seconds, left))
                delay = 0.5
            except _RETRIED as exc:
                log.warning("cron scheduler: %s; retrying in %.1fs", exc, delay)
                timeout, delay = delay, min(delay * 2, self.poll_seconds)
            except Exception:  # a bug must not stop every schedule of the deployment
                log.exception("cron scheduler failed; retrying in %.1fs", delay)
                timeout, delay = delay, min(delay * 2, self.poll_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)


def cron_scheduler(runtime: Runtime) -> CronScheduler:
    """The scheduler of a process with run slots (not started)."""
    scheduler = CronScheduler(
        cron_service(runtime),
        owner=runtime.owner,
        lease_seconds=runtime.settings.lease_seconds,
        poll_seconds=runtime.settings.cron_poll_seconds,
    )
    scheduler.crons.on_change = scheduler.wake
    return scheduler
