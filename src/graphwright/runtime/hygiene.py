"""The hygiene sweeper: removes expired threads and prunes checkpoints, in the background.

Every process with run slots (``graphwright serve``/``worker`` with ``GW_WORKERS``)
runs one. Every ``GW_THREAD_TTL_SWEEP_SECONDS`` it removes the threads past their
TTL, and every ``GW_PRUNE_INTERVAL_SECONDS`` (when set) it prunes the checkpoints of
finished threads idle for ``GW_PRUNE_OLDER_THAN_SECONDS``, keeping
``GW_PRUNE_KEEP``. Each batch of threads is one transaction holding the threads'
row locks (``SKIP LOCKED``), so the sweepers of several processes split the work
instead of fighting over it. A database outage is waited out: the pass is retried
with backoff, and the sweeper never stops on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg

from graphwright.runtime.background import BackgroundLoop
from graphwright.settings import Settings
from graphwright.store.pool import Pool
from graphwright.store.pruning import PrunePolicy, prune_threads
from graphwright.store.thread_ttl import expire_threads

__all__ = ["HygieneSweeper"]

log = logging.getLogger("graphwright.hygiene")

_MAX_BACKOFF = 30.0


class HygieneSweeper(BackgroundLoop):
    """Thread TTL and checkpoint pruning for one process.

    Attributes:
        expired: Threads this sweeper deleted (TTL ``delete``).
        kept_latest: Threads it pruned on expiry (TTL ``keep_latest``).
        pruned: Threads it pruned in pruning passes.
        failures: Passes that failed (the database was away) and were retried.
    """

    task_name = "graphwright-hygiene"

    def __init__(self, pool: Pool, settings: Settings, *, batch: int = 100) -> None:
        """Sweep with ``pool`` as ``settings`` say, ``batch`` threads per transaction."""
        self.pool = pool
        self.settings = settings
        self.batch = batch
        self.expired = 0
        self.kept_latest = 0
        self.pruned = 0
        self.failures = 0
        super().__init__()

    async def sweep_expired(self) -> int:
        """Remove (or prune) every thread past its TTL now; returns how many.

        Raises:
            psycopg.Error: The database failed (the next pass retries).
        """
        report = await expire_threads(
            self.pool, default_minutes=self.settings.thread_ttl_minutes, batch=self.batch
        )
        self.expired += len(report.deleted)
        self.kept_latest += len(report.pruned)
        if report.deleted or report.pruned:
            log.info(
                "thread TTL: deleted %d expired threads, pruned %d (keep_latest)",
                len(report.deleted),
                len(report.pruned),
            )
        return len(report.deleted) + len(report.pruned)

    async def prune(self) -> int:
        """Prune the finished threads the settings select; returns how many.

        Raises:
            psycopg.Error: The database failed (the next pass retries).
        """
        policy = PrunePolicy(
            keep=self.settings.prune_keep,
            older_than_seconds=self.settings.prune_older_than_seconds,
        )
        report = await prune_threads(self.pool, policy, batch=self.batch)
        self.pruned += len(report.threads)
        if report.threads:
            totals = report.table_totals()
            log.info(
                "pruned %d threads: %d checkpoints, %d writes, %d blobs deleted",
                len(report.threads),
                totals.get("checkpoints", 0),
                totals.get("checkpoint_writes", 0),
                totals.get("checkpoint_blobs", 0),
            )
        return len(report.threads)

    async def _run(self) -> None:
        ttl_every = self.settings.thread_ttl_sweep_seconds
        prune_every = self.settings.prune_interval_seconds
        now = time.monotonic()
        next_ttl, next_prune = now, now
        delay = 0.5
        while True:
            try:
                if time.monotonic() >= next_ttl:
                    await self.sweep_expired()
                    next_ttl = time.monotonic() + ttl_every
                if prune_every is not None and time.monotonic() >= next_prune:
                    await self.prune()
                    next_prune = time.monotonic() + prune_every
                delay = 0.5
                due = next_ttl if prune_every is None else min(next_ttl, next_prune)
                pause = max(0.0, due - time.monotonic())
            except psycopg.Error as exc:
                # An outage (OUTAGE_ERRORS, PoolTimeout included, are psycopg errors) or a
                # statement that failed with it: the pass runs again.
                self.failures += 1
                log.warning("hygiene sweep failed: %s; retrying in %.1fs", exc, delay)
                pause, delay = delay, min(delay * 2, _MAX_BACKOFF)
            await asyncio.sleep(pause)
