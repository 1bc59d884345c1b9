"""Remove whole threads: every row graphwright keeps for them, and their checkpoints.

What goes with a thread is found in the schema rather than listed here: every
``gw_*`` table with ``tenant_id`` and ``thread_id`` columns (runs, approvals,
thread-bound schedules, webhook deliveries, and whatever later features add), every
``gw_*`` table keyed by ``tenant_id`` and ``run_id`` alone for the thread's runs (the
event log), and LangGraph's checkpoint tables of every namespace. The audit log
(``gw_audit``) is append-only and keeps its history.

The callers (the TTL sweeper, ``graphwright prune``, ``POST /threads/prune``) lock
the threads first (``FOR UPDATE`` on ``gw_threads``) in the same transaction, and
:func:`busy_threads` checks again under that lock, so no run can be queued on a
thread while it goes: queuing a run updates (and so waits for) the thread's row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from graphwright.store.pool import Pool
from graphwright.store.thread_copy import CHECKPOINT_TABLES

__all__ = [
    "RowCounts",
    "ThreadRef",
    "ThreadTables",
    "busy_threads",
    "delete_locked_threads",
    "remove_threads",
    "thread_tables",
]

RowCounts = Counter[tuple[str, "ThreadRef"]]
"""Rows removed, by (table, thread)."""

_KEEP_HISTORY = frozenset({"gw_audit"})
"""Tables that keep their rows when a thread goes (append-only by design)."""

_LAST = ("gw_approvals", "gw_runs", "gw_threads")
"""Deleted after every other table, in this order: the reopen trigger of ``gw_runs``
finds no approval to reopen, and rows referring to runs or threads go first."""


@dataclass(frozen=True, order=True)
class ThreadRef:
    """A tenant's thread."""

    tenant_id: str
    thread_id: str

    @property
    def key(self) -> str:
        """The checkpointer's thread id (``runtime.checkpoints.thread_key``)."""
        return f"{self.tenant_id}/{self.thread_id}"


@dataclass(frozen=True)
class ThreadTables:
    """graphwright's tables that hold rows of a thread.

    Attributes:
        by_thread: Tables with ``tenant_id`` and ``thread_id``, in deletion order.
        by_run: Tables with ``tenant_id`` and ``run_id`` but no ``thread_id``.
    """

    by_thread: tuple[str, ...]
    by_run: tuple[str, ...]


async def thread_tables(conn: Any) -> ThreadTables:
    """Read from the catalog which ``gw_*`` tables hold rows of threads or of their runs."""
    cur = await conn.execute(
        "select c.table_name as name,"
        " bool_or(c.column_name = 'tenant_id') as tenant,"
        " bool_or(c.column_name = 'thread_id') as thread,"
        " bool_or(c.column_name = 'run_id') as run"
        " from information_schema.columns c join information_schema.tables t"
        "  on t.table_schema = c.table_schema and t.table_name = c.table_name"
        " where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'"
        "  and c.table_name like 'gw\\_%%'"
        " group by c.table_name order by c.table_name"
    )
    rows = [r for r in await cur.fetchall() if r["tenant"] and r["name"] not in _KEEP_HISTORY]
    by_thread = [r["name"] for r in rows if r["thread"] and r["name"] not in _LAST]
    by_thread += [name for name in _LAST if any(r["name"] == name for r in rows)]
    by_run = [r["name"] for r in rows if r["run"] and not r["thread"]]
    return ThreadTables(by_thread=tuple(by_thread), by_run=tuple(by_run))


def _pairs(refs: Iterable[ThreadRef]) -> tuple[list[str], list[str]]:
    ordered = list(refs)
    return [r.tenant_id for r in ordered], [r.thread_id for r in ordered]


async def busy_threads(conn: Any, refs: Sequence[ThreadRef]) -> set[ThreadRef]:
    """Those of ``refs`` with a pending or running run (read after locking the threads)."""
    if not refs:
        return set()
    tenants, threads = _pairs(refs)
    cur = await conn.execute(
        "select distinct r.tenant_id, r.thread_id from gw_runs r"
        " join unnest(%s::text[], %s::text[]) as x(tenant_id, thread_id)"
        "  on r.tenant_id = x.tenant_id and r.thread_id = x.thread_id"
        " where r.status in ('pending', 'running')",
        (tenants, threads),
    )
    return {ThreadRef(r["tenant_id"], r["thread_id"]) for r in await cur.fetchall()}


async def delete_locked_threads(
    conn: Any, refs: Sequence[ThreadRef], tables: ThreadTables
) -> RowCounts:
    """Delete the threads ``refs`` with all their rows, inside the caller's transaction.

    The caller has locked the threads' ``gw_threads`` rows on ``conn`` and checked
    that none has an active run (:func:`busy_threads`).

    Returns:
        Rows deleted per (table, thread); tables without rows are left out.
    """
    counts: RowCounts = Counter()
    if not refs:
        return counts
    tenants, threads = _pairs(refs)
    chosen = "(select * from unnest(%(tenants)s::text[], %(threads)s::text[]))"
    params = {"tenants": tenants, "threads": threads, "keys": [r.key for r in refs]}
    for table in tables.by_run:
        query = sql.SQL(
            "with d as (delete from {table} x using gw_runs r"
            " where x.tenant_id = r.tenant_id and x.run_id = r.run_id"
            " and (r.tenant_id, r.thread_id) in " + chosen + " returning r.tenant_id, r.thread_id)"
            " select tenant_id, thread_id, count(*) as n from d group by tenant_id, thread_id"
        ).format(table=sql.Identifier(table))
        await _count(conn, query, params, table, counts)
    for table in tables.by_thread:
        query = sql.SQL(
            "with d as (delete from {table} x where (x.tenant_id, x.thread_id) in "
            + chosen
            + " returning x.tenant_id, x.thread_id)"
            " select tenant_id, thread_id, count(*) as n from d group by tenant_id, thread_id"
        ).format(table=sql.Identifier(table))
        await _count(conn, query, params, table, counts)
    by_key = {r.key: r for r in refs}
    for table in CHECKPOINT_TABLES:
        # Every namespace (subworkflows write their own) goes with the thread.
        cur = await conn.execute(
            sql.SQL(
                "with d as (delete from {table} where thread_id = any(%(keys)s)"
                " returning thread_id) select thread_id, count(*) as n from d group by thread_id"
            ).format(table=sql.Identifier(table)),
            params,
        )
        for row in await cur.fetchall():
            counts[(table, by_key[row["thread_id"]])] += row["n"]
    return counts


async def remove_threads(
    pool: Pool,
    tenant: str,
    thread_ids: Sequence[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> list[ThreadRef]:
    """Delete those of a tenant's threads that are not busy, with all their rows.

    Threads that do not exist, do not match ``metadata`` (a caller's scope), or have
    a pending or running run are left alone. One transaction.

    Returns:
        The threads deleted.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "select t.tenant_id, t.thread_id from gw_threads t"
            " where t.tenant_id = %(tenant)s and t.thread_id = any(%(ids)s)"
            " and t.status <> 'running' and (%(scope)s::jsonb is null or t.metadata @> %(scope)s)"
            " order by t.thread_id for update of t",
            {
                "tenant": tenant,
                "ids": list(dict.fromkeys(thread_ids)),
                "scope": Jsonb(dict(metadata)) if metadata else None,
            },
        )
        refs = [ThreadRef(r["tenant_id"], r["thread_id"]) for r in await cur.fetchall()]
        busy = await busy_threads(conn, refs)
        chosen = [ref for ref in refs if ref not in busy]
        if chosen:
            await delete_locked_threads(conn, chosen, await thread_tables(conn))
    return chosen


async def _count(
    conn: Any, query: sql.Composed, params: dict[str, Any], table: str, counts: RowCounts
) -> None:
    cur = await conn.execute(query, params)
    for row in await cur.fetchall():
        counts[(table, ThreadRef(row["tenant_id"], row["thread_id"]))] += row["n"]
