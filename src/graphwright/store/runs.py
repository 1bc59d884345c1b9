"""Runs: queued rows that workers claim with ``FOR UPDATE SKIP LOCKED``.

A run is ``pending`` until a worker claims it; the claimer holds a lease it
renews. A run whose lease expired (its worker died) is claimed again with the
same run id, so LangGraph resumes it from the last checkpoint. At most one run
per thread is ``running`` (a partial unique index guards it). Claims past
``max_attempts`` end the run as ``error`` with the last error kept.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from graphwright.errors import NotFoundError
from graphwright.store.pool import Pool
from graphwright.store.run_payload import RunPayload

__all__ = [
    "ACTIVE",
    "CANCEL_CHANNEL",
    "FAILED",
    "FAILED_WINDOW_SECONDS",
    "WAKE_CHANNEL",
    "NewRun",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "listen",
]

RunStatus = Literal["pending", "running", "success", "error", "timeout", "interrupted"]
ACTIVE: tuple[RunStatus, ...] = ("pending", "running")
FAILED: tuple[RunStatus, ...] = ("error", "timeout")
"""Statuses of runs that failed (counted as failures by metrics and the ops summary)."""
FAILED_WINDOW_SECONDS = 3600.0
"""How far back a failure counts as recent (by the database's clock)."""
WAKE_CHANNEL = "gw_run_wakeup"
CANCEL_CHANNEL = "gw_run_cancel"

_COLUMNS = (
    "tenant_id, run_id, thread_id, assistant_id, workflow_version, status, payload, metadata,"
    " multitask_strategy, attempts, max_attempts, lease_owner, lease_expires_at, not_before,"
    " cancel_action, error, created_at, updated_at, result"
)


@dataclass(frozen=True)
class RunRecord:
    """One row of ``gw_runs``.

    Attributes:
        payload: What to run (the typed :class:`RunPayload`).
        cancel_action: ``interrupt`` or ``rollback`` once cancellation is asked.
    """

    tenant_id: str
    run_id: str
    thread_id: str
    assistant_id: str
    workflow_version: int
    status: RunStatus
    payload: RunPayload
    metadata: dict[str, Any]
    multitask_strategy: str
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    not_before: datetime
    cancel_action: str | None
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewRun:
    """A run to create: its ids, what it runs (``payload``) and its queue settings."""

    run_id: str
    thread_id: str
    assistant_id: str
    workflow_version: int
    payload: RunPayload
    metadata: Mapping[str, Any]
    multitask_strategy: str
    max_attempts: int
    after_seconds: float = 0
    thread_metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _params(tenant: str, new: NewRun, owner: str | None, lease_seconds: float) -> dict[str, Any]:
    """Named parameters of the run inserts."""
    return {
        "tenant": tenant,
        "run": new.run_id,
        "thread": new.thread_id,
        "workflow": new.assistant_id,
        "version": new.workflow_version,
        "payload": Jsonb(new.payload.to_json()),
        "metadata": Jsonb(dict(new.metadata)),
        "thread_metadata": Jsonb(dict(new.thread_metadata)),
        "strategy": new.multitask_strategy,
        "max_attempts": new.max_attempts,
        "after": new.after_seconds,
        "owner": owner,
        "lease": lease_seconds,
        "channel": WAKE_CHANNEL,
    }


def _record(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(**{**row, "payload": RunPayload.model_validate(row["payload"] or {})})


class RunStore:
    """Creates, claims and finishes runs; every call except :meth:`claim` is per tenant."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    async def insert(
        self,
        conn: psycopg.AsyncConnection[Any],
        tenant: str,
        new: NewRun,
        *,
        owner: str | None = None,
        lease_seconds: float = 0,
    ) -> RunRecord:
        """Insert a run on ``conn`` (inside the caller's transaction).

        Pending, waking workers when the caller commits; or, with ``owner``,
        claimed at once for the caller's process (``running``, first attempt,
        leased for ``lease_seconds``). The caller must have checked, under the
        thread's lock, that no other run is active on the thread.
        """
        cur = await conn.execute(
            f"with r as ({_INSERT_CLAIMED} values (%(tenant)s, %(run)s, %(thread)s,"
            " %(workflow)s, %(version)s, %(payload)s, %(metadata)s, %(strategy)s,"
            " %(max_attempts)s, now() + make_interval(secs => %(after)s::float8),"
            f" case when {_CLAIMED} then 'running' else 'pending' end,"
            f" case when {_CLAIMED} then 1 else 0 end, %(owner)s, {_LEASE})"
            f" returning {_COLUMNS})"
            " select r.* from r left join"
            f" (select pg_notify(%(channel)s, %(tenant)s) where not {_CLAIMED}) as n on true",
            _params(tenant, new, owner, lease_seconds),
        )
        row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING returns the row
        return _record(row)

    async def insert_on_new_thread(
        self, tenant: str, new: NewRun, *, owner: str | None = None, lease_seconds: float = 0
    ) -> RunRecord | None:
        """Create a thread bound to the workflow and queue a run on it, atomically.

        One statement (one round trip) that also wakes workers. With ``owner``
        the run is claimed at once instead (``running``, first attempt, leased
        for ``lease_seconds``, its thread running under it), for a run slot of
        the caller's process; no worker is woken. Returns None, with nothing
        written, when the thread exists.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                _INSERT_ON_NEW_THREAD, _params(tenant, new, owner, lease_seconds)
            )
            row = await cur.fetchone()
        return None if row is None else _record(row)

    async def forget_new_thread(self, tenant: str, thread_id: str) -> None:
        """The thread got a checkpoint outside a run: its queued runs must not assume none."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "update gw_runs set payload = payload - 'new_thread'"
                " where tenant_id = %s and thread_id = %s and status = 'pending'"
                " and payload @> '{\"new_thread\": true}'",
                (tenant, thread_id),
            )

    async def active_on_thread(
        self, conn: psycopg.AsyncConnection[Any], tenant: str, thread_id: str
    ) -> list[RunRecord]:
        """Pending and running runs of a thread, oldest first, locked (``FOR UPDATE``)."""
        cur = await conn.execute(
            f"select {_COLUMNS} from gw_runs where tenant_id = %s and thread_id = %s"
            " and status in ('pending', 'running') order by created_at for update",
            (tenant, thread_id),
        )
        return [_record(r) for r in await cur.fetchall()]

    async def get(self, tenant: str, run_id: str, *, thread_id: str | None = None) -> RunRecord:
        """Return a run (of ``thread_id`` when given).

        Raises:
            NotFoundError: ``run.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_runs where tenant_id = %s and run_id = %s"
                " and (%s::text is null or thread_id = %s::text)",
                (tenant, run_id, thread_id, thread_id),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(
                f"run {run_id!r} does not exist", code="run.not_found", details={"run_id": run_id}
            )
        return _record(row)

    async def list(
        self,
        tenant: str,
        thread_id: str,
        *,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> builtins.list[RunRecord]:
        """Runs of a thread, newest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_runs where tenant_id = %s and thread_id = %s"
                " and (%s::text is null or status = %s::text)"
                " order by created_at desc limit %s offset %s",
                (tenant, thread_id, status, status, limit, offset),
            )
            return [_record(r) for r in await cur.fetchall()]

    async def on_thread_after(
        self, tenant: str, thread_id: str, *, after_run: str | None, limit: int = 20
    ) -> builtins.list[RunRecord]:
        """Runs of a thread created after ``after_run`` (or the latest run), oldest first."""
        async with self._pool.connection() as conn:
            if after_run is None:
                cur = await conn.execute(
                    f"select {_COLUMNS} from gw_runs where tenant_id = %s and thread_id = %s"
                    " order by created_at desc limit 1",
                    (tenant, thread_id),
                )
            else:
                cur = await conn.execute(
                    f"select {_COLUMNS} from gw_runs where tenant_id = %s and thread_id = %s"
                    " and created_at > coalesce((select created_at from gw_runs"
                    "  where tenant_id = %s and run_id = %s), '-infinity')"
                    " order by created_at limit %s",
                    (tenant, thread_id, tenant, after_run, limit),
                )
            return [_record(r) for r in await cur.fetchall()]

    async def claim(
        self, owner: str, lease_seconds: float, *, tenants: Sequence[str] | None = None
    ) -> RunRecord | None:
        """Claim the oldest runnable run of any tenant (of ``tenants``, when given), or None.

        Runnable: pending and due, with no running run and no older pending run on
        its thread; or running with an expired lease (its worker died). The claim
        counts an attempt and takes a lease for ``owner``. (The thread is taken
        over separately, after this commits: a run creation locks the thread
        first and then its runs, so taking both here could deadlock with it.)
        """
        for _ in range(5):
            try:
                async with self._pool.connection() as conn:
                    cur = await conn.execute(
                        _CLAIM,
                        {
                            "owner": owner,
                            "lease": lease_seconds,
                            "tenants": None if tenants is None else list(tenants),
                        },
                    )
                    row = await cur.fetchone()
                return None if row is None else _record(row)
            except psycopg.errors.UniqueViolation:
                # Another worker claimed a sibling run of the same thread first.
                continue
        return None

    async def reclaim(
        self, tenant: str, run_id: str, *, owner: str, lease_seconds: float, max_attempts: int
    ) -> RunRecord | None:
        """Claim one run again to continue it under its own id, or None if it is held.

        The run must have failed (``error`` or ``timeout``), be queued (``pending``,
        e.g. released in an outage) or be ``running`` with an expired lease (its
        process died), and be the thread's only active run.
        It gets a fresh budget of ``max_attempts`` claims on top of those used.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_runs r set status = 'running', attempts = r.attempts + 1,"
                " max_attempts = r.attempts + %(max)s, error = null, result = null,"
                " cancel_action = null, lease_owner = %(owner)s,"
                " lease_expires_at = now() + make_interval(secs => %(lease)s::float8),"
                " updated_at = now()"
                " where r.tenant_id = %(tenant)s and r.run_id = %(run)s"
                " and (r.status in ('error', 'timeout', 'pending')"
                "  or (r.status = 'running' and r.lease_expires_at < now()))"
                " and not exists (select 1 from gw_runs a where a.tenant_id = r.tenant_id"
                "  and a.thread_id = r.thread_id and a.status in ('running', 'pending')"
                "  and a.run_id <> r.run_id)"
                " returning " + ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(",")),
                {
                    "tenant": tenant,
                    "run": run_id,
                    "owner": owner,
                    "lease": lease_seconds,
                    "max": max_attempts,
                },
            )
            row = await cur.fetchone()
        return None if row is None else _record(row)

    async def renew(
        self, tenant: str, run_id: str, *, owner: str, lease_seconds: float
    ) -> tuple[bool, str | None]:
        """Extend the lease; returns ``(still owned, cancel action asked)``."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_runs set lease_expires_at = now() + make_interval(secs => %s::float8)"
                " where tenant_id = %s and run_id = %s and status = 'running'"
                " and lease_owner = %s returning cancel_action",
                (lease_seconds, tenant, run_id, owner),
            )
            row = await cur.fetchone()
        return (row is not None, None if row is None else row["cancel_action"])

    async def finish(
        self,
        tenant: str,
        run_id: str,
        *,
        owner: str | None,
        status: RunStatus,
        error: Mapping[str, Any] | None = None,
        result: Mapping[str, Any] | None = None,
    ) -> bool:
        """End a run (only while ``owner`` holds it, when given); False if not owned."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_runs set status = %s, error = %s, result = %s, lease_owner = null,"
                " lease_expires_at = null, updated_at = now()"
                " where tenant_id = %s and run_id = %s"
                " and (%s::text is null or lease_owner = %s::text) returning run_id",
                (
                    status,
                    None if error is None else Jsonb(dict(error)),
                    None if result is None else Jsonb(dict(result)),
                    tenant,
                    run_id,
                    owner,
                    owner,
                ),
            )
            return await cur.fetchone() is not None

    async def release(self, tenant: str, run_id: str, *, owner: str) -> bool:
        """Give a claimed run back to the queue (graceful shutdown); the attempt is not counted."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_runs set status = 'pending', attempts = greatest(attempts - 1, 0),"
                " lease_owner = null, lease_expires_at = null, updated_at = now()"
                " where tenant_id = %s and run_id = %s and lease_owner = %s"
                " and status = 'running' returning run_id",
                (tenant, run_id, owner),
            )
            found = await cur.fetchone() is not None
            if found:
                await conn.execute("select pg_notify(%s, %s)", (WAKE_CHANNEL, tenant))
            return found

    async def request_cancel(
        self, conn: psycopg.AsyncConnection[Any], tenant: str, run_id: str, action: str
    ) -> RunRecord | None:
        """Ask for cancellation: a pending run ends at once, a running one is signalled."""
        cur = await conn.execute(
            "update gw_runs set cancel_action = %s,"
            " status = case when status = 'pending' then 'interrupted' else status end,"
            " updated_at = now()"
            " where tenant_id = %s and run_id = %s and status in ('pending', 'running')"
            " returning " + _COLUMNS,
            (action, tenant, run_id),
        )
        row = await cur.fetchone()
        if row is not None and row["status"] == "running":
            await conn.execute("select pg_notify(%s, %s)", (CANCEL_CHANNEL, f"{tenant}/{run_id}"))
        return None if row is None else _record(row)

    async def delete(self, tenant: str, run_id: str, *, thread_id: str | None = None) -> bool:
        """Delete a run that is not active; False when there is no such run."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "delete from gw_runs where tenant_id = %s and run_id = %s"
                " and (%s::text is null or thread_id = %s::text)"
                " and status not in ('pending', 'running') returning run_id",
                (tenant, run_id, thread_id, thread_id),
            )
            return await cur.fetchone() is not None

    async def next_due(self) -> datetime | None:
        """When the next delayed run or lease expiry falls due (for a timed wake-up)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select least("
                " (select min(not_before) from gw_runs where status = 'pending'),"
                " (select min(lease_expires_at) from gw_runs where status = 'running')) as due"
            )
            row = await cur.fetchone()
        return None if row is None else row["due"]

    async def count_by_status(self) -> dict[tuple[str, str], int]:
        """Run counts by ``(tenant, status)`` over all tenants (for metrics).

        Pairs with no run are absent.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select tenant_id, status, count(*) as n from gw_runs group by tenant_id, status"
            )
            return {(r["tenant_id"], r["status"]): int(r["n"]) for r in await cur.fetchall()}

    async def count_failed_since(
        self, window_seconds: float = FAILED_WINDOW_SECONDS
    ) -> dict[str, int]:
        """Runs that ended failed (:data:`FAILED`) within the window, by tenant (for metrics).

        Tenants with none are absent.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select tenant_id, count(*) as n from gw_runs where status = any(%s)"
                " and updated_at >= now() - make_interval(secs => %s::float8)"
                " group by tenant_id",
                (list(FAILED), window_seconds),
            )
            return {r["tenant_id"]: int(r["n"]) for r in await cur.fetchall()}

    async def statuses(self, tenant: str, run_ids: Sequence[str]) -> dict[str, str]:
        """Statuses of several runs (missing ids are absent)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select run_id, status from gw_runs where tenant_id = %s and run_id = any(%s)",
                (tenant, list(run_ids)),
            )
            return {r["run_id"]: r["status"] for r in await cur.fetchall()}


async def listen(database_url: str) -> AsyncIterator[tuple[str | None, str]]:
    """Run wake-ups and cancellation requests, on a dedicated connection.

    Yields ``(None, "")`` once listening, then ``(channel, payload)`` per
    notification. Raises ``psycopg.Error`` when the connection is lost.
    """
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"listen {WAKE_CHANNEL}")
        await conn.execute(f"listen {CANCEL_CHANNEL}")
        yield None, ""
        async for note in conn.notifies():
            yield note.channel, note.payload


_CLAIM = (
    "with candidate as ("
    " select r.tenant_id, r.run_id from gw_runs r"
    " where ((r.status = 'pending' and r.not_before <= now())"
    "   or (r.status = 'running' and r.lease_expires_at < now()))"
    " and (%(tenants)s::text[] is null or r.tenant_id = any(%(tenants)s::text[]))"
    " and not exists (select 1 from gw_runs a where a.tenant_id = r.tenant_id"
    "   and a.thread_id = r.thread_id and a.status = 'running' and a.run_id <> r.run_id)"
    " and not exists (select 1 from gw_runs p where r.status = 'pending'"
    "   and p.tenant_id = r.tenant_id and p.thread_id = r.thread_id"
    "   and p.status = 'pending' and p.created_at < r.created_at)"
    " order by r.created_at limit 1 for update of r skip locked)"
    " update gw_runs r set status = 'running', attempts = r.attempts + 1,"
    " lease_owner = %(owner)s,"
    " lease_expires_at = now() + make_interval(secs => %(lease)s::float8), updated_at = now()"
    " from candidate c where r.tenant_id = c.tenant_id and r.run_id = c.run_id"
    " returning " + ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
)
_CLAIMED = "%(owner)s::text is not null"
_LEASE = f"case when {_CLAIMED} then now() + make_interval(secs => %(lease)s::float8) end"
_INSERT_CLAIMED = (
    "insert into gw_runs (tenant_id, run_id, thread_id, assistant_id, workflow_version,"
    " payload, metadata, multitask_strategy, max_attempts, not_before,"
    " status, attempts, lease_owner, lease_expires_at)"
)
_INSERT_ON_NEW_THREAD = (
    "with t as (insert into gw_threads (tenant_id, thread_id, workflow_id, workflow_version,"
    " metadata, status, run_id, lease_owner, lease_expires_at)"
    " values (%(tenant)s, %(thread)s, %(workflow)s, %(version)s, %(thread_metadata)s,"
    f" case when {_CLAIMED} then 'running' else 'idle' end,"
    f" case when {_CLAIMED} then %(run)s end, %(owner)s, null)"
    " on conflict (tenant_id, thread_id) do nothing returning thread_id),"
    " r as (insert into gw_runs (tenant_id, run_id, thread_id, assistant_id, workflow_version,"
    " payload, metadata, multitask_strategy, max_attempts, not_before,"
    " status, attempts, lease_owner, lease_expires_at)"
    " select %(tenant)s, %(run)s, t.thread_id, %(workflow)s, %(version)s, %(payload)s,"
    " %(metadata)s, %(strategy)s, %(max_attempts)s,"
    " now() + make_interval(secs => %(after)s::float8),"
    f" case when {_CLAIMED} then 'running' else 'pending' end,"
    f" case when {_CLAIMED} then 1 else 0 end, %(owner)s, {_LEASE}"
    f" from t returning {_COLUMNS})"
    # Queued (not claimed): wake the workers, when the transaction commits.
    " select r.* from r left join"
    f" (select pg_notify(%(channel)s, %(tenant)s) where not {_CLAIMED}) as n on true"
)
