"""The durable log of run events (what each run streamed), read back for replays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Json

from graphwright.store.pool import Pool

__all__ = ["EventLog", "StoredEvent"]


@dataclass(frozen=True)
class StoredEvent:
    """One event of a run: its per-run sequence number, SSE event name and data."""

    seq: int
    event: str
    data: Any


class EventLog:
    """Appends and reads ``gw_run_events``; every call is per tenant."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    async def append(self, tenant: str, run_id: str, events: Sequence[StoredEvent]) -> None:
        """Write a batch of events in one statement (idempotent per sequence number)."""
        if not events:
            return
        async with self._pool.connection() as conn:
            # One JSON parameter for the whole batch (cheap to adapt); `json` keeps
            # each event's key order.
            await conn.execute(
                "insert into gw_run_events (tenant_id, run_id, seq, event, data)"
                " select %s, %s, (e->>'s')::int, e->>'e', e->'d'"
                " from json_array_elements(%s::json) as e on conflict do nothing",
                (
                    tenant,
                    run_id,
                    Json([{"s": e.seq, "e": e.event, "d": e.data} for e in events]),
                ),
            )

    async def read(
        self, tenant: str, run_id: str, *, after: int = 0, limit: int = 1000
    ) -> list[StoredEvent]:
        """Events with ``seq > after``, in order."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select seq, event, data from gw_run_events"
                " where tenant_id = %s and run_id = %s and seq > %s order by seq limit %s",
                (tenant, run_id, after, limit),
            )
            return [StoredEvent(r["seq"], r["event"], r["data"]) for r in await cur.fetchall()]

    async def last_seq(self, tenant: str, run_id: str) -> int:
        """The highest sequence number stored for a run (0 if none)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select coalesce(max(seq), 0) as seq from gw_run_events"
                " where tenant_id = %s and run_id = %s",
                (tenant, run_id),
            )
            row = await cur.fetchone()
        return int(row["seq"]) if row else 0

    async def delete_run(self, tenant: str, run_id: str) -> None:
        """Delete a run's events."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "delete from gw_run_events where tenant_id = %s and run_id = %s", (tenant, run_id)
            )

    async def prune(self, *, older_than_seconds: float) -> int:
        """Delete events older than the retention; returns how many."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "delete from gw_run_events"
                " where created_at < now() - make_interval(secs => %s::float8)",
                (older_than_seconds,),
            )
            return cur.rowcount
