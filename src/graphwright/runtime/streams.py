"""Following runs: a run's events, or a thread's runs one after another, replayed from the
event log and then live from the bus, with heartbeats and exact resumption.

Nothing here holds run state: a follower reads the log, listens on the run's
channel, and reads the log again for whatever it missed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from graphwright.errors import GraphwrightError, InvalidInputError, NotFoundError
from graphwright.runtime.bus import InProcessBus
from graphwright.runtime.writer import run_channel
from graphwright.settings import Settings
from graphwright.store.events import EventLog, StoredEvent
from graphwright.store.runs import RunRecord, RunStore
from graphwright.store.threads import ThreadStore

__all__ = ["HEARTBEAT", "LAGGING", "TERMINAL", "RunStreams", "thread_channel"]

TERMINAL = frozenset({"success", "error", "timeout", "interrupted"})
HEARTBEAT = StoredEvent(0, "", None)
"""Yielded by :meth:`RunStreams.follow` when a heartbeat is due."""
LAGGING = StoredEvent(0, "", "lagging")
"""Yielded when the reader fell behind the live events: the rest comes from the log."""


class RunStreams:
    """The run and thread event streams this process serves (bounded by ``max_streams``)."""

    def __init__(
        self,
        *,
        runs: RunStore,
        threads: ThreadStore,
        events: EventLog,
        bus: InProcessBus,
        settings: Settings,
    ) -> None:
        """Follow runs through the stores, the event log and the bus."""
        self.runs = runs
        self.threads = threads
        self.events = events
        self.bus = bus
        self.settings = settings
        self.active_streams = 0

    def admit(self) -> None:
        """Raise ``stream.limit`` when this process already serves ``max_streams`` streams."""
        if self.active_streams >= self.settings.max_streams:
            raise GraphwrightError(
                f"this server already serves {self.active_streams} streams; retry shortly "
                "(or use another replica)",
                code="stream.limit",
                details={"max_streams": self.settings.max_streams},
            )

    async def follow(
        self,
        tenant: str,
        run_id: str,
        *,
        after: int = 0,
        modes: frozenset[str] | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """Events of a run after sequence ``after``: replayed from the log, then live.

        With ``modes``, only events of those stream modes (plus ``metadata`` and
        ``error``) are yielded. Yields :data:`HEARTBEAT` when nothing happened for
        a heartbeat interval. Ends when the run has ended and every event was
        delivered.
        """
        self.admit()
        self.active_streams += 1
        try:
            async with aclosing(
                self._follow_run(tenant, run_id, after=after, modes=modes)
            ) as events:
                async for event in events:
                    yield event
        finally:
            self.active_streams -= 1

    async def _follow_run(
        self, tenant: str, run_id: str, *, after: int, modes: frozenset[str] | None
    ) -> AsyncGenerator[StoredEvent, None]:
        """:meth:`follow` without admission: the caller holds the stream slot."""
        sub = self.bus.subscribe(run_channel(tenant, run_id))
        try:
            async for event in self._follow(tenant, run_id, sub, after):
                if (
                    modes is None
                    or event is HEARTBEAT
                    or event is LAGGING
                    or _wanted(event.event, modes)
                ):
                    yield event
        except NotFoundError:
            return  # the run was rolled back (deleted) while followed: the stream ends
        finally:
            sub.close()

    async def _follow(
        self, tenant: str, run_id: str, sub: Any, last: int
    ) -> AsyncIterator[StoredEvent]:
        for event in await self.events.read(tenant, run_id, after=last):
            last = event.seq
            yield event
        if (await self.runs.get(tenant, run_id)).status in TERMINAL:
            for event in await self.events.read(tenant, run_id, after=last):
                last = event.seq
                yield event
            return
        while True:
            message = await sub.get(self.settings.heartbeat_seconds)
            if message is None or message.get("gap"):
                # Quiet for a heartbeat, or live messages may be lost (the bus is down
                # or reconnecting): keep the connection alive and ask the database
                # whether the run ended, so the stream ends with it even without a bus.
                yield HEARTBEAT
                if (await self.runs.get(tenant, run_id)).status in TERMINAL:
                    message = {"done": True}
                elif message is None:
                    continue
            if message.get("done") or message.get("gap") or sub.overflowed:
                if sub.overflowed:
                    yield LAGGING
                sub.overflowed = False
                for event in await self.events.read(tenant, run_id, after=last):
                    last = event.seq
                    yield event
                if message.get("done"):
                    # A process that stopped running the run without ending it (lease
                    # lost, released on drain) also says "done": the run goes on in
                    # another attempt, and so does the stream.
                    if (await self.runs.get(tenant, run_id)).status not in TERMINAL:
                        continue
                    for event in await self.events.read(tenant, run_id, after=last):
                        last = event.seq
                        yield event
                    return
                continue
            seq = int(message.get("seq", 0))
            if seq <= last:
                continue
            if seq > last + 1:  # missed some: the log has them
                for event in await self.events.read(tenant, run_id, after=last):
                    last = event.seq
                    yield event
                if seq <= last:
                    continue
            last = seq
            yield StoredEvent(seq, str(message["event"]), message.get("data"))

    async def follow_thread(
        self,
        tenant: str,
        thread_id: str,
        *,
        after: str | None = None,
        modes: frozenset[str] | None = None,
        lifecycle_only: bool = False,
    ) -> AsyncIterator[tuple[str, StoredEvent]]:
        """Events of every run on a thread, one run after another, as ``(id, event)``.

        Ids are ``<run_id>:<seq>`` (``<run_id>:done`` for the ``run_done`` event
        closing each run), so ``after`` resumes exactly where a client left off.
        Without ``after`` the stream starts with the thread's latest run. It never
        ends by itself; :data:`HEARTBEAT` is yielded while nothing happens.
        """
        await self.threads.get(tenant, thread_id)
        self.admit()
        sub = self.bus.subscribe(thread_channel(tenant, thread_id))
        self.active_streams += 1
        current, seq = _parse_thread_id(after)
        try:
            pending: list[RunRecord] = []
            if current is not None and seq is not None:
                pending = [await self.runs.get(tenant, current, thread_id=thread_id)]
            while True:
                if not pending:
                    pending = await self.runs.on_thread_after(tenant, thread_id, after_run=current)
                if not pending:
                    message = await sub.get(self.settings.heartbeat_seconds)
                    if message is None:
                        yield "", HEARTBEAT
                    continue
                run = pending.pop(0)
                start = seq if (run.run_id == current and seq is not None) else 0
                if lifecycle_only:
                    yield f"{run.run_id}:0", StoredEvent(0, "metadata", {"run_id": run.run_id})
                run_modes = modes
                if run_modes is None:
                    run_modes = frozenset(run.payload.stream_mode)
                # _follow_run, not follow: this thread stream already holds its one slot.
                events = self._follow_run(tenant, run.run_id, after=start, modes=run_modes)
                async with aclosing(events):
                    async for event in events:
                        if event is HEARTBEAT:
                            yield "", event
                        elif not lifecycle_only:
                            yield f"{run.run_id}:{event.seq}", event
                ended = await self.runs.statuses(tenant, [run.run_id])
                done = {"run_id": run.run_id, "status": ended.get(run.run_id, "deleted")}
                yield f"{run.run_id}:done", StoredEvent(0, "run_done", done)
                current, seq = run.run_id, None
        finally:
            self.active_streams -= 1
            sub.close()


def thread_channel(tenant: str, thread_id: str) -> str:
    """Bus channel announcing new runs on a thread."""
    return f"gw:thread:{tenant}:{thread_id}"


def _wanted(name: str, modes: frozenset[str]) -> bool:
    base = name.split("|", 1)[0]
    return base in modes or base in ("metadata", "error")


def _parse_thread_id(value: str | None) -> tuple[str | None, int | None]:
    """``<run_id>:<seq>`` -> (run_id, seq); ``<run_id>:done`` -> (run_id, None)."""
    if not value:
        return None, None
    run_id, _, tail = value.rpartition(":")
    if not run_id:
        raise InvalidInputError(
            f"Last-Event-ID {value!r} is not '<run_id>:<seq>'", code="stream.invalid_event_id"
        )
    if tail == "done":
        return run_id, None
    try:
        return run_id, int(tail)
    except ValueError:
        raise InvalidInputError(
            f"Last-Event-ID {value!r} is not '<run_id>:<seq>'", code="stream.invalid_event_id"
        ) from None
