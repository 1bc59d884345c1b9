"""Tests of Database: a configured server, the embedded pgserver, and failures."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from graphwright.errors import ConfigurationError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.runtime.database import Database
from graphwright.settings import Settings
from graphwright.store import WorkflowStore, load_migrations

pytestmark = pytest.mark.integration

MakeSpec = Callable[..., WorkflowSpec]
PACKAGED = [migration.name for migration in load_migrations()]


@pytest.fixture
def embedded_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose embedded server is stopped after the test."""
    data_dir = tmp_path / "data"
    yield data_dir
    if (data_dir / "pg" / "postmaster.pid").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
        # Database leaves the server running on purpose (cleanup_mode=None).
        server = pgserver.get_server(data_dir / "pg")
        server.cleanup_mode = "stop"
        server.cleanup()


async def test_configured_url_is_migrated_and_closed(
    create_database: Callable[[], Awaitable[str]],
) -> None:
    """With database_url set, opening migrates that database; closing releases the pool."""
    url = await create_database()
    database = Database(Settings(database_url=url, pool_min_size=1, pool_max_size=2))

    async with database as db:
        assert db.applied_migrations == PACKAGED
        assert (db.url, db.embedded) == (url, False)
        async with db.pool.connection() as conn:
            cur = await conn.execute("select count(*) as n from gw_threads")
            assert await cur.fetchone() == {"n": 0}

    with pytest.raises(RuntimeError, match="not open"):
        _ = database.pool


async def test_embedded_server_starts_migrates_and_persists(
    embedded_data_dir: Path, make_spec: MakeSpec
) -> None:
    """Without database_url an embedded server starts in data_dir and keeps data across opens."""
    settings = Settings(database_url=None, data_dir=embedded_data_dir, pool_min_size=1)

    async with Database(settings) as db:
        assert db.embedded
        assert db.applied_migrations == PACKAGED
        published = await WorkflowStore(db.pool).publish("acme", make_spec())
    async with Database(settings) as db:
        assert db.applied_migrations == []
        again = await WorkflowStore(db.pool).get("acme", "review-flow")

    assert (embedded_data_dir / "pg" / "PG_VERSION").exists()
    assert (again.version, again.content_hash) == (published.version, published.content_hash)


async def test_unreachable_server_raises_db_unavailable() -> None:
    """An unreachable URL raises db.unavailable naming the URL with its password masked."""
    settings = Settings(database_url="postgresql://gw:s3cret@127.0.0.1:1/gw")

    with pytest.raises(ConfigurationError) as caught:
        await Database(settings, connect_timeout=2).open()

    assert caught.value.code == "db.unavailable"
    assert "s3cret" not in str(caught.value)
    assert "postgresql://gw:***@127.0.0.1:1/gw" in str(caught.value)


async def test_pool_is_unavailable_before_open() -> None:
    """Reading pool or url of a database that is not open raises RuntimeError."""
    database = Database(Settings(database_url="postgresql://gw@127.0.0.1/gw"))

    with pytest.raises(RuntimeError, match="not open"):
        _ = database.pool
    with pytest.raises(RuntimeError, match="not open"):
        _ = database.url
