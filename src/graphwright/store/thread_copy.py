"""Copy a thread: its ``gw_threads`` row and its rows in LangGraph's checkpoint tables.

LangGraph has no copy call; replaying history through ``update_state`` would
re-create checkpoints with new ids and lose pending writes (interrupts). Copying
the rows keeps every checkpoint, id and pending write exactly, under the new
tenant-qualified thread key, in one transaction with a consistent snapshot.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store.pool import Pool
from graphwright.store.threads import ThreadRecord

__all__ = ["CHECKPOINT_TABLES", "copy_thread"]

CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
"""LangGraph's tables keyed by ``thread_id`` (``langgraph-checkpoint-postgres``)."""

_COLUMNS = (
    "tenant_id, thread_id, workflow_id, workflow_version, status, metadata, run_id, error,"
    " created_at, updated_at, lease_owner, lease_expires_at"
)


async def copy_thread(
    pool: Pool,
    tenant: str,
    source_id: str,
    target_id: str,
    *,
    source_key: str,
    target_key: str,
) -> ThreadRecord:
    """Create thread ``target_id`` as a copy of ``source_id`` (same tenant).

    The copy has the source's workflow binding, metadata, status (``idle`` for
    a running source) and every checkpoint row, re-keyed from ``source_key`` to
    ``target_key``. Runs, run events and approval records are not copied.

    Raises:
        NotFoundError: ``thread.not_found`` for an unknown source.
        WorkflowConflictError: ``thread.exists`` when ``target_id`` is taken.
    """
    async with pool.connection() as conn, conn.transaction():
        # One snapshot for every statement: a run writing meanwhile cannot leave
        # the copy with a checkpoint whose blobs or writes are missing.
        await conn.execute("set transaction isolation level repeatable read")
        cur = await conn.execute(
            "insert into gw_threads (tenant_id, thread_id, workflow_id, workflow_version,"
            " status, metadata, error)"
            " select tenant_id, %s, workflow_id, workflow_version,"
            "  case when status = 'running' then 'idle' else status end, metadata, error"
            " from gw_threads where tenant_id = %s and thread_id = %s"
            " on conflict (tenant_id, thread_id) do nothing returning " + _COLUMNS,
            (target_id, tenant, source_id),
        )
        row = await cur.fetchone()
        if row is None:
            cur = await conn.execute(
                "select 1 from gw_threads where tenant_id = %s and thread_id = %s",
                (tenant, source_id),
            )
            if await cur.fetchone() is None:
                raise NotFoundError(
                    f"thread {source_id!r} does not exist",
                    code="thread.not_found",
                    details={"thread_id": source_id},
                )
            raise WorkflowConflictError(
                f"thread {target_id!r} already exists",
                code="thread.exists",
                details={"thread_id": target_id},
            )
        for table in CHECKPOINT_TABLES:
            columns = await _columns(conn, table)
            others = sql.SQL(", ").join(sql.Identifier(c) for c in columns if c != "thread_id")
            await conn.execute(
                sql.SQL(
                    "insert into {table} (thread_id, {others})"
                    " select %s, {others} from {table} where thread_id = %s"
                ).format(table=sql.Identifier(table), others=others),
                (target_key, source_key),
            )
    return ThreadRecord(**row)


async def _columns(conn: Any, table: str) -> list[str]:
    """Columns of a checkpoint table, read from the catalog.

    The saver's own migrations add columns over time; copying whatever exists
    keeps the copy faithful without tracking them here.
    """
    cur = await conn.execute(
        "select column_name from information_schema.columns"
        " where table_schema = current_schema() and table_name = %s order by ordinal_position",
        (table,),
    )
    return [r["column_name"] for r in await cur.fetchall()]
