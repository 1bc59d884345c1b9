"""The database a graphwright process runs on: a configured server or an embedded one."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Self

from graphwright.errors import ConfigurationError
from graphwright.settings import Settings
from graphwright.store.migrations import apply_migrations
from graphwright.store.pool import OUTAGE_ERRORS, Pool, open_pool

if TYPE_CHECKING:
    from graphwright.runtime.embedded import EmbeddedLease, ReleaseOutcome

log = logging.getLogger("graphwright.database")

__all__ = ["OWNER_SETTING", "Database", "process_owner"]

OWNER_SETTING = "gw.owner"
"""Connection setting naming the lease owner whose checkpoint writes the fence allows."""


_LEFT_RUNNING = {
    "in_use": "another graphwright process uses it",
    "kept": "`graphwright db start` keeps it (`graphwright db stop` stops it)",
}


def process_owner() -> str:
    """A lease owner identity unique to this process (host, pid, random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Database:
    """Owns the connection pool of one process and migrates the schema on open.

    With ``settings.database_url`` set, it connects there. Without it, it starts
    (or reuses) an embedded PostgreSQL from the ``pgserver`` package in
    ``settings.data_dir / "pg"`` and holds it while open; :meth:`close` stops
    that server when no other graphwright process uses it (see
    :mod:`graphwright.runtime.embedded`; ``graphwright db start`` keeps it).

    Use it as an async context manager::

        async with Database(settings) as db:
            store = WorkflowStore(db.pool)
    """

    def __init__(
        self,
        settings: Settings,
        *,
        connect_timeout: float = 10.0,
        owner: str | None = None,
        wait_seconds: float = 0.0,
    ) -> None:
        """Prepare, without connecting.

        Args:
            settings: Source of the URL, data directory and pool sizes.
            connect_timeout: Seconds to wait for the server when opening.
            owner: This process's lease owner identity (default: a new one). Every
                connection carries it (``gw.owner``) for the checkpoint fence.
            wait_seconds: How long :meth:`open` keeps retrying while the server is
                unreachable (long-running processes: ``GW_STARTUP_WAIT_SECONDS``);
                0 fails at once, as one-shot commands should.
        """
        self.owner = owner or process_owner()
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._wait_seconds = wait_seconds
        self._pool: Pool | None = None
        self._url: str | None = None
        self._applied: list[str] = []
        self._lease: EmbeddedLease | None = None
        self.released: ReleaseOutcome | None = None
        """What :meth:`close` did with the embedded server (None: not embedded)."""

    @property
    def pool(self) -> Pool:
        """The open pool (autocommit connections with dict rows).

        Raises:
            RuntimeError: The database is not open.
        """
        if self._pool is None:
            raise RuntimeError("Database is not open; use 'async with Database(settings)'")
        return self._pool

    @property
    def url(self) -> str:
        """The URL connected to (it may hold a password: display ``store.mask_url(url)``).

        Raises:
            RuntimeError: The database is not open.
        """
        if self._url is None:
            raise RuntimeError("Database is not open; use 'async with Database(settings)'")
        return self._url

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded server (no ``database_url`` configured)."""
        return self._settings.database_url is None

    @property
    def applied_migrations(self) -> list[str]:
        """Names of the migrations the last :meth:`open` applied."""
        return list(self._applied)

    async def open(self) -> None:
        """Start the embedded server if needed, open the pool and apply migrations.

        Raises:
            ConfigurationError: ``db.unavailable`` when the server cannot be
                reached or the embedded server cannot start; ``config.invalid``
                when the pool sizes contradict each other;
                ``db.migration_changed`` from :func:`apply_migrations`.
        """
        if self._pool is not None:
            return
        settings = self._settings
        if settings.pool_min_size > settings.pool_max_size:
            raise ConfigurationError(
                f"GW_POOL_MIN_SIZE ({settings.pool_min_size}) is larger than "
                f"GW_POOL_MAX_SIZE ({settings.pool_max_size})",
                details={"pool_min_size": settings.pool_min_size},
            )
        url = settings.database_url
        if url is None:
            from graphwright.runtime.embedded import EmbeddedPostgres

            # Starting runs initdb/pg_ctl and may wait for a stopping server: off the loop.
            self._lease = await asyncio.to_thread(EmbeddedPostgres(settings.data_dir).acquire)
            url = self._lease.url
        deadline = time.monotonic() + self._wait_seconds
        pause = 0.5
        try:
            while True:
                try:
                    pool = await self._connect(url)
                    break
                except ConfigurationError as exc:
                    if exc.code != "db.unavailable" or time.monotonic() + pause > deadline:
                        raise
                    log.warning(
                        "waiting for PostgreSQL (%s); retrying in %.1fs", exc.message, pause
                    )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 5.0)
        except BaseException:
            await self._release_embedded()
            raise
        self._pool, self._url = pool, url

    async def _connect(self, url: str) -> Pool:
        """Open the pool and apply migrations (``db.unavailable`` if the server is away)."""
        settings = self._settings
        pool = await open_pool(
            url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            connect_timeout=self._connect_timeout,
            session={OWNER_SETTING: self.owner},
        )
        try:
            self._applied = await apply_migrations(pool)
        except OUTAGE_ERRORS as exc:
            await pool.close()
            raise ConfigurationError(
                f"PostgreSQL went away while migrating: {exc}", code="db.unavailable"
            ) from exc
        except BaseException:
            await pool.close()
            raise
        return pool

    async def close(self) -> None:
        """Close the pool; stop the embedded server, if any, unless something else uses it."""
        pool, self._pool, self._url = self._pool, None, None
        try:
            if pool is not None:
                await pool.close()
        finally:
            await self._release_embedded()

    async def _release_embedded(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            # Shielded: a cancelled close must not leave the lock held or the server half-stopped.
            self.released = await asyncio.shield(asyncio.to_thread(lease.release))
            if self.released in _LEFT_RUNNING:
                log.info(
                    "embedded PostgreSQL in %s left running: %s",
                    self._settings.data_dir,
                    _LEFT_RUNNING[self.released],
                )
            elif self.released == "stopped":
                log.info(
                    "embedded PostgreSQL in %s stopped: no other process uses it",
                    self._settings.data_dir,
                )

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
