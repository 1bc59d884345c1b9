"""Operations at a glance: one tenant's queue, running runs, recent failures and approvals.

The figures are those ``/metrics`` exports for the tenant (``graphwright_queue_depth``,
``graphwright_runs{status="running"}``, ``graphwright_runs_failed_last_hour``,
``graphwright_approvals_pending``), read the same way and split by workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from graphwright.store.pool import Pool
from graphwright.store.runs import FAILED, FAILED_WINDOW_SECONDS

__all__ = ["OperationsStore", "OpsFigures", "OpsSummary"]


@dataclass(frozen=True)
class OpsFigures:
    """Counts of one workflow, or of all of them.

    Attributes:
        queued: Runs waiting for a worker (status ``pending``).
        running: Runs executing now.
        failed_last_hour: Runs that ended ``error`` or ``timeout`` within the window.
        approvals_pending: Approvals waiting for a decision.
    """

    queued: int = 0
    running: int = 0
    failed_last_hour: int = 0
    approvals_pending: int = 0

    def plus(self, other: OpsFigures) -> OpsFigures:
        """The sum of two sets of figures."""
        return OpsFigures(
            queued=self.queued + other.queued,
            running=self.running + other.running,
            failed_last_hour=self.failed_last_hour + other.failed_last_hour,
            approvals_pending=self.approvals_pending + other.approvals_pending,
        )

    def to_json(self) -> dict[str, int]:
        """JSON form."""
        return {
            "queued": self.queued,
            "running": self.running,
            "failed_last_hour": self.failed_last_hour,
            "approvals_pending": self.approvals_pending,
        }


@dataclass(frozen=True)
class OpsSummary:
    """A tenant's figures in total and per workflow (workflows with nothing to count are absent)."""

    tenant: str
    window_seconds: float
    total: OpsFigures = OpsFigures()
    workflows: dict[str, OpsFigures] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form: ``total`` and a ``workflows`` list sorted by workflow id."""
        return {
            "tenant": self.tenant,
            "failed_window_seconds": self.window_seconds,
            "total": self.total.to_json(),
            "workflows": [
                {"workflow_id": workflow_id, **figures.to_json()}
                for workflow_id, figures in sorted(self.workflows.items())
            ],
        }


_RUNS_SQL = (
    "select r.assistant_id as workflow_id,"
    " count(*) filter (where r.status = 'pending') as queued,"
    " count(*) filter (where r.status = 'running') as running,"
    " count(*) filter (where r.status = any(%(failed)s)"
    "  and r.updated_at >= now() - make_interval(secs => %(window)s::float8)) as failed"
    " from gw_runs r{join}"
    " where r.tenant_id = %(tenant)s and (r.status in ('pending', 'running')"
    "  or (r.status = any(%(failed)s)"
    "   and r.updated_at >= now() - make_interval(secs => %(window)s::float8))){scope}"
    " group by r.assistant_id"
)
_APPROVALS_SQL = (
    "select a.workflow_id, count(*) as pending from gw_approvals a{join}"
    " where a.tenant_id = %(tenant)s and a.status = 'pending'{scope}"
    " group by a.workflow_id"
)


def _scoped(sql: str, alias: str, metadata: Mapping[str, Any] | None) -> str:
    """``sql`` limited to threads whose metadata contains ``metadata`` (when given)."""
    if not metadata:
        return sql.format(join="", scope="")
    join = (
        f" join gw_threads t on t.tenant_id = {alias}.tenant_id and t.thread_id = {alias}.thread_id"
    )
    return sql.format(join=join, scope=" and t.metadata @> %(metadata)s")


class OperationsStore:
    """Reads one tenant's operational figures."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    async def summary(
        self,
        tenant: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        window_seconds: float = FAILED_WINDOW_SECONDS,
    ) -> OpsSummary:
        """The tenant's figures now, in total and per workflow.

        Args:
            tenant: Whose runs and approvals to count.
            metadata: Count only threads whose metadata contains these pairs
                (a scoped caller's scope).
            window_seconds: How far back failures count (by the database's clock).
        """
        params = {
            "tenant": tenant,
            "failed": list(FAILED),
            "window": window_seconds,
            "metadata": Jsonb(dict(metadata or {})),
        }
        per: dict[str, OpsFigures] = {}
        async with self._pool.connection() as conn:
            cur = await conn.execute(_scoped(_RUNS_SQL, "r", metadata), params)
            for row in await cur.fetchall():
                per[row["workflow_id"]] = OpsFigures(
                    queued=int(row["queued"]),
                    running=int(row["running"]),
                    failed_last_hour=int(row["failed"]),
                )
            cur = await conn.execute(_scoped(_APPROVALS_SQL, "a", metadata), params)
            for row in await cur.fetchall():
                seen = per.get(row["workflow_id"], OpsFigures())
                per[row["workflow_id"]] = seen.plus(
                    OpsFigures(approvals_pending=int(row["pending"]))
                )
        total = OpsFigures()
        for figures in per.values():
            total = total.plus(figures)
        return OpsSummary(tenant=tenant, window_seconds=window_seconds, total=total, workflows=per)
