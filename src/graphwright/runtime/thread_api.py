"""LangGraph Server state operations on threads: snapshots, state updates, copies.

Snapshots carry public thread ids (never the checkpointer's tenant-qualified
keys) and the document's fields only; see :class:`ThreadStateAPI`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from langgraph.errors import InvalidUpdateError
from langgraph.types import StateSnapshot

from graphwright.errors import (
    InvalidInputError,
    NotFoundError,
    RunStateError,
    WorkflowConflictError,
)
from graphwright.graphs.spec import MapNodeSpec, WorkflowSpec
from graphwright.nodes.map import gather_name
from graphwright.runtime.catalog import LoadedWorkflow
from graphwright.runtime.history import read_state
from graphwright.store.thread_copy import copy_thread
from graphwright.store.threads import ThreadRecord, ThreadStatus

if TYPE_CHECKING:
    from graphwright.runtime.engine import Engine

__all__ = ["ThreadStateAPI"]


class ThreadStateAPI:
    """The LangGraph Server state API of an (open) engine, for the engine's tenant.

    ::

        snapshot = await ThreadStateAPI(engine.for_tenant(tenant)).snapshot(thread_id)
    """

    def __init__(self, engine: Engine) -> None:
        """Act through ``engine`` (its tenant, thread store, catalog and savers)."""
        self._engine = engine

    async def snapshot(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> StateSnapshot | None:
        """LangGraph's snapshot of a thread: the latest, or the one at ``checkpoint_id``.

        Values hold the document's fields only; configs carry the public thread id
        and checkpoint metadata drops graphwright's internal ``gw_*`` keys. A thread
        bound to a workflow but never run has a snapshot with no checkpoint.

        Returns:
            The snapshot, or None when the thread has no workflow yet.

        Raises:
            NotFoundError: ``thread.not_found``; ``checkpoint.not_found`` when the
                thread has no checkpoint ``checkpoint_id``.
        """
        engine = self._engine
        thread = await engine.threads.get(engine.tenant, thread_id)
        loaded = await engine._load_thread(thread)
        if loaded is None:
            if checkpoint_id is not None:
                raise _checkpoint_not_found(thread_id, checkpoint_id)
            return None
        snap = await engine._graph(loaded, thread_id).aget_state(
            self._state_config(thread_id, checkpoint_id)
        )
        if checkpoint_id is not None and snap.metadata is None:
            raise _checkpoint_not_found(thread_id, checkpoint_id)
        return _public_snapshot(loaded, thread_id, snap)

    async def snapshot_history(
        self,
        thread_id: str,
        *,
        limit: int = 10,
        before: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[StateSnapshot]:
        """One page of a thread's snapshots, newest first (see :meth:`snapshot`).

        Args:
            thread_id: The thread.
            limit: Page size (clamped to 1..1000); the history is never read whole.
            before: Only checkpoints older than this checkpoint id.
            metadata: Only checkpoints whose metadata contains this object.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        engine = self._engine
        thread = await engine.threads.get(engine.tenant, thread_id)
        loaded = await engine._load_thread(thread)
        if loaded is None:
            return []
        graph = engine._graph(loaded, thread_id)
        before_config = self._state_config(thread_id, before) if before else None
        return [
            _public_snapshot(loaded, thread_id, snap)
            async for snap in graph.aget_state_history(
                self._state_config(thread_id),
                filter=dict(metadata) if metadata else None,
                before=before_config,
                limit=max(1, min(limit, 1000)),
            )
        ]

    async def update_state(
        self,
        thread_id: str,
        values: Mapping[str, Any] | None,
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> str:
        """Write ``values`` to a thread as if node ``as_node`` had just run.

        Values are validated like a node's update (known fields, types fitting the
        field and its reducer) and go through the reducers. ``checkpoint_id`` forks
        from a past checkpoint. A thread that is not running is then ``interrupted``
        if interrupts are pending, else ``idle`` (``completed`` stays when nothing
        is left to run).

        Returns:
            The id of the new checkpoint.

        Raises:
            NotFoundError: ``thread.not_found``, ``checkpoint.not_found``.
            WorkflowConflictError: ``thread.busy`` while a run executes on the thread.
            RunStateError: ``thread.unbound`` when the thread has no workflow yet.
            InvalidInputError: ``state.invalid_update`` (bad values, or no ``as_node``
                when LangGraph cannot tell which node the update comes from);
                ``state.unknown_node``.
        """
        engine = self._engine
        thread = await engine.threads.get(engine.tenant, thread_id)
        if thread.status == "running":
            raise WorkflowConflictError(
                f"thread {thread_id!r} is busy with run {thread.run_id!r}",
                code="thread.busy",
                details={"thread_id": thread_id, "run_id": thread.run_id},
            )
        loaded = await engine._load_thread(thread)
        if loaded is None:
            raise RunStateError(
                f"thread {thread_id!r} has no workflow yet: run it first, or create it with "
                "a graph_id",
                code="thread.unbound",
                details={"thread_id": thread_id},
            )
        node = _update_node(loaded.compiled.spec, as_node)
        update = (
            None
            if values is None
            else loaded.compiled.state.validate_update(as_node or "update_state", values)
        )
        graph = engine._graph(loaded, thread_id)
        if checkpoint_id is not None:
            await self.snapshot(thread_id, checkpoint_id)  # raises checkpoint.not_found
        try:
            written = await graph.aupdate_state(
                self._state_config(thread_id, checkpoint_id), update, as_node=node
            )
        except InvalidUpdateError as exc:
            raise InvalidInputError(
                f"cannot apply the update: {exc}",
                code="state.invalid_update",
                details={"node": as_node},
            ) from None
        after = await read_state(graph, engine._key(thread_id))
        if after.interrupts:
            status: ThreadStatus = "interrupted"
        else:
            status = "completed" if thread.status == "completed" and not after.next else "idle"
        await engine.threads.settle_status(engine.tenant, thread_id, status)
        return str(written["configurable"]["checkpoint_id"])

    async def copy_thread(self, thread_id: str, new_thread_id: str | None = None) -> ThreadRecord:
        """Copy a thread: same workflow binding and metadata, and all its checkpoints.

        Runs, events and approval records are not copied. A running source gives
        an ``idle`` copy of its last committed checkpoint.

        Raises:
            NotFoundError: ``thread.not_found``.
            WorkflowConflictError: ``thread.exists`` when ``new_thread_id`` is taken.
        """
        engine = self._engine
        target = new_thread_id or str(uuid.uuid4())
        return await copy_thread(
            engine._database.pool,
            engine.tenant,
            thread_id,
            target,
            source_key=engine._key(thread_id),
            target_key=engine._key(target),
        )

    def _state_config(self, thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
        configurable: dict[str, Any] = {
            "thread_id": self._engine._key(thread_id),
            "checkpoint_ns": "",
        }
        if checkpoint_id is not None:
            configurable["checkpoint_id"] = checkpoint_id
        return {"configurable": configurable}


def _public_snapshot(loaded: LoadedWorkflow, thread_id: str, snap: StateSnapshot) -> StateSnapshot:
    """The snapshot as a client may see it: public ids, document fields only."""
    values = snap.values if isinstance(snap.values, dict) else {}
    metadata: Any = snap.metadata
    if metadata is not None:
        metadata = {k: v for k, v in metadata.items() if not str(k).startswith("gw_")}
    public: StateSnapshot = snap._replace(
        values=loaded.compiled.state.dump(values) if snap.metadata is not None else {},
        config=cast(Any, _public_config(snap.config, thread_id)),
        parent_config=cast(Any, _public_config(snap.parent_config, thread_id)),
        metadata=metadata,
    )
    return public


def _checkpoint_not_found(thread_id: str, checkpoint_id: str) -> NotFoundError:
    return NotFoundError(
        f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}",
        code="checkpoint.not_found",
        details={"thread_id": thread_id, "checkpoint_id": checkpoint_id},
    )


def _public_config(config: Any, thread_id: str) -> dict[str, Any] | None:
    """A checkpoint config with the public thread id instead of the tenant-qualified key."""
    if not config:
        return None
    configurable = dict(config.get("configurable") or {})
    configurable["thread_id"] = thread_id
    return {"configurable": configurable}


def _update_node(spec: WorkflowSpec, as_node: str | None) -> str | None:
    """LangGraph's node for ``as_node``: a map node's update comes from its gather step.

    Raises:
        InvalidInputError: ``state.unknown_node``.
    """
    if as_node is None:
        return None
    node = spec.nodes.get(as_node)
    if node is None:
        raise InvalidInputError(
            f"as_node {as_node!r} is not a node of workflow {spec.id!r}",
            code="state.unknown_node",
            details={"node": as_node, "nodes": list(spec.nodes)},
        )
    return gather_name(as_node) if isinstance(node, MapNodeSpec) else as_node
