"""Thread state: graphwright's view (state, history) and LangGraph Server's (snapshots,
state updates, copies).

Snapshots carry public thread ids (never the checkpointer's tenant-qualified
keys) and the document's fields only; see :class:`ThreadStateAPI`. Every call
takes the tenant it acts for.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

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
from graphwright.runtime.catalog import Catalog, LoadedWorkflow
from graphwright.runtime.checkpoints import Checkpoints, thread_key
from graphwright.runtime.history import read_history
from graphwright.runtime.results import CheckpointSummary, PendingApproval, ThreadState
from graphwright.runtime.serialize import jsonable
from graphwright.store.pool import Pool
from graphwright.store.thread_copy import copy_thread
from graphwright.store.threads import ThreadRecord, ThreadStatus, ThreadStore

__all__ = ["ThreadStateAPI"]


class ThreadStateAPI:
    """Read and change the state of threads, for any tenant.

    ::

        state = await ThreadStateAPI(catalog, threads, checkpoints, pool).get_state(tenant, id)
    """

    def __init__(
        self, catalog: Catalog, threads: ThreadStore, checkpoints: Checkpoints, pool: Pool
    ) -> None:
        """Act through the workflow catalog, the thread rows and the checkpoints."""
        self.catalog = catalog
        self.threads = threads
        self.checkpoints = checkpoints
        self._pool = pool

    async def load_thread(self, tenant: str, thread: ThreadRecord) -> LoadedWorkflow | None:
        """The workflow version a thread runs, or None for a thread with no run yet."""
        if thread.workflow_id is None or thread.workflow_version is None:
            return None
        return await self.catalog.load(tenant, thread.workflow_id, thread.workflow_version)

    async def get_state(self, tenant: str, thread_id: str) -> ThreadState:
        """Current values, next nodes and pending approvals of a thread.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        thread = await self.threads.get(tenant, thread_id)
        loaded = await self.load_thread(tenant, thread)
        common: dict[str, Any] = {
            "thread_id": thread.thread_id,
            "status": thread.status,
            "run_id": thread.run_id,
            "metadata": thread.metadata,
            "error": thread.error,
            "created_at": thread.created_at,
            "updated_at": thread.updated_at,
        }
        if loaded is None:
            return ThreadState(
                **common,
                workflow_id=None,
                workflow_version=None,
                values={},
                next=(),
                approvals=(),
                checkpoint_id=None,
                interrupts=(),
            )
        snapshot = await self.checkpoints.state(loaded, tenant, thread_id)
        return ThreadState(
            **common,
            workflow_id=thread.workflow_id,
            workflow_version=thread.workflow_version,
            values=loaded.compiled.state.dump(snapshot.values),
            next=snapshot.next,
            approvals=tuple(
                PendingApproval.from_interrupt(i.id, i.value) for i in snapshot.interrupts
            ),
            checkpoint_id=snapshot.checkpoint_id,
            interrupts=tuple({"value": jsonable(i.value), "id": i.id} for i in snapshot.interrupts),
        )

    async def history(
        self, tenant: str, thread_id: str, *, limit: int = 10, before: str | None = None
    ) -> list[CheckpointSummary]:
        """Checkpoints of a thread, newest first, paged with ``limit`` / ``before``.

        Raises:
            NotFoundError: ``thread.not_found``.
        """
        thread = await self.threads.get(tenant, thread_id)
        loaded = await self.load_thread(tenant, thread)
        if loaded is None:
            return []
        return await read_history(
            self.checkpoints.graph(loaded, thread_id),
            thread_key(tenant, thread_id),
            loaded.compiled,
            limit=max(1, min(limit, 1000)),
            before=before,
        )

    async def snapshot(
        self, tenant: str, thread_id: str, checkpoint_id: str | None = None
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
        thread = await self.threads.get(tenant, thread_id)
        loaded = await self.load_thread(tenant, thread)
        if loaded is None:
            if checkpoint_id is not None:
                raise _checkpoint_not_found(thread_id, checkpoint_id)
            return None
        snap = await self.checkpoints.graph(loaded, thread_id).aget_state(
            _state_config(tenant, thread_id, checkpoint_id)
        )
        if checkpoint_id is not None and snap.metadata is None:
            raise _checkpoint_not_found(thread_id, checkpoint_id)
        return _public_snapshot(loaded, thread_id, snap)

    async def snapshot_history(
        self,
        tenant: str,
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
        thread = await self.threads.get(tenant, thread_id)
        loaded = await self.load_thread(tenant, thread)
        if loaded is None:
            return []
        graph = self.checkpoints.graph(loaded, thread_id)
        before_config = _state_config(tenant, thread_id, before) if before else None
        return [
            _public_snapshot(loaded, thread_id, snap)
            async for snap in graph.aget_state_history(
                _state_config(tenant, thread_id),
                filter=dict(metadata) if metadata else None,
                before=before_config,
                limit=max(1, min(limit, 1000)),
            )
        ]

    async def update_state(
        self,
        tenant: str,
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
        thread = await self.threads.get(tenant, thread_id)
        if thread.status == "running":
            raise WorkflowConflictError(
                f"thread {thread_id!r} is busy with run {thread.run_id!r}",
                code="thread.busy",
                details={"thread_id": thread_id, "run_id": thread.run_id},
            )
        loaded = await self.load_thread(tenant, thread)
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
        graph = self.checkpoints.graph(loaded, thread_id)
        if checkpoint_id is not None:
            await self.snapshot(tenant, thread_id, checkpoint_id)  # raises checkpoint.not_found
        try:
            written = await graph.aupdate_state(
                _state_config(tenant, thread_id, checkpoint_id), update, as_node=node
            )
        except InvalidUpdateError as exc:
            raise InvalidInputError(
                f"cannot apply the update: {exc}",
                code="state.invalid_update",
                details={"node": as_node},
            ) from None
        after = await self.checkpoints.state(loaded, tenant, thread_id)
        if after.interrupts:
            status: ThreadStatus = "interrupted"
        else:
            status = "completed" if thread.status == "completed" and not after.next else "idle"
        await self.threads.settle_status(tenant, thread_id, status)
        return str(written["configurable"]["checkpoint_id"])

    async def copy_thread(
        self, tenant: str, thread_id: str, new_thread_id: str | None = None
    ) -> ThreadRecord:
        """Copy a thread: same workflow binding and metadata, and all its checkpoints.

        Runs, events and approval records are not copied. A running source gives
        an ``idle`` copy of its last committed checkpoint.

        Raises:
            NotFoundError: ``thread.not_found``.
            WorkflowConflictError: ``thread.exists`` when ``new_thread_id`` is taken.
        """
        target = new_thread_id or str(uuid.uuid4())
        return await copy_thread(
            self._pool,
            tenant,
            thread_id,
            target,
            source_key=thread_key(tenant, thread_id),
            target_key=thread_key(tenant, target),
        )


def _state_config(tenant: str, thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable: dict[str, Any] = {"thread_id": thread_key(tenant, thread_id), "checkpoint_ns": ""}
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
