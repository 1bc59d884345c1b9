"""Direct maintenance of LangGraph's checkpoint tables (what the saver has no call for)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from graphwright.store.pool import Pool

__all__ = ["FENCE_SQLSTATE", "delete_run_checkpoints", "setup_checkpointer"]

FENCE_SQLSTATE = "GWF01"
"""SQLSTATE of a checkpoint write refused because another process holds the run's lease."""

# The fence: a checkpoint, blob or pending write of a thread whose running run is
# leased to another process than the writing connection's ``gw.owner`` is refused in
# the same statement (a row trigger), so a process whose lease was taken over can
# never overwrite the new holder's progress. Connections without ``gw.owner``
# (maintenance, tests) are not fenced.
_FENCE = (
    f"""
create or replace function gw_checkpoint_fence() returns trigger language plpgsql as $$
declare
    writer text := current_setting('gw.owner', true);
    tenant text;
begin
    if writer is null or writer = '' then
        return new;
    end if;
    tenant := split_part(new.thread_id, '/', 1);
    if exists (
        select 1 from gw_runs r
        where r.tenant_id = tenant
          and r.thread_id = substr(new.thread_id, length(tenant) + 2)
          and r.status = 'running'
          and r.lease_owner is distinct from writer
    ) then
        raise exception 'the run on thread % is leased to another process', new.thread_id
            using errcode = '{FENCE_SQLSTATE}';
    end if;
    return new;
end
$$
""",
    "create or replace trigger gw_checkpoint_fence before insert or update on checkpoints"
    " for each row execute function gw_checkpoint_fence()",
    "create or replace trigger gw_checkpoint_fence before insert or update on checkpoint_writes"
    " for each row execute function gw_checkpoint_fence()",
    "create or replace trigger gw_checkpoint_fence before insert or update on checkpoint_blobs"
    " for each row execute function gw_checkpoint_fence()",
)


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
    """Run the checkpointer's own migrations (``setup``), then install the fence, under an
    advisory lock.

    Processes starting together against one database then migrate one at a time.
    """
    async with pool.connection() as conn:
        await conn.execute("select pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            await setup()
            for statement in _FENCE:
                await conn.execute(statement)
        finally:
            await conn.execute("select pg_advisory_unlock(%s)", (_SETUP_LOCK,))
