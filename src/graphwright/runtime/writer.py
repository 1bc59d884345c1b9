"""Run events on their way out: sequence numbers, the durable log, then live fan-out.

Every run of a process hands its events to one :class:`EventSink`, which writes
them to PostgreSQL and only then publishes them, so a reader that subscribes
first and then reads the log can never miss one. The sink batches across runs:
one log statement and one bus round trip carry whatever every run emitted
since the last flush, so the cost per event falls as the load rises, while the
first event after a quiet spell still goes out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import Error as PsycopgError

from graphwright.runtime.bus import InProcessBus, Outgoing
from graphwright.store.events import EncodedEvent, EventLog

__all__ = ["EventSink", "RunEventWriter", "done_message", "done_text", "run_channel"]

log = logging.getLogger("graphwright.worker")

BATCH_SECONDS = 0.01
CLOSE_RETRY_SECONDS = 10.0
DONE_RESULT_LIMIT = 64 * 1024
"""A run's ``/wait`` body rides on its ``done`` message when its JSON is at most this long."""


def run_channel(tenant: str, run_id: str) -> str:
    """Bus channel of one run's events."""
    return f"gw:run:{tenant}:{run_id}"


Ending = Callable[[], Awaitable[dict[str, Any]]]
"""Ends a run's row once its events are logged; returns its ``done`` message."""


@dataclass
class _End:
    channel: str
    ending: Ending
    outcome: asyncio.Future[dict[str, Any]]


@dataclass
class _Batch:
    logged: list[EncodedEvent]
    live: list[Outgoing]
    flushed: asyncio.Future[None]
    ends: list[_End] = field(default_factory=list)


class EventSink:
    """Writes and publishes the events of every run of this process, in shared batches.

    The first event after a quiet spell is flushed at once; later ones wait for
    the next flush, which starts :data:`BATCH_SECONDS` after the previous one
    (or when it ends, if it took longer). Flushes never overlap, so each run's
    events reach the log and the bus in order.
    """

    def __init__(self, log_: EventLog, bus: InProcessBus) -> None:
        self._log = log_
        self._bus = bus
        self._batch: _Batch | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.flushes = 0
        self.retries = 0
        self._closing = False

    def add(self, tenant: str, run_id: str, channel: str, seq: int, event: str, data: Any) -> None:
        """Queue one event for the log and the bus (its data must be JSON-serialisable)."""
        text = json.dumps(data, default=str)
        batch = self._current()
        batch.logged.append(EncodedEvent(tenant, run_id, seq, event, text))
        message = {"seq": seq, "event": event, "data": data}
        encoded = f'{{"seq": {seq}, "event": {json.dumps(event)}, "data": {text}}}'
        batch.live.append(Outgoing(channel, message, encoded))

    def add_live(self, channel: str, message: dict[str, Any], encoded: str) -> None:
        """Queue a bus-only message, published after everything queued before it."""
        self._current().live.append(Outgoing(channel, message, encoded))

    async def end(self, channel: str, ending: Ending) -> dict[str, Any]:
        """End a run with the next flush: after its events are logged, ``ending`` runs
        (it marks the run row ended), then its ``done`` message is published with
        that flush's events. Returns the message (``ending``'s errors propagate)."""
        outcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._current().ends.append(_End(channel, ending, outcome))
        return await outcome

    async def flushed(self) -> None:
        """Return once everything queued so far is logged and published."""
        if self._batch is not None:
            await asyncio.shield(self._batch.flushed)

    def _current(self) -> _Batch:
        if self._batch is None:
            loop = asyncio.get_running_loop()
            self._batch = _Batch([], [], loop.create_future())
            self._wake.set()
            if self._task is None or self._task.done():
                self._task = loop.create_task(self._flush_loop(), name="graphwright-events")
        return self._batch

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_flush = -BATCH_SECONDS
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = last_flush + BATCH_SECONDS - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            batch, self._batch = self._batch, None
            if batch is None:
                continue
            last_flush = loop.time()
            try:
                await self._flush(batch)
            finally:
                for end in batch.ends:
                    if not end.outcome.done():
                        end.outcome.set_exception(RuntimeError("event flush failed"))
                if not batch.flushed.done():
                    batch.flushed.set_result(None)

    async def _flush(self, batch: _Batch) -> None:
        self.flushes += 1
        await self._log_with_retries(batch)
        # Runs read as ended only now, with every event of theirs in the log.
        results = await asyncio.gather(
            *(end.ending() for end in batch.ends), return_exceptions=True
        )
        for end, result in zip(batch.ends, results, strict=True):
            if isinstance(result, BaseException):
                if not end.outcome.done():  # its caller may have been cancelled meanwhile
                    end.outcome.set_exception(result)
                continue
            batch.live.append(Outgoing(end.channel, result, done_text(result)))
            if not end.outcome.done():
                end.outcome.set_result(result)
        await self._bus.publish_encoded(batch.live)

    async def _log_with_retries(self, batch: _Batch) -> None:
        """Write the batch to the event log, retrying with backoff through an outage.

        Nothing is dropped and no run of the batch reads as ended before its
        events are logged. Only a process that is closing gives up (after
        ``CLOSE_RETRY_SECONDS`` of failures); its runs were not ended, so they are
        claimed again elsewhere.
        """
        delay = 0.05
        failing_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._log.append_encoded(batch.logged)
                if failing_since is not None:
                    log.warning(
                        "event log write succeeded again after %.1fs", loop.time() - failing_since
                    )
                return
            except PsycopgError as exc:
                now = loop.time()
                if failing_since is None:
                    failing_since = now
                    log.warning(
                        "event log write of %d events failed, retrying: %s", len(batch.logged), exc
                    )
                if self._closing and now - failing_since > CLOSE_RETRY_SECONDS:
                    log.error(
                        "event log write of %d events abandoned at close: %s",
                        len(batch.logged),
                        exc,
                    )
                    raise
            self.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def close(self) -> None:
        """Flush what is queued and stop."""
        self._closing = True
        await self.flushed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RunEventWriter:
    """Numbers the events of one run and hands them to the process's sink."""

    def __init__(self, sink: EventSink, tenant: str, run_id: str, *, first_seq: int) -> None:
        self._sink = sink
        self.tenant = tenant
        self.run_id = run_id
        self.channel = run_channel(tenant, run_id)
        self.ended = False
        self._next = first_seq

    @property
    def last_seq(self) -> int:
        """Sequence number of the last event emitted."""
        return self._next - 1

    def emit(self, event: str, data: Any) -> int:
        """Queue an event; returns its sequence number."""
        seq = self._next
        self._next += 1
        self._sink.add(self.tenant, self.run_id, self.channel, seq, event, data)
        return seq

    async def end(self, ending: Ending) -> dict[str, Any]:
        """End the run once its events are logged, and publish ``done`` with them.

        ``ending`` marks the run row ended and returns the ``done`` message (see
        :func:`done_message`); a reader that sees the run ended and then reads the
        log gets every event. Returns that message.
        """
        self.ended = True
        return await self._sink.end(self.channel, ending)

    def close(self, status: str) -> None:
        """Queue a ``done`` with ``status`` for a run this process stopped running
        without ending it (released, lost): readers check the run row again."""
        message = done_message(status)
        self._sink.add_live(self.channel, message, done_text(message))


def done_message(status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``done`` message of a run; ``result`` (its ``/wait`` body) rides along when small,
    so a waiting request need not read it back from the database."""
    message: dict[str, Any] = {"done": True, "status": status}
    if result is not None and len(json.dumps(result, default=str)) <= DONE_RESULT_LIMIT:
        message["result"] = result
    return message


def done_text(message: dict[str, Any]) -> str:
    """A ``done`` message as JSON text."""
    return json.dumps(message, default=str)
