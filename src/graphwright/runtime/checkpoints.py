"""Checkpoint access: the savers, tenant-qualified thread keys, graphs bound to them.

Every thread's state is a LangGraph checkpoint keyed ``<tenant>/<thread_id>``,
so tenants never share state. ``AsyncPostgresSaver`` serialises the calls of one
instance, so a process keeps several and spreads threads over them.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from graphwright.runtime.catalog import LoadedWorkflow
from graphwright.runtime.history import Snapshot, read_state
from graphwright.store.checkpoints import delete_run_checkpoints, setup_checkpointer
from graphwright.store.pool import Pool

__all__ = ["Checkpoints", "thread_key"]


def thread_key(tenant: str, thread_id: str) -> str:
    """The checkpointer's thread id of a tenant's thread."""
    return f"{tenant}/{thread_id}"


class Checkpoints:
    """The checkpoint savers of one process."""

    def __init__(self, pool: Pool, *, savers: int) -> None:
        """Prepare ``savers`` savers on ``pool``; call :meth:`setup` before use."""
        serde = JsonPlusSerializer(allowed_msgpack_modules=None)  # strict: no arbitrary classes
        self._pool = pool
        self._savers = [AsyncPostgresSaver(pool, serde=serde) for _ in range(max(savers, 1))]

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
