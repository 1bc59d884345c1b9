"""Fixtures for tests against a real PostgreSQL.

The server is ``GW_TEST_DATABASE_URL`` (default: local ``postgres`` with trust
auth). Every session works in its own throw-away database, dropped at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from graphwright.store import Pool, apply_migrations, open_pool

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

CreateDatabase = Callable[[], Awaitable[str]]


def _server_url() -> str:
    return os.environ.get("GW_TEST_DATABASE_URL", DEFAULT_SERVER_URL)


def _url_of(database: str) -> str:
    return urlsplit(_server_url())._replace(path=f"/{database}").geturl()


async def _admin(statement: sql.Composed) -> None:
    async with await psycopg.AsyncConnection.connect(_server_url(), autocommit=True) as conn:
        await conn.execute(statement)


@pytest.fixture(scope="session")
async def create_database() -> AsyncIterator[CreateDatabase]:
    """Return a function creating an empty ``gw_test_*`` database; all are dropped at the end."""
    names: list[str] = []

    async def create() -> str:
        name = f"gw_test_{secrets.token_hex(6)}"
        await _admin(sql.SQL("create database {}").format(sql.Identifier(name)))
        names.append(name)
        return _url_of(name)

    yield create
    for name in names:
        await _admin(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
async def database_url(create_database: CreateDatabase) -> str:
    """URL of the session's fresh database."""
    return await create_database()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[Pool]:
    """Pool on the session's database with graphwright's migrations applied."""
    opened = await open_pool(database_url, min_size=1, max_size=8)
    try:
        await apply_migrations(opened)
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def tenant() -> str:
    """A tenant id no other test uses, so tests sharing the database stay apart."""
    return f"t-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
async def module_database_url(create_database: CreateDatabase) -> str:
    """A database of the test module's own.

    For modules whose tests leave runs queued or deliveries due and expect them to stay
    so: in the session's database, a live server started by another module (its workers
    claim every tenant's queued runs) would take them.
    """
    return await create_database()


@pytest.fixture(scope="module")
async def module_pool(module_database_url: str) -> AsyncIterator[Pool]:
    """Pool on :func:`module_database_url` with graphwright's migrations applied."""
    opened = await open_pool(module_database_url, min_size=1, max_size=8)
    try:
        await apply_migrations(opened)
        yield opened
    finally:
        await opened.close()
