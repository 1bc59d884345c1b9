"""Per-run event writer: sequence numbers, the durable log, then live fan-out.

Events are written to PostgreSQL before they are published, so a reader that
subscribes first and then reads the log can never miss one. Writes batch
naturally: while one batch is being written, new events wait for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from psycopg import Error as PsycopgError

from graphwright.runtime.bus import InProcessBus
from graphwright.store.events import EventLog, StoredEvent

__all__ = ["RunEventWriter", "run_channel"]

log = logging.getLogger("graphwright.worker")

BATCH_SECONDS = 0.01


def run_channel(tenant: str, run_id: str) -> str:
    """Bus channel of one run's events."""
    return f"gw:run:{tenant}:{run_id}"


class RunEventWriter:
    """Numbers, stores and publishes the events of one run."""

    def __init__(
        self, log_: EventLog, bus: InProcessBus, tenant: str, run_id: str, *, first_seq: int
    ) -> None:
        self._log = log_
        self._bus = bus
        self.tenant = tenant
        self.run_id = run_id
        self.channel = run_channel(tenant, run_id)
        self._next = first_seq
        self._pending: list[StoredEvent] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._flush_loop(), name=f"events-{run_id}")

    @property
    def last_seq(self) -> int:
        """Sequence number of the last event emitted."""
        return self._next - 1

    def emit(self, event: str, data: Any) -> int:
        """Queue an event; returns its sequence number."""
        seq = self._next
        self._next += 1
        self._pending.append(StoredEvent(seq, event, data))
        self._wake.set()
        return seq

    async def _flush_loop(self) -> None:
        # The first event goes out at once; later ones are batched in windows of
        # BATCH_SECONDS, so a run costs a few log writes, not one per event.
        loop = asyncio.get_running_loop()
        last_flush = -BATCH_SECONDS
        while True:
            await self._wake.wait()
            wait = last_flush + BATCH_SECONDS - loop.time()
            if wait > 0 and not self._closed:
                await asyncio.sleep(wait)
            self._wake.clear()
            last_flush = loop.time()
            await self._flush()
            if self._closed and not self._pending:
                return

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._log.append(self.tenant, self.run_id, batch)
            except PsycopgError as exc:  # the run goes on; live readers still get events
                log.error("event log write failed for run %s: %s", self.run_id, exc)
            await self._bus.publish_many(
                self.channel,
                [{"seq": item.seq, "event": item.event, "data": item.data} for item in batch],
            )

    async def close(self, status: str) -> None:
        """Flush everything, then publish the end of the run (status) to live readers."""
        self._closed = True
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._task)
        await self._bus.publish(self.channel, {"done": True, "status": status})
