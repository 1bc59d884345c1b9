"""The connection pool every store runs on: autocommit connections with dict rows."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from graphwright.errors import ConfigurationError

__all__ = ["OUTAGE_ERRORS", "Pool", "mask_url", "open_pool", "ping"]

Pool: TypeAlias = AsyncConnectionPool[AsyncConnection[DictRow]]
"""A pool of autocommit connections returning rows as dicts (what the stores expect)."""

_URL_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]+@")
_PARAM_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^&\s]+)")


OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
)
"""Errors of the database that mean "unreachable now" (retry, wait, 503), not "wrong"."""

CONNECTION_WAIT_SECONDS = 5.0
"""How long a caller waits for a pooled connection before ``PoolTimeout``."""


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``.

    Handles URLs (``postgresql://user:secret@host/db``, ``?password=secret``) and
    key/value connection strings (``host=x password=secret``).
    """
    masked = _URL_PASSWORD.sub(r"\1***@", url)
    return _PARAM_PASSWORD.sub(r"\1***", masked)


async def open_pool(
    conninfo: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 10.0,
    session: Mapping[str, str] | None = None,
) -> Pool:
    """Open a pool of autocommit, dict-row connections and wait until it is ready.

    One probe connection is made first so that a wrong URL fails quickly with the
    server's own reason instead of a pool timeout.

    Args:
        conninfo: PostgreSQL URL or key/value connection string.
        min_size: Connections kept open.
        max_size: Most connections the pool opens.
        connect_timeout: Seconds to wait for the server.
        session: PostgreSQL settings set on every connection (``set_config``), such
            as ``gw.owner``, the lease owner the checkpoint fence compares with.

    Returns:
        The open pool; the caller closes it.

    Raises:
        ConfigurationError: ``db.unavailable`` when the server cannot be reached
            (the message names the URL with its password masked).
    """
    shown = mask_url(conninfo)
    try:
        probe = await psycopg.AsyncConnection.connect(
            conninfo, connect_timeout=max(1, round(connect_timeout))
        )
    except psycopg.ProgrammingError:
        # libpq echoes the offending part of a malformed string, which may be the password.
        raise _unavailable(shown, "invalid connection string") from None
    except psycopg.Error as exc:
        raise _unavailable(shown, str(exc).strip()) from exc
    await probe.close()

    pool: Pool = AsyncConnectionPool(
        conninfo,
        connection_class=AsyncConnection[DictRow],
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        # A connection that died in a server restart is replaced before it is handed out.
        check=AsyncConnectionPool.check_connection,
        configure=_configure(dict(session or {})),
        # Waiting for a connection gives up soon in an outage (the API answers 503).
        timeout=CONNECTION_WAIT_SECONDS,
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=connect_timeout)
    except PoolTimeout as exc:
        await pool.close()
        raise _unavailable(shown, f"pool not ready after {connect_timeout:g}s") from exc
    return pool


def _configure(session: dict[str, str]) -> Callable[[AsyncConnection[DictRow]], Awaitable[None]]:
    async def configure(conn: AsyncConnection[DictRow]) -> None:
        for name, value in session.items():
            await conn.execute("select set_config(%s, %s, false)", (name, value))

    return configure


async def ping(
    pool: Pool,
    *,
    timeout: float,  # noqa: ASYNC109 - the pool's own wait for a connection
) -> None:
    """Run a trivial query (waits ``timeout`` for a connection); raises when unreachable."""
    async with pool.connection(timeout=timeout) as conn:
        await conn.execute("select 1")


def _unavailable(shown_url: str, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"cannot connect to PostgreSQL at {shown_url}: {reason}",
        code="db.unavailable",
        details={"url": shown_url},
    )
