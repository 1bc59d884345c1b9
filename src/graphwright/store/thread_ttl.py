"""Thread TTL: a thread's time to live, and the sweep that removes expired threads.

A thread expires ``ttl_minutes`` after its last activity (its creation, a run, a
state or metadata update): ``expires_at`` follows ``updated_at`` in the database
(migration ``0015_thread_ttl.sql``). Threads without a TTL of their own expire by
the deployment's default (``GW_THREAD_TTL_MINUTES``) when one is set.

On expiry, strategy ``delete`` removes the thread with every row and checkpoint
(:mod:`graphwright.store.thread_removal`); ``keep_latest`` prunes it to its newest
checkpoint (:mod:`graphwright.store.pruning`) and keeps it, until its next activity
starts the clock again. A thread with a pending or running run is never touched; it
expires (again) after that run, whose end counts as activity. A thread waiting at an
approval gate is removed like any other when it expires, with its approvals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, get_args

from graphwright.errors import NotFoundError
from graphwright.store.pool import Pool
from graphwright.store.pruning import prune_locked_threads
from graphwright.store.thread_removal import (
    RowCounts,
    ThreadRef,
    busy_threads,
    delete_locked_threads,
    thread_tables,
)

__all__ = [
    "TTL_STRATEGIES",
    "ExpiryReport",
    "TTLStrategy",
    "ThreadTTL",
    "expire_threads",
    "get_thread_ttl",
    "set_thread_ttl",
]

TTLStrategy = Literal["delete", "keep_latest"]
TTL_STRATEGIES: Final[tuple[TTLStrategy, ...]] = get_args(TTLStrategy)

_START: tuple[Any, str, str] = ("-infinity", "", "")


@dataclass(frozen=True)
class ThreadTTL:
    """A thread's TTL as the LangGraph Server API shows it (``include=ttl``).

    Attributes:
        strategy: What happens on expiry: ``delete`` or ``keep_latest``.
        ttl_minutes: Minutes from the last activity to expiry.
        expires_at: When the thread expires as of now (None: pruned by
            ``keep_latest`` and not used since).
        default: Whether this is the deployment's default, not the thread's own.
    """

    strategy: TTLStrategy
    ttl_minutes: float
    expires_at: datetime | None
    default: bool = False

    def to_json(self) -> dict[str, Any]:
        """``{"strategy", "ttl_minutes", "expires_at"}`` (ISO 8601)."""
        return {
            "strategy": self.strategy,
            "ttl_minutes": self.ttl_minutes,
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }


@dataclass
class ExpiryReport:
    """What an expiry pass did (or, dry, would do).

    Attributes:
        deleted: Threads removed (strategy ``delete``).
        pruned: Threads pruned to their latest checkpoint (``keep_latest``).
        rows: Rows deleted per (table, thread).
    """

    deleted: list[ThreadRef] = field(default_factory=list)
    pruned: list[ThreadRef] = field(default_factory=list)
    rows: RowCounts = field(default_factory=Counter)


async def set_thread_ttl(
    pool: Pool, tenant: str, thread_id: str, *, minutes: float, strategy: TTLStrategy = "delete"
) -> ThreadTTL:
    """Give a thread its own TTL, counted from now.

    Raises:
        NotFoundError: ``thread.not_found``.
    """
    async with pool.connection() as conn:
        cur = await conn.execute(
            "update gw_threads set ttl_minutes = %s, ttl_strategy = %s, updated_at = now()"
            " where tenant_id = %s and thread_id = %s"
            " returning ttl_minutes, ttl_strategy, expires_at",
            (minutes, strategy, tenant, thread_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError(
            f"thread {thread_id!r} does not exist",
            code="thread.not_found",
            details={"thread_id": thread_id},
        )
    return ThreadTTL(row["ttl_strategy"], row["ttl_minutes"], row["expires_at"])


async def get_thread_ttl(
    pool: Pool, tenant: str, thread_id: str, *, default_minutes: float | None
) -> ThreadTTL | None:
    """A thread's TTL: its own, else the default (None when neither is set).

    Raises:
        NotFoundError: ``thread.not_found``.
    """
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select ttl_minutes, ttl_strategy, expires_at, updated_at from gw_threads"
            " where tenant_id = %s and thread_id = %s",
            (tenant, thread_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFoundError(
            f"thread {thread_id!r} does not exist",
            code="thread.not_found",
            details={"thread_id": thread_id},
        )
    if row["ttl_minutes"] is not None:
        return ThreadTTL(row["ttl_strategy"], row["ttl_minutes"], row["expires_at"])
    if default_minutes is None:
        return None
    expires = row["updated_at"] + timedelta(minutes=default_minutes)
    return ThreadTTL("delete", default_minutes, expires, default=True)


async def expire_threads(
    pool: Pool,
    *,
    default_minutes: float | None,
    batch: int = 100,
    tenant: str | None = None,
    dry_run: bool = False,
) -> ExpiryReport:
    """Remove (or prune, ``keep_latest``) every thread past its TTL, ``batch`` per transaction.

    Threads past their own TTL first, then those idle past ``default_minutes``.
    Threads locked by another process meanwhile (sweeping them, or queuing a run)
    are skipped. With ``dry_run`` every batch is rolled back.

    Raises:
        psycopg.Error: The database failed; batches committed before stay done.
    """
    report = ExpiryReport()
    await _sweep(pool, _OWN_TTL, {}, report, batch=batch, tenant=tenant, dry_run=dry_run)
    if default_minutes is not None:
        await _sweep(
            pool,
            _DEFAULT_TTL,
            {"default_seconds": default_minutes * 60.0},
            report,
            batch=batch,
            tenant=tenant,
            dry_run=dry_run,
        )
    return report


async def _sweep(
    pool: Pool,
    query: str,
    extra: dict[str, Any],
    report: ExpiryReport,
    *,
    batch: int,
    tenant: str | None,
    dry_run: bool,
) -> None:
    after = _START
    while True:
        params = {
            **extra,
            "tenant": tenant,
            "at": after[0],
            "tenant_after": after[1],
            "thread_after": after[2],
            "batch": batch,
        }
        async with pool.connection() as conn, conn.transaction(force_rollback=dry_run):
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
            if not rows:
                return
            after = (rows[-1]["mark"], rows[-1]["tenant_id"], rows[-1]["thread_id"])
            refs = [ThreadRef(r["tenant_id"], r["thread_id"]) for r in rows]
            busy = await busy_threads(conn, refs)
            strategy = {
                ThreadRef(r["tenant_id"], r["thread_id"]): r["strategy"] or "delete" for r in rows
            }
            doomed = [r for r in refs if r not in busy and strategy[r] == "delete"]
            kept = [r for r in refs if r not in busy and strategy[r] == "keep_latest"]
            counts: RowCounts = Counter()
            if doomed:
                counts = await delete_locked_threads(conn, doomed, await thread_tables(conn))
            if kept:
                counts.update(await prune_locked_threads(conn, kept, keep=1))
                # Expired and pruned: the clock starts again with the next activity.
                await conn.execute(
                    "update gw_threads t set expires_at = null"
                    " from unnest(%s::text[], %s::text[]) as x(tenant_id, thread_id)"
                    " where t.tenant_id = x.tenant_id and t.thread_id = x.thread_id",
                    ([r.tenant_id for r in kept], [r.thread_id for r in kept]),
                )
        report.deleted += doomed
        report.pruned += kept
        report.rows.update(counts)
        if len(rows) < batch:
            return


_NOT_BUSY = (
    " and t.status <> 'running'"
    " and (%(tenant)s::text is null or t.tenant_id = %(tenant)s::text)"
    " and not exists (select 1 from gw_runs r where r.tenant_id = t.tenant_id"
    "  and r.thread_id = t.thread_id and r.status in ('pending', 'running'))"
)
_OWN_TTL = (
    "select t.tenant_id, t.thread_id, t.ttl_strategy as strategy, t.expires_at as mark"
    " from gw_threads t where t.expires_at <= now()"
    " and (t.expires_at, t.tenant_id, t.thread_id) >"
    "  (%(at)s::timestamptz, %(tenant_after)s::text, %(thread_after)s::text)"
    + _NOT_BUSY
    + " order by t.expires_at, t.tenant_id, t.thread_id limit %(batch)s"
    " for update of t skip locked"
)
_DEFAULT_TTL = (
    "select t.tenant_id, t.thread_id, 'delete' as strategy, t.updated_at as mark"
    " from gw_threads t where t.ttl_minutes is null"
    " and t.updated_at <= now() - make_interval(secs => %(default_seconds)s::float8)"
    " and (t.updated_at, t.tenant_id, t.thread_id) >"
    "  (%(at)s::timestamptz, %(tenant_after)s::text, %(thread_after)s::text)"
    + _NOT_BUSY
    + " order by t.updated_at, t.tenant_id, t.thread_id limit %(batch)s"
    " for update of t skip locked"
)
