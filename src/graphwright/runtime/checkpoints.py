"""Checkpoint access: the savers, tenant-qualified thread keys, graphs bound to them.

Every thread's state is a LangGraph checkpoint keyed ``<tenant>/<thread_id>``,
so tenants never share state. ``AsyncPostgresSaver`` serialises the calls of one
instance, so a process keeps several and spreads threads over them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from graphwright.runtime.catalog import LoadedWorkflow
from graphwright.runtime.history import Snapshot, read_state
from graphwright.store.checkpoints import delete_run_checkpoints, setup_checkpointer
from graphwright.store.pool import OUTAGE_ERRORS, Pool

__all__ = ["Checkpoints", "thread_key"]


def thread_key(tenant: str, thread_id: str) -> str:
    """The checkpointer's thread id of a tenant's thread."""
    return f"{tenant}/{thread_id}"


class PatientSaver(AsyncPostgresSaver):
    """A saver whose writes wait out a short database outage instead of failing the step.

    A node that finished while PostgreSQL restarts keeps its result: the write of
    its checkpoint (or of its pending writes) is retried with backoff for up to
    ``patience`` seconds, so the node does not run again when the run continues.
    Both writes are upserts, so a retry after a lost acknowledgement is harmless.
    The fence still applies on every attempt (a refused write is not an outage and
    is never retried), and the executor cancels the run, retries included, once
    its lease cannot be renewed: an outage longer than that ends in a re-claim.
    """

    def __init__(self, pool: Pool, *, serde: JsonPlusSerializer, patience: float) -> None:
        super().__init__(pool, serde=serde)
        self.patience = patience

    async def _patiently(self, write: Any) -> Any:
        deadline = time.monotonic() + self.patience
        pause = 0.05
        while True:
            try:
                return await write()
            except OUTAGE_ERRORS:
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint, waiting out a short outage."""
        saved: RunnableConfig = await self._patiently(
            lambda: super(PatientSaver, self).aput(config, checkpoint, metadata, new_versions)
        )
        return saved

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a task's writes, waiting out a short outage."""
        await self._patiently(
            lambda: super(PatientSaver, self).aput_writes(config, writes, task_id, task_path)
        )


class Checkpoints:
    """The checkpoint savers of one process."""

    def __init__(self, pool: Pool, *, savers: int, patience: float = 0.0) -> None:
        """Prepare ``savers`` savers on ``pool``; call :meth:`setup` before use.

        ``patience``: how long a checkpoint write waits out an outage (seconds).
        """
        serde = JsonPlusSerializer(allowed_msgpack_modules=None)  # strict: no arbitrary classes
        self._pool = pool
        self._savers = [
            PatientSaver(pool, serde=serde, patience=patience) for _ in range(max(savers, 1))
        ]

    async def setup(self) -> None:
        """Create or migrate the checkpoint tables (one process at a time)."""
        await setup_checkpointer(self._pool, self._savers[0].setup)

    def graph(self, loaded: LoadedWorkflow, thread_id: str) -> Any:
        """``loaded``'s LangGraph graph bound to the saver of ``thread_id``."""
        return loaded.graph(self._savers[hash(thread_id) % len(self._savers)])

    async def state(self, loaded: LoadedWorkflow, tenant: str, thread_id: str) -> Snapshot:
        """The latest checkpoint of a thread (pending interrupts included)."""
        return await read_state(self.graph(loaded, thread_id), thread_key(tenant, thread_id))

    async def delete_thread(self, tenant: str, thread_id: str) -> None:
        """Delete every checkpoint of a thread."""
        await self._savers[0].adelete_thread(thread_key(tenant, thread_id))

    async def delete_run(self, tenant: str, thread_id: str, run_id: str) -> int:
        """Delete the checkpoints one run wrote on a thread (a rollback)."""
        return await delete_run_checkpoints(self._pool, thread_key(tenant, thread_id), run_id)
