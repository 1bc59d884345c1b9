"""Thread search and count (``/threads/search``, ``/threads/count``): one filter, two queries."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from psycopg.types.json import Jsonb

from graphwright.store.pool import Pool
from graphwright.store.threads import _COLUMNS, ThreadRecord, ThreadStatus, _record

__all__ = ["ThreadFilter", "ThreadSortBy", "count", "search"]

ThreadSortBy = Literal["thread_id", "status", "created_at", "updated_at"]
_SORTABLE: Final[frozenset[str]] = frozenset(get_args(ThreadSortBy))


@dataclass(frozen=True)
class ThreadFilter:
    """Which of a tenant's threads a search or count matches.

    Attributes:
        tenant: Tenant whose threads are searched.
        statuses: Only threads with one of these statuses.
        metadata: Only threads whose metadata contains this object (``@>``, GIN index).
        ids: Only these thread ids.
        workflow_id: Only threads bound to this workflow (the CLI's ``--workflow``).
        created_after: Only threads created at or after this time (inclusive).
        created_before: Only threads created before this time (exclusive).
        updated_after: Only threads updated at or after this time (inclusive).
        updated_before: Only threads updated before this time (exclusive).

    Time bounds must be timezone-aware. Each is served by the ``(tenant_id,
    created_at | updated_at, thread_id)`` indexes.
    """

    tenant: str
    statuses: Collection[ThreadStatus] | None = None
    metadata: Mapping[str, Any] | None = None
    ids: Collection[str] | None = None
    workflow_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (without ``where``) and its parameters."""
        where = "tenant_id = %s"
        params: list[Any] = [self.tenant]
        if self.statuses is not None:
            where += " and status = any(%s)"
            params.append(list(self.statuses))
        if self.metadata:
            where += " and metadata @> %s"
            params.append(Jsonb(dict(self.metadata)))
        if self.ids is not None:
            where += " and thread_id = any(%s)"
            params.append(list(self.ids))
        if self.workflow_id is not None:
            where += " and workflow_id = %s"
            params.append(self.workflow_id)
        for column, op, bound in (
            ("created_at", ">=", self.created_after),
            ("created_at", "<", self.created_before),
            ("updated_at", ">=", self.updated_after),
            ("updated_at", "<", self.updated_before),
        ):
            if bound is not None:
                where += f" and {column} {op} %s"
                params.append(bound)
        return where, params


async def search(
    pool: Pool,
    filters: ThreadFilter,
    *,
    limit: int = 10,
    offset: int = 0,
    sort_by: ThreadSortBy = "created_at",
    sort_order: Literal["asc", "desc"] = "desc",
) -> list[ThreadRecord]:
    """Return one page of the threads matching ``filters``, sorted.

    Args:
        pool: Connection pool.
        filters: Tenant and filters.
        limit: Page size, 1 to 1000.
        offset: Threads to skip.
        sort_by: ``thread_id``, ``status``, ``created_at`` or ``updated_at``.
        sort_order: ``asc`` or ``desc`` (ties broken by thread id).

    Raises:
        ValueError: ``limit``, ``offset`` or ``sort_by`` is out of range.
    """
    if not 1 <= limit <= 1000 or offset < 0:
        raise ValueError(f"limit must be 1..1000 and offset >= 0, got {limit}, {offset}")
    if sort_by not in _SORTABLE:
        raise ValueError(f"cannot sort threads by {sort_by!r}")
    where, params = filters.where()
    direction = "asc" if sort_order == "asc" else "desc"
    query = (
        f"select {_COLUMNS} from gw_threads where {where}"
        f" order by {sort_by} {direction}, thread_id {direction} limit %s offset %s"
    )
    async with pool.connection() as conn:
        cur = await conn.execute(query, [*params, limit, offset])
        rows = await cur.fetchall()
    return [_record(row) for row in rows]


async def count(pool: Pool, filters: ThreadFilter) -> int:
    """Count the threads matching ``filters`` (as :func:`search` would find them)."""
    where, params = filters.where()
    async with pool.connection() as conn:
        cur = await conn.execute(f"select count(*) as n from gw_threads where {where}", params)
        row = await cur.fetchone()
    return int(row["n"]) if row else 0
