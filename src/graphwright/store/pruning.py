"""Checkpoint pruning: keep the newest checkpoints of finished threads, delete the rest.

What is safe to prune, and why:

* Only **finished** threads: status ``idle``, ``completed`` or ``failed``, no pending
  or running run and no pending approval. A thread waiting at a gate (``interrupted``)
  is left whole until it finishes; a running one is never touched.
* Per namespace (the root graph ``""`` and each subworkflow call's), the ``keep``
  newest checkpoints stay, with their pending writes and every blob they refer to;
  a subworkflow's checkpoints older than the oldest kept root checkpoint go (their
  run's root history is gone, so no kept state can reach them). A LangGraph run
  continues from the newest checkpoint and its pending writes alone (a subworkflow
  call interrupted in it, from its own newest checkpoint, which is newer), so a new
  run on a pruned thread (or a retry of a failed one) goes on from the latest state.
* The oldest kept checkpoint's parent is gone: its ``parent_checkpoint_id`` is set to
  null, so history pages end there and no state view points at a missing checkpoint.
* Blobs are deleted only when a kept checkpoint holds a *newer* version of their
  channel, and pending writes only when older than the newest kept checkpoint: a
  state update writing a new checkpoint at the same moment keeps what it refers to.
  (A fork from an old checkpoint *while* it is being pruned may lose values; pruning
  only threads idle for a while, ``GW_PRUNE_OLDER_THAN_SECONDS``, makes that moot.)

Each batch of threads is one transaction that locks the threads (``FOR UPDATE SKIP
LOCKED``), so processes pruning at once share the work and never prune a thread
twice; a run cannot be queued on a thread while it is pruned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from graphwright.store.pool import Pool
from graphwright.store.thread_removal import RowCounts, ThreadRef, busy_threads

__all__ = ["PrunePolicy", "PruneReport", "prune_locked_threads", "prune_threads"]

_START: tuple[Any, str, str] = ("-infinity", "", "")
"""Keyset cursor before every thread: (updated_at, tenant_id, thread_id)."""


@dataclass(frozen=True)
class PrunePolicy:
    """Which threads to prune and how much to keep.

    Attributes:
        keep: Checkpoints kept per thread and namespace (the newest), at least 1.
        older_than_seconds: Only threads without activity for this long.
        tenant: Only this tenant's threads (default: every tenant's).
        thread_ids: Only these threads (with ``tenant``).
        metadata: Only threads whose metadata contains this object.
        again: Also threads pruned before and unchanged since (a smaller ``keep``).
    """

    keep: int = 1
    older_than_seconds: float = 0.0
    tenant: str | None = None
    thread_ids: Sequence[str] | None = None
    metadata: Mapping[str, Any] | None = None
    again: bool = False

    def __post_init__(self) -> None:
        if self.keep < 1:
            raise ValueError(f"keep must be at least 1, got {self.keep}")
        if self.thread_ids is not None and self.tenant is None:
            raise ValueError("thread_ids needs a tenant")


@dataclass
class PruneReport:
    """What a pruning pass did (or, dry, would do).

    Attributes:
        threads: The threads pruned, in the order they were visited.
        rows: Rows deleted per (table, thread).
    """

    threads: list[ThreadRef] = field(default_factory=list)
    rows: RowCounts = field(default_factory=Counter)

    def table_totals(self) -> dict[str, int]:
        """Rows deleted per table."""
        totals: Counter[str] = Counter()
        for (table, _), n in self.rows.items():
            totals[table] += n
        return dict(totals)

    def add(self, other: PruneReport) -> None:
        """Add another pass's figures to this one."""
        self.threads += other.threads
        self.rows.update(other.rows)


async def prune_threads(
    pool: Pool, policy: PrunePolicy, *, batch: int = 100, dry_run: bool = False
) -> PruneReport:
    """Prune every thread the policy selects, ``batch`` threads per transaction.

    With ``dry_run`` every batch is rolled back: the report says what would go.
    Threads locked by another process meanwhile are skipped (it is pruning them,
    or running them).

    Raises:
        psycopg.Error: The database failed; batches committed before stay done.
    """
    report = PruneReport()
    after = _START
    while True:
        async with pool.connection() as conn, conn.transaction(force_rollback=dry_run):
            cur = await conn.execute(*_candidates(policy, after, batch))
            rows = await cur.fetchall()
            if not rows:
                break
            after = (rows[-1]["updated_at"], rows[-1]["tenant_id"], rows[-1]["thread_id"])
            refs = [ThreadRef(r["tenant_id"], r["thread_id"]) for r in rows]
            busy = await busy_threads(conn, refs)
            chosen = [ref for ref in refs if ref not in busy]
            counts = await prune_locked_threads(conn, chosen, keep=policy.keep)
        report.threads += chosen
        report.rows.update(counts)
        if len(rows) < batch:
            break
    return report


def _candidates(
    policy: PrunePolicy, after: tuple[Any, str, str], batch: int
) -> tuple[str, dict[str, Any]]:
    where = [
        "t.status in ('idle', 'completed', 'failed')",
        "t.updated_at <= now() - make_interval(secs => %(idle)s::float8)",
        "(t.updated_at, t.tenant_id, t.thread_id) > (%(at)s::timestamptz, %(tenant_after)s,"
        " %(thread_after)s)",
        "not exists (select 1 from gw_runs r where r.tenant_id = t.tenant_id"
        " and r.thread_id = t.thread_id and r.status in ('pending', 'running'))",
        "not exists (select 1 from gw_approvals a where a.tenant_id = t.tenant_id"
        " and a.thread_id = t.thread_id and a.status = 'pending')",
    ]
    if not policy.again:
        # Written as the partial index's predicate, so the planner uses that index.
        where.append("(t.pruned_at is null or t.pruned_at < t.updated_at)")
    params: dict[str, Any] = {
        "idle": policy.older_than_seconds,
        "at": after[0],
        "tenant_after": after[1],
        "thread_after": after[2],
        "batch": batch,
    }
    if policy.tenant is not None:
        where.append("t.tenant_id = %(tenant)s")
        params["tenant"] = policy.tenant
    if policy.thread_ids is not None:
        where.append("t.thread_id = any(%(ids)s)")
        params["ids"] = list(policy.thread_ids)
    if policy.metadata:
        where.append("t.metadata @> %(metadata)s")
        params["metadata"] = Jsonb(dict(policy.metadata))
    query = (
        "select t.tenant_id, t.thread_id, t.updated_at from gw_threads t where "
        + " and ".join(where)
        + " order by t.updated_at, t.tenant_id, t.thread_id limit %(batch)s"
        " for update of t skip locked"
    )
    return query, params


async def prune_locked_threads(conn: Any, refs: Sequence[ThreadRef], *, keep: int) -> RowCounts:
    """Prune the checkpoints of threads the caller has locked, in the caller's transaction.

    Keeps the ``keep`` newest checkpoints per thread and namespace and what they
    refer to; marks the threads pruned (``pruned_at``). See the module docstring.

    Returns:
        Rows deleted (and, as ``parent_unlinked``, parent pointers cleared) per
        (table, thread).
    """
    counts: RowCounts = Counter()
    if not refs:
        return counts
    by_key = {r.key: r for r in refs}
    params = {"keys": list(by_key), "keep": keep}
    for table, statement in _PRUNE:
        cur = await conn.execute(statement, params)
        for row in await cur.fetchall():
            counts[(table, by_key[row["thread_id"]])] += row["n"]
    await conn.execute(
        "update gw_threads t set pruned_at = now()"
        " from unnest(%s::text[], %s::text[]) as x(tenant_id, thread_id)"
        " where t.tenant_id = x.tenant_id and t.thread_id = x.thread_id",
        ([r.tenant_id for r in refs], [r.thread_id for r in refs]),
    )
    return counts


_SAME_NS = "c.thread_id = {t}.thread_id and c.checkpoint_ns = {t}.checkpoint_ns"
# Versions are zero-padded counters ("000...0007.<random>"): compared byte-wise ("C").
_NEWER_VERSION = (
    '(c.checkpoint -> \'channel_versions\' ->> b.channel) collate "C" > b.version collate "C"'
)
# A subworkflow's namespace none of whose checkpoints is left (a run before the kept ones).
_GONE_NS = (
    "({t}.checkpoint_ns <> '' and not exists (select 1 from checkpoints c where " + _SAME_NS + "))"
)

_PRUNE: tuple[tuple[str, str], ...] = (
    (
        "checkpoints",
        # The keep newest per namespace; and a subworkflow's checkpoints older than the
        # oldest kept root checkpoint belong to runs whose root history is gone.
        "with ranked as ("
        " select thread_id, checkpoint_ns, checkpoint_id, row_number() over"
        "  (partition by thread_id, checkpoint_ns order by checkpoint_id desc) as rank"
        " from checkpoints where thread_id = any(%(keys)s)),"
        " floor as (select thread_id, min(checkpoint_id) as oldest from ranked"
        "  where checkpoint_ns = '' and rank <= %(keep)s group by thread_id),"
        " d as (delete from checkpoints c using ranked r left join floor f"
        "  on f.thread_id = r.thread_id"
        "  where c.thread_id = r.thread_id and c.checkpoint_ns = r.checkpoint_ns"
        "  and c.checkpoint_id = r.checkpoint_id"
        "  and (r.rank > %(keep)s or (r.checkpoint_ns <> '' and r.checkpoint_id < f.oldest))"
        "  returning c.thread_id)"
        " select thread_id, count(*) as n from d group by thread_id",
    ),
    (
        "checkpoint_writes",
        "with d as (delete from checkpoint_writes w where w.thread_id = any(%(keys)s)"
        " and not exists (select 1 from checkpoints c where "
        + _SAME_NS.format(t="w")
        + " and c.checkpoint_id = w.checkpoint_id)"
        " and (w.checkpoint_id < (select max(c.checkpoint_id) from checkpoints c where "
        + _SAME_NS.format(t="w")
        + ") or "
        + _GONE_NS.format(t="w")
        + ") returning w.thread_id)"
        " select thread_id, count(*) as n from d group by thread_id",
    ),
    (
        "checkpoint_blobs",
        "with d as (delete from checkpoint_blobs b where b.thread_id = any(%(keys)s)"
        " and not exists (select 1 from checkpoints c where "
        + _SAME_NS.format(t="b")
        + " and c.checkpoint -> 'channel_versions' ->> b.channel = b.version)"
        " and (exists (select 1 from checkpoints c where "
        + _SAME_NS.format(t="b")
        + " and "
        + _NEWER_VERSION
        + ") or "
        + _GONE_NS.format(t="b")
        + ") returning b.thread_id)"
        " select thread_id, count(*) as n from d group by thread_id",
    ),
    (
        "parent_unlinked",
        "with u as (update checkpoints c set parent_checkpoint_id = null"
        " where c.thread_id = any(%(keys)s) and c.parent_checkpoint_id is not null"
        " and not exists (select 1 from checkpoints p where p.thread_id = c.thread_id"
        "  and p.checkpoint_ns = c.checkpoint_ns and p.checkpoint_id = c.parent_checkpoint_id)"
        " returning c.thread_id)"
        " select thread_id, count(*) as n from u group by thread_id",
    ),
)
"""(what, statement) in order; each returns (thread_id, n) for the threads it changed."""
