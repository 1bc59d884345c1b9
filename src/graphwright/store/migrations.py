"""Apply graphwright's ordered SQL migrations, once each, safely from many processes.

The SQL files ship inside the package (``graphwright/store/migrations/*.sql``), so
an installed graphwright can migrate its database; the repository's top-level
``migrations/`` is a link to the same folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from graphwright.errors import ConfigurationError

__all__ = [
    "MIGRATIONS_LOCK_KEY",
    "Migration",
    "applied_migrations",
    "apply_migrations",
    "load_migrations",
]

MIGRATIONS_LOCK_KEY = 0x67776D6967726174
"""Advisory lock key held while migrating (the ASCII bytes of ``gwmigrat``).

It lies outside the 32-bit range of ``hashtext()``, so it never collides with the
per-row advisory locks the stores take.
"""

_CREATE_LEDGER = """
create table if not exists gw_schema_migrations (
    name       text        primary key,
    checksum   text        not null,
    applied_at timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class Migration:
    """One SQL migration file.

    Attributes:
        name: File name, such as ``0001_core.sql``; migrations run in name order.
        sql: The file's text.
        checksum: SHA-256 of the text (line endings normalised to ``\\n``).
    """

    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path | Traversable | None = None) -> list[Migration]:
    """Read the ``*.sql`` files of a directory, sorted by name.

    Args:
        directory: Folder holding the files; default: the migrations packaged
            with graphwright.

    Returns:
        The migrations in the order they are applied.
    """
    folder = directory if directory is not None else _packaged_directory()
    migrations = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql") or not entry.is_file():
            continue
        text = entry.read_bytes().decode("utf-8").replace("\r\n", "\n")
        checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        migrations.append(Migration(name=entry.name, sql=text, checksum=checksum))
    return sorted(migrations, key=lambda migration: migration.name)


async def apply_migrations(
    pool: AsyncConnectionPool[AsyncConnection[Any]], directory: Path | None = None
) -> list[str]:
    """Apply the migrations not yet recorded in ``gw_schema_migrations``.

    Each file runs in its own transaction together with its ledger row, so a
    failing file leaves no trace and is retried on the next start. The whole run
    holds a session advisory lock (:data:`MIGRATIONS_LOCK_KEY`): processes that
    start together wait for each other, and each file is applied exactly once.
    Recorded migrations missing from ``directory`` (written by a newer release)
    are left alone.

    Args:
        pool: Pool of the database to migrate.
        directory: Folder of ``*.sql`` files; default: the packaged migrations.

    Returns:
        Names of the files applied by this call, in order (empty when up to date).

    Raises:
        ConfigurationError: ``db.migration_changed`` when an applied file's content
            differs from what was recorded; nothing is applied then.
        psycopg.Error: A migration's SQL failed; earlier files stay applied.
    """
    migrations = load_migrations(directory)
    applied: list[str] = []
    async with pool.connection() as conn:
        await conn.execute("select pg_advisory_lock(%s)", (MIGRATIONS_LOCK_KEY,))
        try:
            await conn.execute(_CREATE_LEDGER)
            async with conn.cursor(row_factory=tuple_row) as cur:
                await cur.execute("select name, checksum from gw_schema_migrations")
                recorded: dict[str, str] = {
                    name: checksum for name, checksum in await cur.fetchall()
                }
            _check_unchanged(migrations, recorded)
            for migration in migrations:
                if migration.name in recorded:
                    continue
                async with conn.transaction():
                    # prepare=False: a prepared statement cannot hold several commands.
                    await conn.execute(migration.sql.encode("utf-8"), prepare=False)
                    await conn.execute(
                        "insert into gw_schema_migrations (name, checksum) values (%s, %s)",
                        (migration.name, migration.checksum),
                    )
                applied.append(migration.name)
        finally:
            await conn.execute("select pg_advisory_unlock(%s)", (MIGRATIONS_LOCK_KEY,))
    return applied


async def applied_migrations(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    *,
    timeout: float,  # noqa: ASYNC109 - the pool's own wait for a connection
) -> set[str]:
    """Names of the migrations applied to the database (waits ``timeout`` for a connection)."""
    async with pool.connection(timeout=timeout) as conn:
        cur = await conn.execute("select name from gw_schema_migrations")
        return {row["name"] for row in await cur.fetchall()}


def _check_unchanged(migrations: list[Migration], recorded: dict[str, str]) -> None:
    for migration in migrations:
        checksum = recorded.get(migration.name)
        if checksum is not None and checksum != migration.checksum:
            raise ConfigurationError(
                f"migration {migration.name} was changed after it was applied; "
                "add a new migration file instead of editing an applied one",
                code="db.migration_changed",
                details={
                    "migration": migration.name,
                    "recorded_checksum": checksum,
                    "file_checksum": migration.checksum,
                },
            )


def _packaged_directory() -> Traversable:
    return resources.files("graphwright.store").joinpath("migrations")
