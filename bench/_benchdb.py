"""Shared helpers of the benchmarks: a throw-away database and small statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, dbname: str) -> str:
    """Return ``url`` pointing at database ``dbname`` (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str, *, keep: bool = False) -> AsyncIterator[str]:
    """Create ``gw_bench_<random>`` on the server of ``admin_url``; drop it afterwards."""
    name = "gw_bench_" + os.urandom(4).hex()
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield with_database(admin_url, name)
    finally:
        if keep:
            print(f"(kept database {name})")
        else:
            async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
                await conn.execute(
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                )


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
