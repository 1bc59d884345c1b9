"""Threads: one row per conversation with a workflow, with its status and current run."""

from __future__ import annotations

import builtins
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from psycopg.types.json import Jsonb

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store.pool import Pool

__all__ = [
    "KEEP",
    "THREAD_STATUSES",
    "Keep",
    "ThreadRecord",
    "ThreadStatus",
    "ThreadStore",
]

ThreadStatus = Literal["idle", "running", "interrupted", "completed", "failed"]
THREAD_STATUSES: Final[tuple[ThreadStatus, ...]] = get_args(ThreadStatus)

_COLUMNS = (
    "tenant_id, thread_id, workflow_id, workflow_version, status, metadata, run_id, error,"
    " created_at, updated_at, lease_owner, lease_expires_at"
)


class Keep(enum.Enum):
    """Type of :data:`KEEP`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""Default of optional columns in :meth:`ThreadStore.mark`: leave the stored value."""


@dataclass(frozen=True)
class ThreadRecord:
    """One row of ``gw_threads``.

    Attributes:
        tenant_id: Tenant that owns the thread.
        thread_id: The thread's id, unique per tenant.
        workflow_id: Workflow the thread runs.
        workflow_version: Pinned version of that workflow.
        status: ``idle``, ``running``, ``interrupted``, ``completed`` or ``failed``.
        metadata: Caller's JSON object (searchable).
        run_id: The current run, or the last one; None before the first run.
        error: The last run's error (``GraphwrightError.to_dict()`` shape), if any.
        created_at: When the thread was created.
        updated_at: When the row last changed.
    """

    tenant_id: str
    thread_id: str
    workflow_id: str | None
    workflow_version: int | None
    status: ThreadStatus
    metadata: dict[str, Any]
    run_id: str | None
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None


class ThreadStore:
    """Creates, reads and updates threads in ``gw_threads``, one tenant per call."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows) for every query."""
        self._pool = pool

    async def create(
        self,
        tenant: str,
        thread_id: str,
        *,
        workflow_id: str | None,
        workflow_version: int | None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ThreadRecord:
        """Create an idle thread.

        The workflow version is not checked here; callers resolve it first.

        Raises:
            WorkflowConflictError: ``thread.exists`` when the tenant already has
                a thread with this id.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "insert into gw_threads (tenant_id, thread_id, workflow_id, workflow_version,"
                " metadata, status) values (%s, %s, %s, %s, %s, 'idle')"
                " on conflict (tenant_id, thread_id) do nothing"
                " returning " + _COLUMNS,
                (tenant, thread_id, workflow_id, workflow_version, Jsonb(dict(metadata or {}))),
            )
            row = await cur.fetchone()
        if row is None:
            raise WorkflowConflictError(
                f"thread {thread_id!r} already exists",
                code="thread.exists",
                details={"thread_id": thread_id},
            )
        return _record(row)

    async def get(self, tenant: str, thread_id: str) -> ThreadRecord:
        """Return a thread.

        Raises:
            NotFoundError: ``thread.not_found`` when the tenant has no such thread.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select " + _COLUMNS + " from gw_threads where tenant_id = %s and thread_id = %s",
                (tenant, thread_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise _thread_not_found(thread_id)
        return _record(row)

    async def mark(
        self,
        tenant: str,
        thread_id: str,
        *,
        status: ThreadStatus,
        run_id: str | Keep | None = KEEP,
        error: Mapping[str, Any] | Keep | None = KEEP,
        owner: str | None = None,
    ) -> ThreadRecord:
        """Set a thread's status and, when given, its run id and error.

        Leaving ``running`` releases the lease. With ``owner``, the update only
        happens while that owner holds the thread's lease.

        Args:
            tenant: Tenant that owns the thread.
            thread_id: The thread.
            status: New status.
            run_id: New run id (None clears it); :data:`KEEP` leaves it.
            error: New error object (None clears it); :data:`KEEP` leaves it.
            owner: Only update while this lease owner holds the thread.

        Returns:
            The updated thread.

        Raises:
            NotFoundError: ``thread.not_found`` when the tenant has no such thread.
            WorkflowConflictError: ``thread.lease_lost`` when ``owner`` no longer
                holds the thread.
        """
        error_value = None if error is None or error is KEEP else Jsonb(dict(error))
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_threads set status = %s,"
                " run_id = case when %s then run_id else %s end,"
                " error = case when %s then error else %s::jsonb end,"
                " lease_owner = case when %s = 'running' then lease_owner else null end,"
                " lease_expires_at = case when %s = 'running' then lease_expires_at else null end,"
                " updated_at = now()"
                " where tenant_id = %s and thread_id = %s"
                " and (%s::text is null or lease_owner = %s::text)"
                " returning " + _COLUMNS,
                (
                    status,
                    run_id is KEEP,
                    None if run_id is KEEP else run_id,
                    error is KEEP,
                    error_value,
                    status,
                    status,
                    tenant,
                    thread_id,
                    owner,
                    owner,
                ),
            )
            row = await cur.fetchone()
        if row is None:
            if owner is not None:
                await self.get(tenant, thread_id)  # raises thread.not_found first
                raise WorkflowConflictError(
                    f"thread {thread_id!r} is no longer held by this process",
                    code="thread.lease_lost",
                    details={"thread_id": thread_id},
                )
            raise _thread_not_found(thread_id)
        return _record(row)

    async def bind(
        self, conn: Any, tenant: str, thread_id: str, *, workflow_id: str, workflow_version: int
    ) -> ThreadRecord:
        """Lock a thread (``FOR UPDATE`` on ``conn``) and bind it to a workflow if unbound.

        Raises:
            NotFoundError: ``thread.not_found``.
            WorkflowConflictError: ``thread.workflow_mismatch`` when it runs another workflow.
        """
        cur = await conn.execute(
            "update gw_threads set workflow_id = coalesce(workflow_id, %s),"
            " workflow_version = coalesce(workflow_version, %s), updated_at = now()"
            " where tenant_id = %s and thread_id = %s returning " + _COLUMNS,
            (workflow_id, workflow_version, tenant, thread_id),
        )
        row = await cur.fetchone()
        if row is None:
            raise _thread_not_found(thread_id)
        record = _record(row)
        if record.workflow_id != workflow_id:
            raise WorkflowConflictError(
                f"thread {thread_id!r} runs workflow {record.workflow_id!r}, not {workflow_id!r}",
                code="thread.workflow_mismatch",
                details={"thread_id": thread_id, "workflow_id": record.workflow_id},
            )
        return record

    async def take_over(
        self,
        tenant: str,
        thread_id: str,
        *,
        run_id: str,
        owner: str,
    ) -> ThreadRecord:
        """Mark a thread running under ``run_id`` for ``owner`` whatever its status.

        For the executor of a claimed run: the run row's lease is what grants
        exclusivity, so the thread's own lease has no expiry; ``owner`` fences the
        thread's later status updates (:meth:`mark`).

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_threads set status = 'running', run_id = %s, error = null,"
                " lease_owner = %s, lease_expires_at = null,"
                " updated_at = now() where tenant_id = %s and thread_id = %s"
                " returning " + _COLUMNS,
                (run_id, owner, tenant, thread_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise _thread_not_found(thread_id)
        return _record(row)

    async def list(
        self,
        tenant: str,
        *,
        status: ThreadStatus | None = None,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[ThreadRecord]:
        """Return one page of the tenant's threads, most recently updated first.

        Args:
            tenant: Tenant whose threads are listed.
            status: Only threads with this status.
            metadata: Only threads whose metadata contains this object (``@>``).
            limit: Page size, 1 to 1000.
            offset: Threads to skip.

        Raises:
            ValueError: ``limit`` or ``offset`` is out of range.
        """
        if not 1 <= limit <= 1000 or offset < 0:
            raise ValueError(f"limit must be 1..1000 and offset >= 0, got {limit}, {offset}")
        query = "select " + _COLUMNS + " from gw_threads where tenant_id = %s"
        params: builtins.list[Any] = [tenant]
        if status is not None:
            query += " and status = %s"
            params.append(status)
        if metadata is not None:
            query += " and metadata @> %s"
            params.append(Jsonb(dict(metadata)))
        query += " order by updated_at desc, thread_id limit %s offset %s"
        params += [limit, offset]
        async with self._pool.connection() as conn:
            cur = await conn.execute(query, params)
            rows = await cur.fetchall()
        return [_record(row) for row in rows]

    async def update_metadata(
        self, tenant: str, thread_id: str, metadata: Mapping[str, Any]
    ) -> ThreadRecord:
        """Merge ``metadata`` into a thread's metadata (top-level keys are replaced).

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_threads set metadata = metadata || %s, updated_at = now()"
                " where tenant_id = %s and thread_id = %s returning " + _COLUMNS,
                (Jsonb(dict(metadata)), tenant, thread_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise _thread_not_found(thread_id)
        return _record(row)

    async def settle_status(
        self, tenant: str, thread_id: str, status: ThreadStatus
    ) -> ThreadRecord | None:
        """Set the status of a thread that is not running (None if it is, or is gone).

        For state edits outside runs: a run that started meanwhile keeps its status.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_threads set status = %s, updated_at = now()"
                " where tenant_id = %s and thread_id = %s and status <> 'running'"
                " returning " + _COLUMNS,
                (status, tenant, thread_id),
            )
            row = await cur.fetchone()
        return None if row is None else _record(row)

    async def delete_row(self, tenant: str, thread_id: str) -> bool:
        """Delete only the thread's row (its runs stay, with their results)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "delete from gw_threads where tenant_id = %s and thread_id = %s"
                " returning thread_id",
                (tenant, thread_id),
            )
            return await cur.fetchone() is not None

    async def delete_with_runs(self, tenant: str, thread_id: str) -> None:
        """Delete a thread with its runs, their events and its approval records.

        One transaction locks the thread and its runs first, so no run can be
        queued or claimed on it meanwhile. Checkpoints are the caller's to delete.

        Raises:
            NotFoundError: ``thread.not_found``.
            WorkflowConflictError: ``thread.busy`` while a run is pending or running
                (``details["run_id"]`` names it), or the thread is held by a live run.
        """
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "select status, run_id, coalesce(lease_expires_at, 'infinity') > now() as held"
                " from gw_threads where tenant_id = %s and thread_id = %s for update",
                (tenant, thread_id),
            )
            thread = await cur.fetchone()
            if thread is None:
                raise _thread_not_found(thread_id)
            cur = await conn.execute(
                "select run_id, status from gw_runs where tenant_id = %s and thread_id = %s"
                " for update",
                (tenant, thread_id),
            )
            runs = await cur.fetchall()
            active = [r["run_id"] for r in runs if r["status"] in ("pending", "running")]
            if active or (thread["status"] == "running" and thread["held"]):
                holder = active[0] if active else thread["run_id"]
                raise WorkflowConflictError(
                    f"thread {thread_id!r} is busy with run {holder!r}; cancel it first",
                    code="thread.busy",
                    details={"thread_id": thread_id, "run_id": holder},
                )
            run_ids = [r["run_id"] for r in runs]
            if run_ids:
                await conn.execute(
                    "delete from gw_run_events where tenant_id = %s and run_id = any(%s)",
                    (tenant, run_ids),
                )
                await conn.execute(
                    "delete from gw_runs where tenant_id = %s and thread_id = %s",
                    (tenant, thread_id),
                )
            await conn.execute(
                "delete from gw_approvals where tenant_id = %s and thread_id = %s",
                (tenant, thread_id),
            )
            await conn.execute(
                "delete from gw_threads where tenant_id = %s and thread_id = %s",
                (tenant, thread_id),
            )


def _record(row: dict[str, Any]) -> ThreadRecord:
    return ThreadRecord(**row)


def _thread_not_found(thread_id: str) -> NotFoundError:
    return NotFoundError(
        f"thread {thread_id!r} does not exist",
        code="thread.not_found",
        details={"thread_id": thread_id},
    )
