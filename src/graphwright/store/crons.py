"""Schedules (crons): rows per tenant, and the lease under which a process fires one.

A due cron (enabled, ``next_run_at`` passed) is claimed by one process at a time
with ``FOR UPDATE SKIP LOCKED`` and a lease; the holder starts the firing's run and
then advances ``next_run_at`` (:meth:`CronStore.finish_firing`, fenced by the
lease). A holder that dies leaves the lease to expire, and the next claimer fires
the same scheduled time again, which finds the run already started (see
:mod:`graphwright.runtime.crons`).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, get_args

from psycopg.types.json import Jsonb

from graphwright.errors import NotFoundError
from graphwright.store.pool import Pool

__all__ = ["CronFilter", "CronRecord", "CronSortBy", "CronStore", "NewCron"]

CronSortBy = Literal[
    "cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time"
]
_SORT_COLUMNS: Final[dict[str, str]] = {
    name: "next_run_at" if name == "next_run_date" else name for name in get_args(CronSortBy)
}
_COLUMNS = (
    "tenant_id, cron_id, assistant_id, thread_id, schedule, timezone, end_time, enabled,"
    " on_run_completed, payload, metadata, thread_metadata, user_id, next_run_at, last_run_at,"
    " last_run_id, last_error, fire_count, lease_owner, lease_expires_at, created_at, updated_at"
)


@dataclass(frozen=True)
class CronRecord:
    """One row of ``gw_crons``.

    Attributes:
        payload: The run each firing starts (a serialised
            :class:`~graphwright.runtime.run_request.RunRequest`).
        thread_metadata: The creator's metadata scope (and the metadata of the new
            threads of a cron without a thread).
        next_run_at: When it fires next; None when disabled or past its end time.
        last_run_at: The scheduled time of the last firing that started a run.
        last_error: Why the last firing started no run (None when it did).
    """

    tenant_id: str
    cron_id: str
    assistant_id: str
    thread_id: str | None
    schedule: str
    timezone: str | None
    end_time: datetime | None
    enabled: bool
    on_run_completed: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    thread_metadata: dict[str, Any]
    user_id: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_id: str | None
    last_error: dict[str, Any] | None
    fire_count: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The cron as the LangGraph Server API shows it, plus its last firing."""
        return {
            "cron_id": self.cron_id,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "user_id": self.user_id,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "end_time": _iso(self.end_time),
            "enabled": self.enabled,
            "on_run_completed": self.on_run_completed,
            "payload": self.payload,
            "metadata": self.metadata,
            "next_run_date": _iso(self.next_run_at),
            "last_run_date": _iso(self.last_run_at),
            "last_run_id": self.last_run_id,
            "last_error": self.last_error,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class NewCron:
    """A cron to create (or the new values of an updated one)."""

    cron_id: str
    assistant_id: str
    thread_id: str | None
    schedule: str
    timezone: str | None
    end_time: datetime | None
    enabled: bool
    on_run_completed: str
    payload: Mapping[str, Any]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    thread_metadata: Mapping[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    next_run_at: datetime | None = None


@dataclass(frozen=True)
class CronFilter:
    """Which of a tenant's crons a search or count matches.

    Attributes:
        scope: Only crons created within this metadata scope (``thread_metadata @>``).
    """

    tenant: str
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: Mapping[str, Any] | None = None
    scope: Mapping[str, Any] | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (without ``where``) and its parameters."""
        where = "tenant_id = %s"
        params: list[Any] = [self.tenant]
        for column, value in (
            ("assistant_id", self.assistant_id),
            ("thread_id", self.thread_id),
            ("enabled", self.enabled),
        ):
            if value is not None:
                where += f" and {column} = %s"
                params.append(value)
        for column, wanted in (("metadata", self.metadata), ("thread_metadata", self.scope)):
            if wanted:
                where += f" and {column} @> %s"
                params.append(Jsonb(dict(wanted)))
        return where, params


def _record(row: Mapping[str, Any]) -> CronRecord:
    return CronRecord(**{k: v for k, v in row.items() if k != "db_now"})


def _missing(cron_id: str) -> NotFoundError:
    return NotFoundError(
        f"cron {cron_id!r} does not exist", code="cron.not_found", details={"cron_id": cron_id}
    )


def _params(tenant: str, new: NewCron) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "cron": new.cron_id,
        "assistant": new.assistant_id,
        "thread": new.thread_id,
        "schedule": new.schedule,
        "timezone": new.timezone,
        "end_time": new.end_time,
        "enabled": new.enabled,
        "on_run_completed": new.on_run_completed,
        "payload": Jsonb(dict(new.payload)),
        "metadata": Jsonb(dict(new.metadata)),
        "thread_metadata": Jsonb(dict(new.thread_metadata)),
        "user_id": new.user_id,
        "next_run_at": new.next_run_at,
    }


class CronStore:
    """Creates, finds, changes and leases crons; every call except the leasing is per tenant."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    async def now(self) -> datetime:
        """The database's clock (the one due times are compared with)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute("select clock_timestamp() as now")
            row = await cur.fetchone()
        assert row is not None  # a select without FROM returns one row
        now: datetime = row["now"]
        return now

    async def insert(self, tenant: str, new: NewCron) -> CronRecord:
        """Store a new cron."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "insert into gw_crons (tenant_id, cron_id, assistant_id, thread_id, schedule,"
                " timezone, end_time, enabled, on_run_completed, payload, metadata,"
                " thread_metadata, user_id, next_run_at) values (%(tenant)s, %(cron)s,"
                " %(assistant)s, %(thread)s, %(schedule)s, %(timezone)s, %(end_time)s,"
                " %(enabled)s, %(on_run_completed)s, %(payload)s, %(metadata)s,"
                f" %(thread_metadata)s, %(user_id)s, %(next_run_at)s) returning {_COLUMNS}",
                _params(tenant, new),
            )
            row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING returns the row
        return _record(row)

    async def get(
        self, tenant: str, cron_id: str, *, scope: Mapping[str, Any] | None = None
    ) -> CronRecord:
        """One cron (created within ``scope``, when given).

        Raises:
            NotFoundError: ``cron.not_found``.
        """
        found = await self.search(CronFilter(tenant, scope=scope), cron_id=cron_id, limit=1)
        if not found:
            raise _missing(cron_id)
        return found[0]

    async def replace(self, tenant: str, new: NewCron) -> CronRecord:
        """Write the new values of an existing cron (its id, creator and history stay).

        Raises:
            NotFoundError: ``cron.not_found`` (deleted meanwhile).
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_crons set assistant_id = %(assistant)s, schedule = %(schedule)s,"
                " timezone = %(timezone)s, end_time = %(end_time)s, enabled = %(enabled)s,"
                " on_run_completed = %(on_run_completed)s, payload = %(payload)s,"
                " metadata = %(metadata)s, next_run_at = %(next_run_at)s, updated_at = now()"
                f" where tenant_id = %(tenant)s and cron_id = %(cron)s returning {_COLUMNS}",
                _params(tenant, new),
            )
            row = await cur.fetchone()
        if row is None:
            raise _missing(new.cron_id)
        return _record(row)

    async def delete(
        self, tenant: str, cron_id: str, *, scope: Mapping[str, Any] | None = None
    ) -> None:
        """Delete a cron; its runs stay.

        Raises:
            NotFoundError: ``cron.not_found``.
        """
        where, params = CronFilter(tenant, scope=scope).where()
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"delete from gw_crons where {where} and cron_id = %s", [*params, cron_id]
            )
        if cur.rowcount == 0:
            raise _missing(cron_id)

    async def search(
        self,
        filters: CronFilter,
        *,
        cron_id: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: CronSortBy = "created_at",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> builtins.list[CronRecord]:
        """One page of the crons matching ``filters``, sorted (ties broken by cron id)."""
        where, params = filters.where()
        if cron_id is not None:
            where += " and cron_id = %s"
            params.append(cron_id)
        order = "asc" if sort_order == "asc" else "desc"
        column = _SORT_COLUMNS[sort_by]
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_crons where {where}"
                f" order by {column} {order} nulls last, cron_id {order} limit %s offset %s",
                [*params, limit, offset],
            )
            return [_record(r) for r in await cur.fetchall()]

    async def count(self, filters: CronFilter) -> int:
        """How many crons match ``filters``."""
        where, params = filters.where()
        async with self._pool.connection() as conn:
            cur = await conn.execute(f"select count(*) as n from gw_crons where {where}", params)
            row = await cur.fetchone()
        return int(row["n"]) if row is not None else 0

    # -- firing (every tenant) ---------------------------------------------------------

    async def claim_due(
        self, owner: str, *, lease_seconds: float, limit: int
    ) -> tuple[builtins.list[CronRecord], datetime]:
        """Lease up to ``limit`` due crons for ``owner``; with the database's time of the claim.

        Due: enabled, ``next_run_at`` passed, and not leased by another process (or
        its lease expired). ``owner``'s own leases are taken again (a firing it
        could not finish in an outage).
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "with due as (select tenant_id, cron_id from gw_crons"
                " where enabled and next_run_at <= now()"
                " and (lease_expires_at is null or lease_expires_at < now()"
                "  or lease_owner = %(owner)s)"
                " order by next_run_at limit %(limit)s for update skip locked)"
                " update gw_crons c set lease_owner = %(owner)s,"
                " lease_expires_at = now() + make_interval(secs => %(lease)s::float8)"
                " from due where c.tenant_id = due.tenant_id and c.cron_id = due.cron_id"
                f" returning {', '.join('c.' + c.strip() for c in _COLUMNS.split(','))}",
                {"owner": owner, "lease": lease_seconds, "limit": limit},
            )
            rows = await cur.fetchall()
            cur = await conn.execute("select now() as now")
            now = await cur.fetchone()
        assert now is not None  # a select without FROM returns one row
        return [_record(r) for r in rows], now["now"]

    async def next_due(self) -> tuple[datetime | None, datetime]:
        """When the next cron becomes claimable (None: none is enabled), and the time now."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select (select min(greatest(next_run_at, lease_expires_at)) from gw_crons"
                " where enabled and next_run_at is not null) as due, clock_timestamp() as now"
            )
            row = await cur.fetchone()
        assert row is not None  # a select of two scalars returns one row
        return row["due"], row["now"]

    async def finish_firing(
        self,
        tenant: str,
        cron_id: str,
        *,
        owner: str,
        scheduled: datetime,
        next_run_at: datetime | None,
        run_id: str | None,
        error: Mapping[str, Any] | None,
    ) -> bool:
        """Record the firing of ``scheduled`` and release the lease; False if not held.

        ``next_run_at`` is written only while the cron still waits for ``scheduled``
        (an update meanwhile set a new time of its own). ``run_id``: the run the
        firing started (None: it started none; ``error`` says why, if it failed).
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_crons set"
                " next_run_at = case when next_run_at = %(scheduled)s then %(next)s"
                "  else next_run_at end,"
                " last_run_at = case when %(run)s::text is null then last_run_at"
                "  else %(scheduled)s end,"
                " last_run_id = coalesce(%(run)s::text, last_run_id),"
                " fire_count = fire_count + (%(run)s::text is not null)::int,"
                " last_error = %(error)s, lease_owner = null, lease_expires_at = null"
                " where tenant_id = %(tenant)s and cron_id = %(cron)s"
                " and lease_owner = %(owner)s",
                {
                    "tenant": tenant,
                    "cron": cron_id,
                    "owner": owner,
                    "scheduled": scheduled,
                    "next": next_run_at,
                    "run": run_id,
                    "error": None if error is None else Jsonb(dict(error)),
                },
            )
        return cur.rowcount == 1
