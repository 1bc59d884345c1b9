"""Threads: ``/threads...`` of the LangGraph Server API (create, search, state, history, copy).

Thread ids in requests and responses are always the public ones; the
checkpointer's tenant-qualified keys stay inside the engine.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from langgraph.types import StateSnapshot
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from graphwright.api.access import scoped
from graphwright.api.bounds import MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.routes.thread_hygiene import ThreadTTLBody, read_ttl, write_ttl
from graphwright.api.thread_views import select_fields, state_json, store_statuses, thread_json
from graphwright.errors import InvalidInputError, NotFoundError, WorkflowConflictError
from graphwright.runtime.process import Runtime as Services
from graphwright.store import thread_search
from graphwright.store.thread_search import ThreadFilter
from graphwright.store.threads import ThreadRecord

__all__ = ["router"]

router = APIRouter(tags=["threads"], route_class=GuardedRoute)

THREAD_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_STATE_READS = 8  # concurrent checkpoint reads when a search page needs values

ApiStatus = Literal["idle", "busy", "interrupted", "error"]
Select = Annotated[list[str] | None, Field(max_length=50)]


class _Body(BaseModel):
    # Unknown keys are ignored so newer SDKs keep working; known keys are typed.
    model_config = ConfigDict(extra="ignore")


class CheckpointBody(_Body):
    """A checkpoint reference (``Checkpoint`` of the SDK)."""

    thread_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = Field(default=None, max_length=200)
    checkpoint_map: dict[str, Any] | None = None


class ThreadCreateBody(_Body):
    """Body of ``POST /threads``; ``metadata.graph_id`` binds the thread to that workflow."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    supersteps: list[Any] | None = Field(default=None, description="Not supported.")
    ttl: ThreadTTLBody | None = None


class ThreadPatchBody(_Body):
    """Body of ``PATCH /threads/{id}``: metadata merged into the thread's."""

    metadata: dict[str, Any] | None = None
    ttl: ThreadTTLBody | None = None


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # a date at the end of the calendar with an offset
        raise ValueError("the time is out of range") from exc


# graphwright's time filters (not in the LangGraph SDK, so optional): ISO 8601 with an offset.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)] | None


def _time_filter(what: str) -> Any:
    return Field(default=None, description=f"graphwright extension: {what} (ISO 8601, offset).")


class ThreadCountBody(_Body):
    """Filters of ``POST /threads/count``."""

    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = Field(default=None, description="Not supported.")
    status: ApiStatus | None = None
    created_after: Instant = _time_filter("threads created at or after this time")
    created_before: Instant = _time_filter("threads created before this time")
    updated_after: Instant = _time_filter("threads updated at or after this time")
    updated_before: Instant = _time_filter("threads updated before this time")

    def to_filter(
        self, tenant: str, request: Request, ids: Sequence[str] | None = None
    ) -> ThreadFilter:
        """The store filter: the caller's scope applied to the metadata."""
        return ThreadFilter(
            tenant,
            statuses=store_statuses(self.status) if self.status else None,
            metadata=scoped(request, self.metadata),
            ids=ids,
            created_after=self.created_after,
            created_before=self.created_before,
            updated_after=self.updated_after,
            updated_before=self.updated_before,
        )


class ThreadSearchBody(ThreadCountBody):
    """Body of ``POST /threads/search``."""

    ids: list[str] | None = Field(default=None, max_length=1000)
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] = (
        "created_at"
    )
    sort_order: Literal["asc", "desc"] = "desc"
    select: Select = None
    extract: dict[str, str] | None = Field(default=None, description="Not supported.")


class StateAtCheckpointBody(_Body):
    """Body of ``POST /threads/{id}/state/checkpoint``."""

    checkpoint: CheckpointBody
    subgraphs: bool = False
    select: Select = None


class StateUpdateBody(_Body):
    """Body of ``POST /threads/{id}/state``."""

    values: dict[str, Any] | None = None
    as_node: str | None = Field(default=None, max_length=200)
    checkpoint: CheckpointBody | None = None
    checkpoint_id: str | None = Field(default=None, max_length=200)


class HistoryBody(_Body):
    """Body of ``POST /threads/{id}/history``."""

    limit: int = Field(default=10, ge=1, le=1000)
    before: str | CheckpointBody | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointBody | None = None
    select: Select = None


def _refuse_unsupported(**options: Any) -> None:
    """Reject options graphwright does not implement (rather than ignoring them)."""
    given = [name for name, value in options.items() if value]
    if given:
        problems = [{"pointer": f"/{name}", "message": "not supported"} for name in given]
        raise InvalidInputError(
            f"option {given[0]!r} is not supported by graphwright",
            code="request.unsupported",
            details={"problems": problems},
        )


def _root_namespace(*checkpoints: CheckpointBody | str | None) -> None:
    for checkpoint in checkpoints:
        if isinstance(checkpoint, CheckpointBody) and checkpoint.checkpoint_ns:
            raise InvalidInputError(
                "subgraph checkpoints (a non-empty checkpoint_ns) are not supported",
                code="request.unsupported",
                details={
                    "problems": [
                        {"pointer": "/checkpoint/checkpoint_ns", "message": "must be empty"}
                    ]
                },
            )


def _checkpoint_id(checkpoint: CheckpointBody | str | None) -> str | None:
    if isinstance(checkpoint, CheckpointBody):
        return checkpoint.checkpoint_id
    return checkpoint or None


async def _thread(services: Services, tenant: str, thread_id: str) -> dict[str, Any]:
    record = await services.threads.get(tenant, thread_id)
    return thread_json(record, await services.states.snapshot(tenant, thread_id))


async def _snapshots(
    services: Services, tenant: str, records: Sequence[ThreadRecord]
) -> list[StateSnapshot | None]:
    """Current snapshots of a page of threads (None for one deleted meanwhile)."""
    limit = asyncio.Semaphore(_STATE_READS)
    state = services.states

    async def one(record: ThreadRecord) -> StateSnapshot | None:
        if record.workflow_id is None:
            return None
        async with limit:
            try:
                return await state.snapshot(tenant, record.thread_id)
            except NotFoundError:
                return None

    return list(await asyncio.gather(*(one(r) for r in records)))


# -- threads ---------------------------------------------------------------------------


@router.post(
    "/threads",
    responses={
        404: {"description": "`workflow.not_found`: `metadata.graph_id` names no workflow."},
        409: {"description": "`thread.exists` (unless `if_exists` is `do_nothing`)."},
    },
)
async def create_thread(
    body: ThreadCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> dict[str, Any]:
    """Create a thread; with ``if_exists=do_nothing`` an existing one is returned instead."""
    _refuse_unsupported(supersteps=body.supersteps)
    metadata = scoped(request, body.metadata) or {}
    graph_id = metadata.get("graph_id")
    workflow_id: str | None = None
    version: int | None = None
    if isinstance(graph_id, str):
        workflow_id, version = (
            graph_id,
            (await services.catalog.store.get(tenant, graph_id)).version,
        )
    thread_id = body.thread_id or str(uuid.uuid4())
    try:
        record = await services.threads.create(
            tenant, thread_id, workflow_id=workflow_id, workflow_version=version, metadata=metadata
        )
    except WorkflowConflictError as exc:
        if exc.code != "thread.exists" or body.if_exists != "do_nothing":
            raise
        existing = await services.threads.get(tenant, thread_id)
        if scoped(request, existing.metadata) != existing.metadata:
            raise  # out of the caller's scope: not handed out
        return await _thread(services, tenant, thread_id)
    created = thread_json(record, None)
    if body.ttl is not None:
        created["ttl"] = await write_ttl(services, tenant, thread_id, body.ttl)
    return created


@router.post("/threads/search")
async def search_threads(
    body: ThreadSearchBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> list[dict[str, Any]]:
    """Threads matching metadata (containment), status, ids and times, one page."""
    _refuse_unsupported(values=body.values, extract=body.extract)
    records = await thread_search.search(
        services.pool,
        body.to_filter(tenant, request, body.ids),
        limit=body.limit,
        offset=body.offset,
        sort_by="updated_at" if body.sort_by == "state_updated_at" else body.sort_by,
        sort_order=body.sort_order,
    )
    select = body.select
    needs_state = not select or any(
        s in ("values", "interrupts") or s.startswith("values.") for s in select
    )
    snapshots = (
        await _snapshots(services, tenant, records) if needs_state else [None] * len(records)
    )
    return [
        select_fields(thread_json(r, s), select) for r, s in zip(records, snapshots, strict=True)
    ]


@router.post("/threads/count")
async def count_threads(
    body: ThreadCountBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> int:
    """How many threads match the filters of a search."""
    _refuse_unsupported(values=body.values)
    return await thread_search.count(services.pool, body.to_filter(tenant, request))


@router.get("/threads/{thread_id}")
async def get_thread(
    thread_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    include: Annotated[str | None, Query(pattern=r"^ttl(,ttl)*$")] = None,
) -> dict[str, Any]:
    """One thread with its current values and pending interrupts (``include=ttl``: its TTL)."""
    thread = await _thread(services, tenant, thread_id)
    if include:
        thread["ttl"] = await read_ttl(services, tenant, thread_id)
    return thread


@router.patch(
    "/threads/{thread_id}",
    response_model=None,
    responses={204: {"description": "`Prefer: return=minimal`: updated, no body."}},
)
async def patch_thread(
    thread_id: str,
    body: ThreadPatchBody,
    services: ServicesDep,
    tenant: TenantDep,
    request: Request,
    prefer: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | Response:
    """Merge metadata into a thread's; ``Prefer: return=minimal`` answers 204."""
    if body.metadata:
        # A scoped caller cannot move a thread out of its scope.
        metadata = scoped(request, body.metadata) or {}
        await services.threads.update_metadata(tenant, thread_id, metadata)
    ttl = None if body.ttl is None else await write_ttl(services, tenant, thread_id, body.ttl)
    if prefer is not None and "return=minimal" in prefer:
        await services.threads.get(tenant, thread_id)  # 404 for an unknown thread
        return Response(status_code=204)
    thread = await _thread(services, tenant, thread_id)
    if ttl is not None:
        thread["ttl"] = ttl
    return thread


@router.delete(
    "/threads/{thread_id}",
    status_code=204,
    responses={409: {"description": "`thread.busy`: a run is pending or running."}},
)
async def delete_thread(thread_id: str, services: ServicesDep, tenant: TenantDep) -> Response:
    """Delete a thread with its checkpoints, runs, events and approvals (409 while busy)."""
    await services.threads.delete_with_runs(tenant, thread_id)
    await services.checkpoints.delete_thread(tenant, thread_id)
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy")
async def copy_thread(thread_id: str, services: ServicesDep, tenant: TenantDep) -> dict[str, Any]:
    """Copy a thread (workflow binding, metadata and every checkpoint) to a new thread id."""
    record = await services.states.copy_thread(tenant, thread_id)
    return thread_json(record, await services.states.snapshot(tenant, record.thread_id))


# -- state ---------------------------------------------------------------------------------


@router.get("/threads/{thread_id}/state")
async def get_state(
    thread_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    subgraphs: bool = False,
    select: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """The thread's current state (``ThreadState``)."""
    snapshot = await services.states.snapshot(tenant, thread_id)
    return select_fields(state_json(snapshot, thread_id), select)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_at(
    thread_id: str,
    checkpoint_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    subgraphs: bool = False,
    select: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """The thread's state at a past checkpoint."""
    snapshot = await services.states.snapshot(tenant, thread_id, checkpoint_id)
    return select_fields(state_json(snapshot, thread_id), select)


@router.post("/threads/{thread_id}/state/checkpoint")
async def post_state_at(
    thread_id: str, body: StateAtCheckpointBody, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """The thread's state at the given checkpoint (current state without a checkpoint id)."""
    _root_namespace(body.checkpoint)
    snapshot = await services.states.snapshot(tenant, thread_id, body.checkpoint.checkpoint_id)
    return select_fields(state_json(snapshot, thread_id), body.select)


@router.post(
    "/threads/{thread_id}/state",
    responses={
        409: {"description": "`thread.unbound` (no workflow yet) or `thread.busy`."},
        422: {"description": "`state.unknown_node`, `state.invalid_update`, `request.*`."},
    },
)
async def update_state(
    thread_id: str, body: StateUpdateBody, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """Write values as if ``as_node`` had run; returns the new checkpoint."""
    _root_namespace(body.checkpoint)
    checkpoint_id = _checkpoint_id(body.checkpoint) or body.checkpoint_id
    await services.runs.forget_new_thread(tenant, thread_id)
    new_id = await services.states.update_state(
        tenant, thread_id, body.values, as_node=body.as_node, checkpoint_id=checkpoint_id
    )
    return {
        "checkpoint": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": new_id,
            "checkpoint_map": None,
        }
    }


@router.post("/threads/{thread_id}/history")
async def history(
    thread_id: str, body: HistoryBody, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    """Past states of the thread, newest first, one page (``limit``, ``before``)."""
    _root_namespace(body.checkpoint, body.before)
    snapshots = await services.states.snapshot_history(
        tenant,
        thread_id,
        limit=body.limit,
        before=_checkpoint_id(body.before),
        metadata=body.metadata,
    )
    return [select_fields(state_json(s, thread_id), body.select) for s in snapshots]
