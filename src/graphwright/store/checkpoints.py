"""Direct maintenance of LangGraph's checkpoint tables (what the saver has no call for)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from graphwright.store.pool import Pool

__all__ = ["delete_run_checkpoints", "setup_checkpointer"]


async def delete_run_checkpoints(pool: Pool, thread_key: str, run_id: str) -> int:
    """Delete the checkpoints (and their pending writes) a run created on a thread.

    Used to roll a cancelled run back: the thread's latest checkpoint becomes
    the one from before the run. Returns the number of checkpoints deleted.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "delete from checkpoints where thread_id = %s and metadata->>'run_id' = %s"
            " returning checkpoint_ns, checkpoint_id",
            (thread_key, run_id),
        )
        rows = await cur.fetchall()
        if rows:
            await conn.execute(
                "delete from checkpoint_writes w using unnest(%s::text[], %s::text[]) as d(ns, id)"
                " where w.thread_id = %s and w.checkpoint_ns = d.ns and w.checkpoint_id = d.id",
                (
                    [r["checkpoint_ns"] for r in rows],
                    [r["checkpoint_id"] for r in rows],
                    thread_key,
                ),
            )
        return len(rows)


_SETUP_LOCK = 7_311_402_118  # advisory lock key around the checkpointer's own migrations


async def setup_checkpointer(pool: Pool, setup: Callable[[], Awaitable[None]]) -> None:
    """Run the checkpointer's own migrations (``setup``) under an advisory lock.

    Processes starting together against one database then migrate one at a time.
    """
    async with pool.connection() as conn:
        await conn.execute("select pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            await setup()
        finally:
            await conn.execute("select pg_advisory_unlock(%s)", (_SETUP_LOCK,))
