"""Runs: ``/threads/{id}/runs...`` and stateless ``/runs...`` (LangGraph Server API)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from graphwright.api.access import current_principal, deciding_label, scoped
from graphwright.api.bounds import MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.schemas import RunCreateBody, run_json
from graphwright.api.sse import EventStreamResponse, close, encode, frames
from graphwright.auth.principal import AuthError
from graphwright.errors import (
    GraphwrightError,
    InvalidInputError,
    NotFoundError,
    WorkflowConflictError,
)
from graphwright.runtime.approvals import deciding_as
from graphwright.runtime.process import Runtime as Services
from graphwright.runtime.run_request import RunRequest
from graphwright.store.events import StoredEvent
from graphwright.store.runs import RunRecord

__all__ = ["router"]

router = APIRouter(tags=["runs"], route_class=GuardedRoute)

log = logging.getLogger("graphwright.api.runs")

LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]

SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One server-sent event (the stream is a sequence of them).",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "description": "Stream mode (`values`, ...) or `metadata`."},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "description": "Send the last one as `Last-Event-ID`."},
    },
}
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `event:` (stream mode), `data:` (JSON), `id:`.",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    }
}
CREATE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`workflow.not_found` (`assistant_id`), `thread.not_found`."},
    409: {
        "description": "`run.busy`, `thread.busy`, `thread.workflow_mismatch`, "
        "`run.nothing_to_resume`, `approval.*`."
    },
}
"""Problems of run creation beyond those of every route."""


def _location(run: RunRecord) -> str:
    return f"/threads/{run.thread_id}/runs/{run.run_id}"


def _after(header: str | None, query: str | None) -> int:
    raw = header if header is not None else query
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(
            f"Last-Event-ID must be an event number, got {raw!r}", code="stream.invalid_event_id"
        ) from None
    return max(value, 0)


def _stream(
    services: Services,
    tenant: str,
    run: RunRecord,
    *,
    headers: dict[str, str],
    after: int = 0,
    cancel_on_disconnect: bool = False,
    modes: frozenset[str] | None = None,
) -> EventStreamResponse:
    """A run's events as SSE, until the run ended and every event was sent.

    On SIGTERM the stream may go on for ``GW_DRAIN_SECONDS`` (the run may end meanwhile),
    then it is cut and the client resumes elsewhere with ``Last-Event-ID``.
    """
    if modes is None:
        modes = frozenset(run.payload.stream_mode)
    services.streams.admit()  # a full server answers 503 before the stream starts
    events = services.streams.follow(tenant, run.run_id, after=after, modes=modes)
    return EventStreamResponse(
        frames(events),
        headers=headers,
        settings=services.settings,
        shutdown_grace=services.settings.drain_seconds,
        on_client_close=_canceller(services, tenant, run) if cancel_on_disconnect else None,
    )


def _canceller(services: Services, tenant: str, run: RunRecord) -> Callable[[], Awaitable[None]]:
    """What a client's disconnect does to a run created with ``on_disconnect=cancel``."""

    async def cancel() -> None:
        try:
            await services.run_service.cancel(tenant, run.thread_id, run.run_id)
        except (NotFoundError, WorkflowConflictError):
            pass  # it ended, or was deleted, before the client went away
        except GraphwrightError as exc:
            log.warning("could not cancel run %s after its client left: %s", run.run_id, exc)

    return cancel


def _stream_response(
    services: Services,
    tenant: str,
    run: RunRecord,
    body: RunCreateBody | None = None,
    *,
    stateless: bool = False,
) -> EventStreamResponse:
    request = body.to_request(stateless=stateless) if body is not None else None
    headers = {"Content-Location": _location(run)}
    if body is not None and body.stream_resumable:
        headers["Location"] = _location(run) + "/stream"
    cancel = request is not None and request.on_disconnect == "cancel"
    return _stream(services, tenant, run, headers=headers, cancel_on_disconnect=cancel)


def _wait_request(body: RunCreateBody, *, stateless: bool) -> RunRequest:
    """A ``/wait`` run logs no ``values`` snapshots unless the client asked for modes:
    its result is kept on the run, and ``progress`` events are logged anyway."""
    request = body.to_request(stateless=stateless)
    if "stream_mode" not in body.model_fields_set:
        request = dataclasses.replace(request, stream_mode=())
    return request


def _as_caller(request: Request, run: RunRequest) -> RunRequest:
    """The run request as the caller may make it: deciding a gate (``command.resume``)
    needs the approver role, and a new thread gets the caller's metadata scope."""
    principal = current_principal(request)
    if run.command and "resume" in run.command and not principal.has("approver"):
        raise AuthError(
            "resuming an approval gate decides it: this needs the approver role",
            code="auth.forbidden",
            details={"required": "approver"},
        )
    metadata = scoped(request, run.thread_metadata)
    if metadata is not None and metadata != run.thread_metadata:
        run = dataclasses.replace(run, thread_metadata=metadata)
    return run


def _deciding(request: Request) -> contextlib.AbstractContextManager[None]:
    """Record the authenticated caller as who decides what a resume answers."""
    return deciding_as(deciding_label(current_principal(request)))


# -- runs on a thread -------------------------------------------------------------------


@router.post("/threads/{thread_id}/runs", responses=CREATE_PROBLEMS)
async def create_run(
    thread_id: str, body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> JSONResponse:
    """Create a background run."""
    with _deciding(request):
        run = await services.run_service.create(
            tenant, thread_id, _as_caller(request, body.to_request())
        )
    return JSONResponse(run_json(run), headers={"Content-Location": _location(run)})


@router.post(
    "/threads/{thread_id}/runs/stream",
    response_model=None,
    responses={**SSE_RESPONSE, **CREATE_PROBLEMS},
)
async def stream_run(
    thread_id: str, body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> EventStreamResponse:
    """Create a run and stream its events (SSE)."""
    with _deciding(request):
        run = await services.run_service.create(
            tenant, thread_id, _as_caller(request, body.to_request())
        )
    return _stream_response(services, tenant, run, body)


@router.post("/threads/{thread_id}/runs/wait", responses=CREATE_PROBLEMS)
async def wait_run(
    thread_id: str, body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> JSONResponse:
    """Create a run and return its final values (with ``__interrupt__`` / ``__error__``)."""
    with _deciding(request):
        run, result = await services.run_service.create_and_wait(
            tenant, thread_id, _as_caller(request, _wait_request(body, stateless=False))
        )
    return JSONResponse(result, headers={"Content-Location": _location(run)})


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: Literal["pending", "running", "success", "error", "timeout", "interrupted"]
    | None = None,
) -> list[dict[str, Any]]:
    """Runs of a thread, newest first."""
    await services.threads.get(tenant, thread_id)
    runs = await services.runs.list(tenant, thread_id, status=status, limit=limit, offset=offset)
    return [run_json(r) for r in runs]


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """One run."""
    return run_json(await services.runs.get(tenant, run_id, thread_id=thread_id))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(
    thread_id: str, run_id: str, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """Wait for a run to end; return the thread's final values."""
    return await services.run_service.wait_body(tenant, run_id, thread_id=thread_id)


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream", response_model=None, responses=SSE_RESPONSE
)
async def join_stream(
    thread_id: str,
    run_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    last_event_id: LastEventId = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id")] = None,
    cancel_on_disconnect: bool = False,
    stream_mode: Annotated[list[str] | None, Query()] = None,
) -> EventStreamResponse:
    """Stream a run's events; with ``Last-Event-ID`` only those after it.

    ``stream_mode`` narrows the run's modes (``progress`` is always available).
    """
    run = await services.runs.get(tenant, run_id, thread_id=thread_id)
    after = _after(last_event_id, last_event_id_query)
    modes = frozenset(stream_mode) if stream_mode else None
    return _stream(
        services,
        tenant,
        run,
        headers={"Content-Location": _location(run)},
        after=after,
        cancel_on_disconnect=cancel_on_disconnect,
        modes=modes,
    )


@router.get("/threads/{thread_id}/stream", response_model=None, responses=SSE_RESPONSE)
async def thread_stream(
    thread_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    last_event_id: LastEventId = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id")] = None,
    stream_mode: Annotated[list[str] | None, Query()] = None,
) -> EventStreamResponse:
    """Follow every run on a thread (the current one, then each new one).

    ``stream_mode``: ``run_modes`` (default: each run's own modes), ``lifecycle``
    (run start and end only), ``state_update`` (values), or run stream modes such
    as ``progress``. Event ids are ``<run_id>:<seq>``; send the last one as
    ``Last-Event-ID`` to resume.
    """
    requested = set(stream_mode or ["run_modes"])
    lifecycle = requested == {"lifecycle"}
    modes: frozenset[str] | None = None
    if "state_update" in requested:
        requested = (requested - {"state_update"}) | {"values"}
    if not lifecycle and requested != {"run_modes"}:
        modes = frozenset(requested - {"run_modes", "lifecycle"})
    after = last_event_id if last_event_id is not None else last_event_id_query
    events = services.streams.follow_thread(
        tenant, thread_id, after=after or None, modes=modes, lifecycle_only=lifecycle
    )
    first = await anext(aiter(events), None)  # surface 404 / bad ids before streaming
    # Endless: on SIGTERM it is cut at once (shutdown_grace 0), clients resume elsewhere.
    return EventStreamResponse(
        _thread_frames(first, events), headers={}, settings=services.settings
    )


async def _thread_frames(
    first: tuple[str, StoredEvent] | None, events: AsyncIterator[tuple[str, StoredEvent]]
) -> AsyncIterator[bytes]:
    try:
        item = first
        while item is not None:
            event_id, event = item
            chunk = encode(event, event_id or None)
            if chunk is not None:
                yield chunk
            item = await anext(events, None)
    finally:
        await close(events)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/cancel",
    responses={
        202: {"description": "Cancellation requested (without `wait`)."},
        204: {"description": "With `wait` and `action=rollback`: the run is gone."},
        409: {"description": "`run.not_active`: the run already ended."},
    },
)
async def cancel_run(
    thread_id: str,
    run_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    """Cancel a run; with ``wait`` return once it has stopped."""
    await services.run_service.cancel(tenant, thread_id, run_id, action=action)
    if not wait:
        return Response(status_code=202)
    try:
        done = await services.run_service.wait_done(tenant, run_id)
    except NotFoundError:  # rolled back: the run is gone
        return Response(status_code=204)
    return JSONResponse(run_json(done))


@router.delete(
    "/threads/{thread_id}/runs/{run_id}",
    status_code=204,
    responses={409: {"description": "`run.busy`: the run is pending or running; cancel it first."}},
)
async def delete_run(
    thread_id: str, run_id: str, services: ServicesDep, tenant: TenantDep
) -> Response:
    """Delete an ended run."""
    run = await services.runs.get(tenant, run_id, thread_id=thread_id)
    if not await services.runs.delete(tenant, run_id, thread_id=thread_id):
        from graphwright.errors import WorkflowConflictError

        raise WorkflowConflictError(
            f"run {run_id!r} is {run.status}; cancel it before deleting",
            code="run.not_active" if run.status not in ("pending", "running") else "run.busy",
        )
    await services.events.delete_run(tenant, run_id)
    return Response(status_code=204)


# -- stateless runs --------------------------------------------------------------------------


@router.post("/runs", responses=CREATE_PROBLEMS)
async def create_stateless_run(
    body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> JSONResponse:
    """Create a background run on a new thread."""
    run = await services.run_service.create(
        tenant, None, _as_caller(request, body.to_request(stateless=True))
    )
    return JSONResponse(run_json(run), headers={"Content-Location": _location(run)})


@router.post("/runs/stream", response_model=None, responses={**SSE_RESPONSE, **CREATE_PROBLEMS})
async def stream_stateless_run(
    body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> EventStreamResponse:
    """Create a run on a new thread and stream it."""
    run = await services.run_service.create(
        tenant, None, _as_caller(request, body.to_request(stateless=True))
    )
    return _stream_response(services, tenant, run, body, stateless=True)


@router.post("/runs/wait", responses=CREATE_PROBLEMS)
async def wait_stateless_run(
    body: RunCreateBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> JSONResponse:
    """Create a run on a new thread and return its final values."""
    run, result = await services.run_service.create_and_wait(
        tenant, None, _as_caller(request, _wait_request(body, stateless=True))
    )
    return JSONResponse(result, headers={"Content-Location": _location(run)})
