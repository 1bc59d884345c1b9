"""``graphwright migrate`` as an operator runs it before an upgrade, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import json

import psycopg
import pytest
from typer.testing import CliRunner, Result

from graphwright.cli import app
from graphwright.store.migrations import load_migrations

from ..conftest import CreateDatabase

pytestmark = pytest.mark.integration


async def invoke(*args: str) -> Result:
    """Run the command in a thread: it runs its own event loop, as it does for a user."""
    return await asyncio.to_thread(functools.partial(CliRunner().invoke, app, list(args)))


async def test_migrate_applies_once_then_reports_up_to_date(
    create_database: CreateDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh database gets every migration once; the second call applies nothing."""
    url = await create_database()
    monkeypatch.setenv("GW_DATABASE_URL", url)
    known = [migration.name for migration in load_migrations()]

    first = await invoke("migrate", "--json")
    second = await invoke("migrate")

    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["applied"] == known
    assert report["pending"] == []
    assert report["newer"] == []
    assert second.exit_code == 0, second.output
    assert "applied " not in second.stderr
    assert f"schema up to date ({len(known)} migrations)" in second.stderr
    with psycopg.connect(url) as conn:
        rows = conn.execute("select name from gw_schema_migrations order by name").fetchall()
    assert [row[0] for row in rows] == known


async def test_migrate_names_migrations_of_a_newer_release(
    create_database: CreateDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger row this release does not ship (a newer release ran) is reported, not an error."""
    url = await create_database()
    monkeypatch.setenv("GW_DATABASE_URL", url)
    assert (await invoke("migrate")).exit_code == 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into gw_schema_migrations (name, checksum) values ('9999_future.sql', 'x')"
        )

    result = await invoke("migrate")

    assert result.exit_code == 0, result.output
    assert "9999_future.sql" in result.stderr


async def test_migrate_against_a_dead_server_fails_with_a_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unreachable database is exit 2 with db.unavailable, at once."""
    from tests.integration.service.conftest import free_port

    monkeypatch.setenv("GW_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")

    result = await invoke("migrate")

    assert result.exit_code == 2
    assert "db.unavailable" in result.output
