"""Tests of the migrations runner against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from graphwright.errors import ConfigurationError
from graphwright.store import Pool, apply_migrations, load_migrations

pytestmark = pytest.mark.integration

# Not idempotent on purpose: applying either file twice fails.
COUNTED = {
    "0001_counter.sql": "create table counter (name text primary key);"
    " insert into counter values ('0001');",
    "0002_more.sql": "insert into counter values ('0002');",
}


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


async def ledger(pool: Pool) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute("select name from gw_schema_migrations order by name")
        return [row["name"] for row in await cur.fetchall()]


async def test_packaged_migrations_include_core() -> None:
    """The packaged migrations are found without a directory, core first."""
    names = [migration.name for migration in load_migrations()]

    assert names[0] == "0001_core.sql"
    assert names == sorted(names)


async def test_apply_is_idempotent(fresh_pool: Pool) -> None:
    """A second run applies nothing and every packaged file is recorded once."""
    names = [migration.name for migration in load_migrations()]

    first = await apply_migrations(fresh_pool)
    second = await apply_migrations(fresh_pool)

    assert first == names
    assert second == []
    assert await ledger(fresh_pool) == names
    async with fresh_pool.connection() as conn:
        cur = await conn.execute(
            "select count(*) as n from information_schema.tables"
            " where table_name in ('gw_workflows', 'gw_threads')"
        )
        assert (await cur.fetchone()) == {"n": 2}


async def test_concurrent_runs_apply_each_file_once(fresh_pool: Pool, tmp_path: Path) -> None:
    """Two runs started together apply each file exactly once between them."""
    directory = write(tmp_path / "sql", COUNTED)

    results = await asyncio.gather(
        apply_migrations(fresh_pool, directory), apply_migrations(fresh_pool, directory)
    )

    assert sorted(results, key=len) == [[], ["0001_counter.sql", "0002_more.sql"]]
    async with fresh_pool.connection() as conn:
        cur = await conn.execute("select name from counter order by name")
        assert [row["name"] for row in await cur.fetchall()] == ["0001", "0002"]


async def test_concurrent_runs_of_packaged_migrations(fresh_pool: Pool) -> None:
    """Three starters migrating one database together record every packaged file once."""
    names = [migration.name for migration in load_migrations()]

    results = await asyncio.gather(*(apply_migrations(fresh_pool) for _ in range(3)))

    assert sorted(name for applied in results for name in applied) == names
    assert await ledger(fresh_pool) == names


async def test_changed_migration_is_refused(fresh_pool: Pool, tmp_path: Path) -> None:
    """Editing an applied file raises db.migration_changed and applies nothing new."""
    directory = write(tmp_path / "sql", {"0001_counter.sql": COUNTED["0001_counter.sql"]})
    await apply_migrations(fresh_pool, directory)
    (directory / "0001_counter.sql").write_text("create table counter (id int);")
    write(directory, {"0002_more.sql": COUNTED["0002_more.sql"]})

    with pytest.raises(ConfigurationError) as caught:
        await apply_migrations(fresh_pool, directory)

    assert caught.value.code == "db.migration_changed"
    assert caught.value.details["migration"] == "0001_counter.sql"
    assert await ledger(fresh_pool) == ["0001_counter.sql"]


async def test_line_endings_do_not_change_the_checksum(fresh_pool: Pool, tmp_path: Path) -> None:
    """A file checked out with CRLF line endings counts as unchanged."""
    directory = write(tmp_path / "sql", {"0001_a.sql": "create table a (id int);\n"})
    await apply_migrations(fresh_pool, directory)
    (directory / "0001_a.sql").write_bytes(b"create table a (id int);\r\n")

    assert await apply_migrations(fresh_pool, directory) == []


async def test_failed_migration_leaves_no_trace(fresh_pool: Pool, tmp_path: Path) -> None:
    """A failing file is rolled back, earlier files stay, and a fixed file applies later."""
    directory = write(
        tmp_path / "sql",
        {
            "0001_counter.sql": COUNTED["0001_counter.sql"],
            "0002_more.sql": "insert into counter values ('0002'); select * from missing_table;",
        },
    )

    with pytest.raises(psycopg.errors.UndefinedTable):
        await apply_migrations(fresh_pool, directory)

    assert await ledger(fresh_pool) == ["0001_counter.sql"]
    write(directory, {"0002_more.sql": COUNTED["0002_more.sql"]})
    assert await apply_migrations(fresh_pool, directory) == ["0002_more.sql"]
    async with fresh_pool.connection() as conn:
        cur = await conn.execute("select count(*) as n from counter")
        assert (await cur.fetchone()) == {"n": 2}


async def test_non_sql_files_are_ignored(fresh_pool: Pool, tmp_path: Path) -> None:
    """Only *.sql files are migrations; they run in name order."""
    directory = write(
        tmp_path / "sql",
        {"README.md": "not sql", "0002_more.sql": COUNTED["0002_more.sql"]}
        | {"0001_counter.sql": COUNTED["0001_counter.sql"]},
    )

    assert await apply_migrations(fresh_pool, directory) == ["0001_counter.sql", "0002_more.sql"]
