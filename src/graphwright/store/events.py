"""The durable log of run events (what each run streamed), read back for replays."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphwright.store.pool import Pool

__all__ = ["EncodedEvent", "EventLog", "StoredEvent"]


@dataclass(frozen=True)
class StoredEvent:
    """One event of a run: its per-run sequence number, SSE event name and data."""

    seq: int
    event: str
    data: Any


@dataclass(frozen=True)
class EncodedEvent:
    """An event on its way to the log: whose it is, and its data as JSON text."""

    tenant: str
    run_id: str
    seq: int
    event: str
    data: str


class EventLog:
    """Appends and reads ``gw_run_events``; every call is per tenant."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows)."""
        self._pool = pool

    async def append(self, tenant: str, run_id: str, events: Sequence[StoredEvent]) -> None:
        """Write a batch of one run's events in one statement (idempotent per sequence number)."""
        await self.append_encoded(
            [
                EncodedEvent(tenant, run_id, e.seq, e.event, json.dumps(e.data, default=str))
                for e in events
            ]
        )

    async def append_encoded(self, events: Sequence[EncodedEvent]) -> None:
        """Write events of any runs and tenants, data already JSON text, in one statement.

        Re-appending a ``(tenant, run, seq)`` that is stored is a no-op. ``json``
        (not ``jsonb``) keeps each event's text, key order included.
        """
        if not events:
            return
        # One JSON text parameter for the whole batch: cheap to send (arrays of
        # text would be escaped element by element), and each event's data is
        # spliced in as it was encoded.
        rows = ", ".join(
            f'{{"t": {json.dumps(e.tenant)}, "r": {json.dumps(e.run_id)}, "s": {e.seq},'
            f' "e": {json.dumps(e.event)}, "d": {e.data}}}'
            for e in events
        )
        async with self._pool.connection() as conn:
            await conn.execute(
                "insert into gw_run_events (tenant_id, run_id, seq, event, data)"
                " select t, r, s, e, d from json_to_recordset(%s::json)"
                "  as x(t text, r text, s int, e text, d json) on conflict do nothing",
                (f"[{rows}]",),
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
