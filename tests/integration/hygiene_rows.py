"""Counting a thread's rows in every table that can hold them (thread TTL and pruning tests).

Tables are found in the catalog, not listed: every table with a ``thread_id`` column
(graphwright's by tenant and thread id, LangGraph's checkpoint tables by the
``<tenant>/<thread>`` key), and every table with a ``run_id`` but no ``thread_id``
column (the event log) by the threads' run ids, read before anything is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from graphwright.store import Pool

Ref = tuple[str, str]
"""(tenant, thread id)."""


async def _columns(conn: Any) -> dict[str, set[str]]:
    cur = await conn.execute(
        "select c.table_name, c.column_name from information_schema.columns c"
        " join information_schema.tables t on t.table_schema = c.table_schema"
        "  and t.table_name = c.table_name"
        " where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'"
    )
    tables: dict[str, set[str]] = {}
    for row in await cur.fetchall():
        tables.setdefault(row["table_name"], set()).add(row["column_name"])
    return tables


async def run_ids(pool: Pool, refs: Sequence[Ref]) -> list[Ref]:
    """(tenant, run id) of every run of the threads."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select r.tenant_id, r.run_id from gw_runs r"
            " join unnest(%s::text[], %s::text[]) as x(tenant_id, thread_id)"
            "  on r.tenant_id = x.tenant_id and r.thread_id = x.thread_id",
            ([t for t, _ in refs], [i for _, i in refs]),
        )
        return [(r["tenant_id"], r["run_id"]) for r in await cur.fetchall()]


async def thread_rows(pool: Pool, refs: Sequence[Ref], runs: Sequence[Ref] = ()) -> dict[str, int]:
    """Rows of the threads (and of the runs ``runs``) per table; every table is listed."""
    tenants, threads = [t for t, _ in refs], [i for _, i in refs]
    keys = [f"{t}/{i}" for t, i in refs]
    counts: dict[str, int] = {}
    async with pool.connection() as conn:
        for table, columns in sorted((await _columns(conn)).items()):
            name = sql.Identifier(table)
            if "thread_id" in columns and "tenant_id" in columns:
                query = sql.SQL(
                    "select count(*) as n from {} x join unnest(%s::text[], %s::text[])"
                    " as p(tenant_id, thread_id)"
                    " on x.tenant_id = p.tenant_id and x.thread_id = p.thread_id"
                ).format(name)
                params: tuple[Any, ...] = (tenants, threads)
            elif "thread_id" in columns:
                query = sql.SQL("select count(*) as n from {} where thread_id = any(%s)").format(
                    name
                )
                params = (keys,)
            elif "run_id" in columns and "tenant_id" in columns:
                query = sql.SQL(
                    "select count(*) as n from {} x join unnest(%s::text[], %s::text[])"
                    " as p(tenant_id, run_id) on x.tenant_id = p.tenant_id and x.run_id = p.run_id"
                ).format(name)
                params = ([t for t, _ in runs], [r for _, r in runs])
            else:
                continue
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
            assert row is not None
            counts[table] = int(row["n"])
    return counts


async def checkpoint_counts(pool: Pool, ref: Ref) -> dict[str, int]:
    """Checkpoints of a thread per namespace."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select checkpoint_ns, count(*) as n from checkpoints where thread_id = %s"
            " group by checkpoint_ns",
            (f"{ref[0]}/{ref[1]}",),
        )
        return {r["checkpoint_ns"]: int(r["n"]) for r in await cur.fetchall()}
