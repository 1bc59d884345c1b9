"""Workers: claim queued runs and hand them to the executor.

A process runs ``GW_WORKERS`` slots. Slots sleep until PostgreSQL notifies
them (a run was created or released) or until the next delayed run or lease
expiry falls due; there is no sleep-polling for new work. A claimed run is
executed by :class:`~graphwright.runtime.executor.RunExecutor`, the same one
that runs an embedding program's runs; cancellation requests arrive by
``NOTIFY`` (and are also seen by the executor's lease heartbeat).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence

import psycopg

from graphwright.errors import GraphwrightError
from graphwright.runtime.executor import RunExecutor
from graphwright.settings import Settings
from graphwright.store.events import EventLog
from graphwright.store.runs import CANCEL_CHANNEL, WAKE_CHANNEL, RunRecord, RunStore, listen

__all__ = ["WorkerPool"]

log = logging.getLogger("graphwright.worker")

_IDLE_WAKE = 5.0
_DUE_REUSE = 1.0


class _IdleSlots:
    """Idle run slots: woken to look for queued runs, or handed a run directly.

    A ring wakes one waiting slot (or, with none waiting, lets one of the next
    slots to wait through: at most ``limit`` rings are remembered). A slot taken
    with :meth:`reserve` waits for the run its taker hands it (or None: go and
    look in the queue).
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._waiting: collections.deque[asyncio.Future[RunRecord | None]] = collections.deque()
        self._rings = 0

    def ring(self, times: int = 1) -> None:
        """Let up to ``times`` waiting (or next) slots look for work."""
        for _ in range(times):
            slot = self.reserve()
            if slot is not None:
                slot.set_result(None)
            elif self._rings < self._limit:
                self._rings += 1

    def reserve(self) -> asyncio.Future[RunRecord | None] | None:
        """Take a waiting slot, or None when every slot is busy.

        The caller must resolve the future: with a run the slot executes, or None.
        """
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                return slot
        return None

    async def wait(self, seconds: float) -> RunRecord | None:
        """A handed run, or None to look in the queue (after a ring or ``seconds``)."""
        if self._rings:
            self._rings -= 1
            return None
        slot: asyncio.Future[RunRecord | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            return await asyncio.wait_for(asyncio.shield(slot), seconds)
        except TimeoutError:
            if slot in self._waiting:
                self._waiting.remove(slot)
                return None
            return await slot  # reserved just now: its run is on the way
        except asyncio.CancelledError:
            # A run handed over from now on would wait for its lease to expire.
            if slot in self._waiting:
                self._waiting.remove(slot)
            slot.cancel()
            raise


class WorkerPool:
    """``settings.workers`` concurrent run slots in this process.

    With ``tenants``, the slots claim only those tenants' runs (noisy-neighbour
    isolation); by default any tenant's.
    """

    def __init__(
        self,
        executor: RunExecutor,
        runs: RunStore,
        events: EventLog,
        settings: Settings,
        *,
        database_url: str,
        tenants: Sequence[str] | None = None,
    ) -> None:
        self.executor = executor
        self.runs = runs
        self.events = events
        self.settings = settings
        self.database_url = database_url
        self.tenants = None if tenants is None else tuple(tenants)
        self.owner = executor.owner
        self._wake = _IdleSlots(max(settings.workers, 1))
        # When the next delayed run or lease expiry falls due, as last read; reused
        # by idle slots for _DUE_REUSE seconds unless a wake-up notification came.
        self._due: dt.datetime | None = None
        self._due_read_at: float | None = None
        self._stopping = False
        self._slots: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self.completed = 0

    @property
    def active_runs(self) -> int:
        """Runs executing in this process now."""
        return self.executor.active_runs

    async def start(self) -> None:
        """Start listening for wake-ups and the run slots."""
        ready = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(ready), name="graphwright-listen")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 10)
        self._slots = [
            asyncio.create_task(self._slot(i), name=f"graphwright-slot-{i}")
            for i in range(self.settings.workers)
        ]
        self._slots.append(asyncio.create_task(self._prune(), name="graphwright-prune"))

    async def stop(self, *, grace: float | None = None) -> None:
        """Stop claiming; let in-flight runs finish within ``grace``; release the rest."""
        self._stopping = True
        self._wake.ring(self.settings.workers)
        grace = self.settings.drain_seconds if grace is None else grace
        in_flight = self.executor.running()
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace)
        self.executor.release_all()
        released = self.executor.running()
        if released:  # let each released run give its row back before its slot goes
            await asyncio.wait(released, timeout=10)
        for slot in self._slots:
            slot.cancel()
        for slot in self._slots:
            with contextlib.suppress(asyncio.CancelledError):
                await slot
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _prune(self) -> None:
        """Delete run events older than the retention, about every tenth of it."""
        retention = self.settings.event_retention_seconds
        interval = min(max(retention / 10, 60.0), 3600.0)
        while not self._stopping:
            try:
                removed = await self.events.prune(older_than_seconds=retention)
                if removed:
                    log.info("pruned %d run events older than %ss", removed, retention)
            except psycopg.Error as exc:
                log.warning("event log pruning failed: %s", exc)
            await asyncio.sleep(interval)

    # -- wake-ups ------------------------------------------------------------------

    async def _listen(self, ready: asyncio.Event) -> None:
        delay = 0.2
        while True:
            try:
                async for channel, payload in listen(self.database_url):
                    if channel is None:  # (re)connected: catch up
                        ready.set()
                        self._wake.ring(self.settings.workers)
                        delay = 0.2
                    elif channel == WAKE_CHANNEL:
                        self._due_read_at = None  # it may be a delayed run: read again
                        self._wake.ring()  # one new run: one idle slot looks
                    elif channel == CANCEL_CHANNEL:
                        tenant, _, run_id = payload.partition("/")
                        self.executor.stop_run(tenant, run_id, "cancel")
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("wake-up listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sleep_until_work(self) -> RunRecord | None:
        """Wait for a ring, a due run or lease expiry, or a run handed to this slot."""
        loop = asyncio.get_running_loop()
        if self._due_read_at is None or loop.time() - self._due_read_at > _DUE_REUSE:
            self._due = await self.runs.next_due()
            self._due_read_at = loop.time()
        due = self._due
        timeout = _IDLE_WAKE
        if due is not None:
            timeout = max(0.01, min(_IDLE_WAKE, (due - dt.datetime.now(dt.UTC)).total_seconds()))
        return await self._wake.wait(timeout)

    def reserve_slot(self) -> asyncio.Future[RunRecord | None] | None:
        """An idle run slot of this process, for a run to start here at once.

        None when every slot is busy or the pool is stopping. The caller resolves
        the future with the run, already claimed for :attr:`owner` (status
        ``running``, its thread taken over), or with None to let the slot go.
        """
        if self._stopping:
            return None
        return self._wake.reserve()

    # -- slots -----------------------------------------------------------------------

    async def _slot(self, index: int) -> None:
        while not self._stopping:
            try:
                run = await self.runs.claim(
                    self.owner, self.settings.lease_seconds, tenants=self.tenants
                )
                handed = False
                if run is None:
                    run = await self._sleep_until_work()
                    if run is None:
                        continue
                    handed = True  # created here with its thread already taken over
                else:
                    self._wake.ring()  # there may be more: let another idle slot look
                try:
                    async for _ in self.executor.process(run, taken_over=handed):
                        pass
                finally:
                    self.completed += 1
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, GraphwrightError) as exc:
                log.error("worker slot %d: %s", index, exc)
                await asyncio.sleep(0.5)
