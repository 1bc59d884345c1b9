"""Approvals: one row per pending approval gate (a LangGraph interrupt), and the audit log.

A row is ``pending`` until one decision wins: deciding is a single conditional
``UPDATE ... WHERE status = 'pending'``, so of concurrent deciders exactly one
changes the row; the others are told the approval was already decided. The
winner writes its audit row in the same transaction. ``gw_audit`` only grows
(a trigger refuses updates and deletes).

Every method is scoped to one tenant except those the expiry sweeper and the
metrics use (:meth:`ApprovalStore.claim_due`, :meth:`ApprovalStore.next_expiry`,
:meth:`ApprovalStore.count_pending`), which serve the whole database.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store.pool import Pool

__all__ = [
    "APPROVAL_STATUSES",
    "ApprovalQuery",
    "ApprovalRecord",
    "ApprovalStatus",
    "ApprovalStore",
    "AuditEntry",
    "NewApproval",
    "SyncResult",
    "already_decided",
]

ApprovalStatus = Literal["pending", "decided", "expired", "cancelled"]
APPROVAL_STATUSES: tuple[ApprovalStatus, ...] = ("pending", "decided", "expired", "cancelled")

_FIELDS = (
    "tenant_id",
    "approval_id",
    "thread_id",
    "run_id",
    "workflow_id",
    "node",
    "prompt",
    "decisions",
    "editable",
    "payload",
    "status",
    "decision",
    "decided_by",
    "decided_at",
    "resume_run_id",
    "expires_at",
    "on_timeout",
    "created_at",
)
_COLUMNS = ", ".join(_FIELDS)
_A_COLUMNS = ", ".join(f"a.{name}" for name in _FIELDS)


@dataclass(frozen=True)
class ApprovalRecord:
    """One row of ``gw_approvals``.

    Attributes:
        approval_id: The interrupt id (answer it with ``{approval_id: decision}``).
        run_id: The run that stopped at the gate.
        workflow_id: The thread's workflow (the assistant a resume runs).
        payload: The interrupt value as the gate raised it (``show``, ``error``...).
        decision: The winning answer (``{"decision", "comment", "edits", "by"}``).
        resume_run_id: The run queued by the decision.
        expires_at: When the gate is decided with ``on_timeout`` (None: never).
        thread_metadata: The thread's metadata (filled by :meth:`ApprovalStore.get`
            and :meth:`ApprovalStore.list`).
    """

    tenant_id: str
    approval_id: str
    thread_id: str
    run_id: str
    workflow_id: str
    node: str
    prompt: str
    decisions: list[str]
    editable: list[str]
    payload: dict[str, Any]
    status: ApprovalStatus
    decision: dict[str, Any] | None
    decided_by: str | None
    decided_at: datetime | None
    resume_run_id: str | None
    expires_at: datetime | None
    on_timeout: Any
    created_at: datetime
    thread_metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what the ``/approvals`` API returns)."""
        return {
            "approval_id": self.approval_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "node": self.node,
            "prompt": self.prompt,
            "decisions": list(self.decisions),
            "editable": list(self.editable),
            "show": self.payload.get("show") or {},
            "error": self.payload.get("error"),
            "status": self.status,
            "decision": self.decision,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "resume_run_id": self.resume_run_id,
            "expires_at": _iso(self.expires_at),
            "on_timeout": self.on_timeout,
            "created_at": _iso(self.created_at),
            "thread_metadata": self.thread_metadata,
        }


@dataclass(frozen=True)
class NewApproval:
    """A pending interrupt of an approval gate, to be recorded.

    Attributes:
        timeout: Seconds until ``on_timeout`` is taken (None: no expiry).
        on_timeout: The decision taken at expiry.
    """

    approval_id: str
    node: str
    prompt: str
    decisions: tuple[str, ...]
    editable: tuple[str, ...]
    payload: dict[str, Any]
    timeout: float | None = None
    on_timeout: Any = None


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`ApprovalStore.sync_thread` changed."""

    created: list[ApprovalRecord]
    cancelled: list[ApprovalRecord]


@dataclass(frozen=True)
class ApprovalQuery:
    """Filters of :meth:`ApprovalStore.list`.

    Attributes:
        status: Only this status (None: any).
        metadata: Only approvals whose thread's metadata contains this object.
        min_age: Only approvals created at least this many seconds ago.
        max_age: Only approvals created at most this many seconds ago.
    """

    status: ApprovalStatus | None = "pending"
    workflow_id: str | None = None
    thread_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    min_age: float | None = None
    max_age: float | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class AuditEntry:
    """One row of the append-only ``gw_audit`` log."""

    id: int
    tenant_id: str
    at: datetime
    actor: str | None
    action: str
    subject: str
    details: dict[str, Any]


class ApprovalStore:
    """Records, lists and decides approvals in ``gw_approvals``; writes ``gw_audit``."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    # -- recording -------------------------------------------------------------------

    async def sync_thread(
        self,
        tenant: str,
        thread_id: str,
        *,
        run_id: str,
        workflow_id: str,
        pending: Sequence[NewApproval],
        keep: Collection[str] = (),
    ) -> SyncResult:
        """After a run ended: record its pending gates, cancel rows no longer pending.

        Idempotent: a run executed again under the same run id (re-claimed after a
        crash) changes nothing. A decided row whose interrupt is pending again
        after another run (the gate refused the answer) is reopened. Pending rows
        of the thread that are neither in ``pending`` nor in ``keep`` are
        ``cancelled`` (the thread moved on without them).
        """
        created: list[ApprovalRecord] = []
        # One statement per change writes the rows and their audit entries together,
        # so a run that ended with no gate costs a single round trip.
        async with self._pool.connection() as conn:
            for gate in pending:
                cur = await conn.execute(
                    _RECORD, _upsert_params(tenant, thread_id, run_id, workflow_id, gate)
                )
                created += [_record(r) for r in await cur.fetchall()]
            cur = await conn.execute(
                _SUPERSEDE,
                {
                    "tenant": tenant,
                    "thread": thread_id,
                    "still": sorted({g.approval_id for g in pending} | set(keep)),
                    "run": run_id,
                },
            )
            cancelled = [_record(r) for r in await cur.fetchall()]
        return SyncResult(created=created, cancelled=cancelled)

    # -- reading ---------------------------------------------------------------------

    async def get(self, tenant: str, approval_id: str) -> ApprovalRecord:
        """One approval with its thread's metadata.

        Raises:
            NotFoundError: ``approval.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_A_COLUMNS}, coalesce(t.metadata, '{{}}'::jsonb) as thread_metadata"
                " from gw_approvals a left join gw_threads t"
                " on t.tenant_id = a.tenant_id and t.thread_id = a.thread_id"
                " where a.tenant_id = %s and a.approval_id = %s",
                (tenant, approval_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise _not_found(approval_id)
        return _record(row)

    async def list(self, tenant: str, query: ApprovalQuery) -> builtins.list[ApprovalRecord]:
        """A page of approvals, oldest first, with their thread's metadata.

        Raises:
            ValueError: ``limit`` is not 1..1000 or ``offset`` is negative.
        """
        if not 1 <= query.limit <= 1000 or query.offset < 0:
            raise ValueError(f"limit must be 1..1000 and offset >= 0, got {query.limit}")
        sql = (
            f"select {_A_COLUMNS}, coalesce(t.metadata, '{{}}'::jsonb) as thread_metadata"
            " from gw_approvals a left join gw_threads t"
            " on t.tenant_id = a.tenant_id and t.thread_id = a.thread_id"
            " where a.tenant_id = %s"
        )
        params: builtins.list[Any] = [tenant]
        if query.status is not None:
            sql += " and a.status = %s"
            params.append(query.status)
        if query.workflow_id is not None:
            sql += " and a.workflow_id = %s"
            params.append(query.workflow_id)
        if query.thread_id is not None:
            sql += " and a.thread_id = %s"
            params.append(query.thread_id)
        if query.metadata:
            sql += " and t.metadata @> %s"
            params.append(Jsonb(dict(query.metadata)))
        if query.min_age is not None:
            sql += " and a.created_at <= now() - make_interval(secs => %s::float8)"
            params.append(query.min_age)
        if query.max_age is not None:
            sql += " and a.created_at >= now() - make_interval(secs => %s::float8)"
            params.append(query.max_age)
        sql += " order by a.created_at, a.approval_id limit %s offset %s"
        params += [query.limit, query.offset]
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return [_record(r) for r in await cur.fetchall()]

    async def on_thread(
        self,
        conn: psycopg.AsyncConnection[Any],
        tenant: str,
        thread_id: str,
        *,
        approval_ids: Collection[str] | None = None,
        status: ApprovalStatus | None = None,
    ) -> builtins.list[ApprovalRecord]:
        """Approvals of a thread on ``conn`` (inside the caller's transaction)."""
        cur = await conn.execute(
            f"select {_COLUMNS} from gw_approvals where tenant_id = %s and thread_id = %s"
            " and (%s::text[] is null or approval_id = any(%s::text[]))"
            " and (%s::text is null or status = %s::text) order by created_at",
            (
                tenant,
                thread_id,
                None if approval_ids is None else builtins.list(approval_ids),
                None if approval_ids is None else builtins.list(approval_ids),
                status,
                status,
            ),
        )
        return [_record(r) for r in await cur.fetchall()]

    async def has_unconsumed_decision(
        self, conn: psycopg.AsyncConnection[Any], tenant: str, thread_id: str, *, run_id: str
    ) -> bool:
        """Whether a decision on the thread waits in a queued or running resume run.

        ``run_id`` (the run being created) is not counted.
        """
        cur = await conn.execute(
            "select 1 from gw_approvals a join gw_runs r"
            " on r.tenant_id = a.tenant_id and r.run_id = a.resume_run_id"
            " where a.tenant_id = %s and a.thread_id = %s and a.status in ('decided', 'expired')"
            " and r.status in ('pending', 'running') and r.run_id <> %s limit 1",
            (tenant, thread_id, run_id),
        )
        return await cur.fetchone() is not None

    # -- deciding --------------------------------------------------------------------

    async def decide(
        self,
        conn: psycopg.AsyncConnection[Any],
        tenant: str,
        approval_id: str,
        *,
        decision: Mapping[str, Any],
        actor: str,
        resume_run_id: str,
        status: Literal["decided", "expired"] = "decided",
        via: str = "api",
    ) -> ApprovalRecord:
        """Decide a pending approval on ``conn``, inside the caller's transaction.

        One conditional UPDATE decides: of concurrent callers exactly one gets the
        row; it also writes the audit entry, so both commit or neither does.

        Raises:
            NotFoundError: ``approval.not_found``.
            WorkflowConflictError: ``approval.already_decided`` (the approval is
                not pending any more; ``details`` say how it ended).
        """
        cur = await conn.execute(
            "update gw_approvals set status = %s, decision = %s, decided_by = %s,"
            " decided_at = now(), resume_run_id = %s, sweep_until = null"
            " where tenant_id = %s and approval_id = %s and status = 'pending'"
            " returning " + _COLUMNS,
            (status, Jsonb(dict(decision)), actor, resume_run_id, tenant, approval_id),
        )
        row = await cur.fetchone()
        if row is None:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_approvals where tenant_id = %s and approval_id = %s",
                (tenant, approval_id),
            )
            current = await cur.fetchone()
            if current is None:
                raise _not_found(approval_id)
            raise already_decided(_record(current))
        record = _record(row)
        await self.audit(
            conn,
            tenant,
            actor=actor,
            action=f"approval.{status}",
            subject=_subject(approval_id),
            details={**_details(record), "decision": dict(decision), "via": via},
        )
        return record

    async def cancel(
        self, tenant: str, approval_id: str, *, actor: str, reason: Mapping[str, Any]
    ) -> ApprovalRecord | None:
        """Close a pending approval that can no longer be answered; None if not pending."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "update gw_approvals set status = 'cancelled', decided_by = %s,"
                " decided_at = now(), sweep_until = null"
                " where tenant_id = %s and approval_id = %s and status = 'pending'"
                " returning " + _COLUMNS,
                (actor, tenant, approval_id),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            record = _record(row)
            await self.audit(
                conn,
                tenant,
                actor=actor,
                action="approval.cancelled",
                subject=_subject(approval_id),
                details={**_details(record), "reason": dict(reason)},
            )
        return record

    # -- expiry (all tenants) --------------------------------------------------------

    async def claim_due(self, *, lease_seconds: float, limit: int) -> builtins.list[ApprovalRecord]:
        """Claim up to ``limit`` expired pending approvals of any tenant for a while.

        ``FOR UPDATE SKIP LOCKED`` and the claim lease keep sweepers of several
        processes off each other's approvals. The claim does not decide: deciding
        stays the conditional update of :meth:`decide`.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_approvals a"
                " set sweep_until = now() + make_interval(secs => %s::float8)"
                " from (select tenant_id, approval_id from gw_approvals"
                "  where status = 'pending' and expires_at <= now()"
                "  and (sweep_until is null or sweep_until < now())"
                "  order by expires_at limit %s for update skip locked) due"
                " where a.tenant_id = due.tenant_id and a.approval_id = due.approval_id"
                f" returning {_A_COLUMNS}",
                (lease_seconds, limit),
            )
            return [_record(r) for r in await cur.fetchall()]

    async def next_expiry(self) -> datetime | None:
        """When the next pending approval of any tenant expires (or its claim lapses)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select min(greatest(expires_at, coalesce(sweep_until, '-infinity'))) as due"
                " from gw_approvals where status = 'pending' and expires_at is not null"
            )
            row = await cur.fetchone()
        return None if row is None else row["due"]

    async def count_pending(self) -> dict[str, int]:
        """Pending approvals by tenant, over all tenants (for metrics).

        Tenants with no pending approval are absent.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select tenant_id, count(*) as n from gw_approvals where status = 'pending'"
                " group by tenant_id"
            )
            return {r["tenant_id"]: int(r["n"]) for r in await cur.fetchall()}

    # -- audit -----------------------------------------------------------------------

    async def audit(
        self,
        conn: psycopg.AsyncConnection[Any],
        tenant: str,
        *,
        actor: str | None,
        action: str,
        subject: str,
        details: Mapping[str, Any],
    ) -> None:
        """Append an audit entry on ``conn`` (inside the caller's transaction)."""
        await conn.execute(
            "insert into gw_audit (tenant_id, actor, action, subject, details)"
            " values (%s, %s, %s, %s, %s)",
            (tenant, actor, action, subject, Jsonb(dict(details))),
        )

    async def audit_trail(self, tenant: str, approval_id: str) -> builtins.list[AuditEntry]:
        """Audit entries of one approval, oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select id, tenant_id, at, actor, action, subject, details from gw_audit"
                " where tenant_id = %s and subject = %s order by id",
                (tenant, _subject(approval_id)),
            )
            return [AuditEntry(**r) for r in await cur.fetchall()]


def already_decided(record: ApprovalRecord) -> WorkflowConflictError:
    """The 409 error of a decision on an approval that is not pending."""
    return WorkflowConflictError(
        f"approval {record.approval_id!r} is already {record.status}",
        code="approval.already_decided",
        details={
            "approval_id": record.approval_id,
            "status": record.status,
            "decided_by": record.decided_by,
            "decided_at": _iso(record.decided_at),
            "resume_run_id": record.resume_run_id,
        },
    )


_UPSERT = (
    "insert into gw_approvals (tenant_id, approval_id, thread_id, run_id, workflow_id, node,"
    " prompt, decisions, editable, payload, expires_at, on_timeout)"
    " values (%(tenant)s, %(id)s, %(thread)s, %(run)s, %(workflow)s, %(node)s, %(prompt)s,"
    "  %(decisions)s, %(editable)s, %(payload)s,"
    "  case when %(timeout)s::float8 is null then null"
    "  else now() + make_interval(secs => %(timeout)s::float8) end, %(on_timeout)s)"
    " on conflict (tenant_id, approval_id) do update set"
    "  run_id = excluded.run_id, prompt = excluded.prompt, decisions = excluded.decisions,"
    "  editable = excluded.editable, payload = excluded.payload, status = 'pending',"
    "  decision = null, decided_by = null, decided_at = null, resume_run_id = null,"
    "  expires_at = excluded.expires_at, on_timeout = excluded.on_timeout, sweep_until = null"
    # Reopen only a row that another run answered and that is pending again (the
    # gate refused the answer); a re-claimed run (same run id) changes nothing.
    " where gw_approvals.thread_id = excluded.thread_id"
    "  and gw_approvals.run_id <> excluded.run_id and gw_approvals.status <> 'pending'"
    " returning " + _COLUMNS
)

_AUDIT_COLUMNS = "tenant_id, actor, action, subject, details"
_AUDIT_DETAILS = (
    "jsonb_build_object('approval_id', approval_id, 'thread_id', thread_id, 'run_id', run_id,"
    " 'workflow_id', workflow_id, 'node', node, 'resume_run_id', resume_run_id)"
)
_RECORD = (
    f"with requested as ({_UPSERT}),"
    f" logged as (insert into gw_audit ({_AUDIT_COLUMNS})"
    f"  select tenant_id, 'system', 'approval.requested', 'approval:' || approval_id,"
    f"  {_AUDIT_DETAILS} from requested)"
    f" select {_COLUMNS} from requested"
)
_SUPERSEDE = (
    "with cancelled as (update gw_approvals set status = 'cancelled', decided_at = now(),"
    "  decided_by = 'system:superseded', sweep_until = null"
    "  where tenant_id = %(tenant)s and thread_id = %(thread)s and status = 'pending'"
    f"  and not (approval_id = any(%(still)s::text[])) returning {_COLUMNS}),"
    f" logged as (insert into gw_audit ({_AUDIT_COLUMNS})"
    "  select tenant_id, 'system:superseded', 'approval.cancelled', 'approval:' || approval_id,"
    f"  {_AUDIT_DETAILS} || jsonb_build_object('by_run_id', %(run)s::text) from cancelled)"
    f" select {_COLUMNS} from cancelled"
)


def _upsert_params(
    tenant: str, thread_id: str, run_id: str, workflow_id: str, gate: NewApproval
) -> dict[str, Any]:
    expires = gate.timeout is not None and gate.on_timeout is not None
    return {
        "tenant": tenant,
        "id": gate.approval_id,
        "thread": thread_id,
        "run": run_id,
        "workflow": workflow_id,
        "node": gate.node,
        "prompt": gate.prompt,
        "decisions": Jsonb(list(gate.decisions)),
        "editable": Jsonb(list(gate.editable)),
        "payload": Jsonb(dict(gate.payload)),
        "timeout": gate.timeout if expires else None,
        "on_timeout": Jsonb(gate.on_timeout) if expires else None,
    }


def _record(row: Mapping[str, Any]) -> ApprovalRecord:
    values = {name: row[name] for name in _FIELDS}
    return ApprovalRecord(**values, thread_metadata=dict(row.get("thread_metadata") or {}))


def _details(record: ApprovalRecord) -> dict[str, Any]:
    return {
        "approval_id": record.approval_id,
        "thread_id": record.thread_id,
        "run_id": record.run_id,
        "workflow_id": record.workflow_id,
        "node": record.node,
        "resume_run_id": record.resume_run_id,
    }


def _subject(approval_id: str) -> str:
    return f"approval:{approval_id}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _not_found(approval_id: str) -> NotFoundError:
    return NotFoundError(
        f"approval {approval_id!r} does not exist",
        code="approval.not_found",
        details={"approval_id": approval_id},
    )
