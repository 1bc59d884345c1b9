"""The Store as LangGraph sees it: one tenant's items behind ``BaseStore``, and the TTL sweeper.

Each compiled workflow of a tenant is bound to a :class:`TenantStore` of that
tenant (:class:`~graphwright.runtime.catalog.Catalog`), so node code reaches the
same items as the ``/store`` API with LangGraph's own ``get_store()``::

    from langgraph.config import get_store

    async def remember(topic: str) -> dict:
        store = get_store()
        await store.aput(("notes", topic), "last", {"seen": True})
        return {}

The tenant is fixed when the store is made; nothing a node passes can name another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from langgraph.store.base import (
    BaseStore,
    GetOp,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
)

from graphwright.errors import InvalidInputError
from graphwright.runtime.background import BackgroundLoop
from graphwright.store.items import SWEEP_BATCH, StoreItems
from graphwright.store.pool import OUTAGE_ERRORS

__all__ = ["StoreSweeper", "TenantStore"]

log = logging.getLogger("graphwright.store")

_RETRY_FIRST = 0.2
_RETRY_MAX = 5.0
_SWEEP_ERRORS: tuple[type[Exception], ...] = (*OUTAGE_ERRORS, psycopg.Error)


class TenantStore(BaseStore):
    """A LangGraph ``BaseStore`` on one tenant's items (TTL yes, semantic search no).

    The async methods (``aput``, ``aget``, ``asearch``, ...) are the ones to use in
    async node code. The sync ones work from sync node code, which graphwright runs
    in a worker thread; called on the event loop's own thread they raise
    ``RuntimeError`` instead of blocking it.

    Errors are those of :class:`~graphwright.store.items.StoreItems`
    (``store.*`` :class:`~graphwright.errors.InvalidInputError`), and LangGraph's own
    ``InvalidNamespaceError`` for labels it checks first. A database outage is waited
    out, not raised.
    """

    supports_ttl = True
    __slots__ = ("_items", "_loop", "tenant")

    def __init__(
        self, items: StoreItems, tenant: str, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Bind ``items`` to ``tenant``; sync calls run on ``loop`` (default: the running one)."""
        self._items = items
        self.tenant = tenant
        self._loop = loop or asyncio.get_running_loop()

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; one result per op (None for puts and deletes).

        While the database is unreachable each op is retried, like every other
        outage a run meets, until it answers or the run is stopped: a node is not
        failed by an outage (each op is idempotent, so a retry after a lost answer
        is safe).
        """
        return [await self._patiently(op) for op in ops]

    async def _patiently(self, op: Op) -> Result:
        delay = _RETRY_FIRST
        while True:
            try:
                return await self._run(op)
            except OUTAGE_ERRORS as exc:
                log.warning(
                    "store of tenant %s: database unavailable (%s); retrying", self.tenant, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` from a thread other than the event loop's.

        Raises:
            RuntimeError: called on the event loop's thread (use the async methods).
        """
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError(
                "synchronous Store calls on the event loop would block it: "
                "use aput/aget/asearch/adelete/alist_namespaces in async node code"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(list(ops)), self._loop).result()

    async def _run(self, op: Op) -> Result:
        items, tenant = self._items, self.tenant
        if isinstance(op, GetOp):
            return await items.get(tenant, op.namespace, op.key, refresh_ttl=op.refresh_ttl)
        if isinstance(op, PutOp):
            if op.value is None:
                await items.delete(tenant, op.namespace, op.key)
            else:
                await items.put(tenant, op.namespace, op.key, op.value, ttl=op.ttl)
            return None
        if isinstance(op, SearchOp):
            return await items.search(
                tenant,
                op.namespace_prefix,
                filter=op.filter,
                limit=op.limit,
                offset=op.offset,
                query=op.query,
                refresh_ttl=op.refresh_ttl,
            )
        if isinstance(op, ListNamespacesOp):
            found: dict[str, Any] = {}
            for condition in op.match_conditions or ():
                if condition.match_type in found:
                    raise InvalidInputError(
                        f"one {condition.match_type} condition per listing",
                        code="store.invalid_namespace",
                    )
                found[condition.match_type] = tuple(condition.path)
            return await items.list_namespaces(
                tenant,
                prefix=found.get("prefix"),
                suffix=found.get("suffix"),
                max_depth=op.max_depth,
                limit=op.limit,
                offset=op.offset,
            )
        raise TypeError(f"unknown store operation: {type(op).__name__}")


class StoreSweeper(BackgroundLoop):
    """Deletes expired Store items in the background, :data:`SWEEP_BATCH` per statement.

    Expired items are invisible already; this only reclaims their rows. Several
    processes may sweep at once (they skip each other's rows).
    """

    task_name = "graphwright-store-sweeper"

    def __init__(
        self, items: StoreItems, *, interval_seconds: float, batch: int = SWEEP_BATCH
    ) -> None:
        """Sweep every ``interval_seconds``, ``batch`` rows per statement."""
        self.items = items
        self.interval_seconds = interval_seconds
        self.batch = batch
        self.swept = 0
        super().__init__()

    async def sweep(self) -> int:
        """Delete expired items, batch after batch, until none is left; returns how many."""
        total = 0
        while True:
            removed = await self.items.sweep_expired(batch=self.batch)
            total += removed
            if removed < self.batch:
                break
            await asyncio.sleep(0)  # let other work in between batches
        self.swept += total
        return total

    async def _run(self) -> None:
        while True:
            try:
                removed = await self.sweep()
                if removed:
                    log.info("swept %d expired store items", removed)
            except _SWEEP_ERRORS as exc:
                log.warning("store TTL sweep failed (retried later): %s", exc)
            await asyncio.sleep(self.interval_seconds)
