"""Schedules: ``/runs/crons...`` and ``/threads/{id}/runs/crons`` (LangGraph Server cron API).

A cron's body is a run-creation body (every option of ``POST /threads/{id}/runs``)
plus when to fire: ``schedule``, ``timezone``, ``end_time``, ``enabled``. Answers
are the LangGraph ``Cron`` object, with ``last_run_date``, ``last_run_id`` and
``last_error`` added.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.access import current_principal, scoped
from graphwright.api.bounds import MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.schemas import RunCreateBody
from graphwright.runtime.crons import CronChanges, CronService, CronSpec, cron_service
from graphwright.runtime.run_request import RunRequest
from graphwright.store.crons import CronFilter, CronRecord, CronSortBy

__all__ = ["CronCreateBody", "CronPatchBody", "cron_json", "router"]

router = APIRouter(tags=["crons"], route_class=GuardedRoute)

CronField = Literal[
    "cron_id",
    "assistant_id",
    "thread_id",
    "end_time",
    "schedule",
    "timezone",
    "created_at",
    "updated_at",
    "user_id",
    "payload",
    "next_run_date",
    "last_run_date",
    "last_run_id",
    "last_error",
    "metadata",
    "on_run_completed",
    "enabled",
]
_SCHEDULE = Field(
    min_length=1,
    max_length=200,
    description="Cron expression (croniter): 5 fields, a 6th for seconds, or `@hourly`-style.",
)
_TIMEZONE = Field(
    default=None, max_length=64, description="IANA time zone of the schedule (default UTC)."
)
_END_TIME = Field(
    default=None,
    description="No firing after this time (read in `timezone` when it has no offset).",
)
_CREATE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "`workflow.not_found` (`assistant_id`), `thread.not_found`."},
    409: {"description": "`thread.workflow_mismatch`: the thread runs another workflow."},
    422: {
        "description": "`cron.invalid_schedule`, `cron.invalid_timezone`, "
        "`cron.invalid_request`, `run.invalid_request`, `state.invalid_input`, "
        "`request.invalid`."
    },
}


class CronCreateBody(RunCreateBody):
    """Body of cron creation: a run-creation body and when to fire."""

    schedule: str = _SCHEDULE
    timezone: str | None = _TIMEZONE
    end_time: datetime | None = _END_TIME
    enabled: bool | None = Field(default=None, description="Fire at all (default true).")
    on_run_completed: Literal["delete", "keep"] | None = Field(
        default=None,
        description="Without a thread: delete each run's thread when it ends (default) or keep.",
    )

    def spec(self, *, stateless: bool) -> CronSpec:
        """The service-level cron."""
        request = self.to_request(stateless=stateless)
        if self.on_run_completed is not None:
            request = dataclasses.replace(request, on_completion=self.on_run_completed)
        return CronSpec(
            schedule=self.schedule,
            request=request,
            timezone=self.timezone,
            end_time=self.end_time,
            enabled=True if self.enabled is None else self.enabled,
            metadata=dict(self.metadata or {}),
        )


_CRON_FIELDS = frozenset({"schedule", "timezone", "end_time", "enabled", "on_run_completed"})
_RENAMED = {"checkpoint": "checkpoint_id"}
_REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(RunRequest))


class CronPatchBody(CronCreateBody):
    """Body of a cron update: only the fields given change (``end_time: null`` clears it)."""

    assistant_id: str | None = Field(  # type: ignore[assignment]  # optional when patching
        default=None, min_length=1, max_length=200
    )
    schedule: str | None = Field(  # type: ignore[assignment]  # optional when patching
        default=None, min_length=1, max_length=200, description="A new cron expression."
    )

    def changes(self, *, stateless: bool) -> CronChanges:
        """The service-level update."""
        given = self.model_fields_set
        return CronChanges(
            schedule=self.schedule,
            timezone=self.timezone,
            end_time=self.end_time,
            clear_end="end_time" in given and self.end_time is None,
            enabled=self.enabled,
            metadata=None if self.metadata is None else dict(self.metadata),
            request=self._request_change(stateless=stateless),
        )

    def _request_change(self, *, stateless: bool) -> Callable[[RunRequest], RunRequest] | None:
        run_fields = {
            name
            for name in self.model_fields_set - _CRON_FIELDS
            if name in RunCreateBody.model_fields
        }
        if not run_fields and self.on_run_completed is None:
            return None

        def apply(current: RunRequest) -> RunRequest:
            data = self.model_dump(include=run_fields)
            data["assistant_id"] = self.assistant_id or current.assistant_id
            fresh = RunCreateBody.model_validate(data).to_request(stateless=stateless)
            changed: dict[str, Any] = {}
            for name in run_fields:
                target = _RENAMED.get(name, name)
                if target in _REQUEST_FIELDS:
                    changed[target] = getattr(fresh, target)
            if self.on_run_completed is not None:
                changed["on_completion"] = self.on_run_completed
            return dataclasses.replace(current, **changed)

        return apply


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CronCountBody(_Body):
    """Body of ``POST /runs/crons/count``."""

    assistant_id: str | None = Field(default=None, max_length=200)
    thread_id: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None

    def filters(self, tenant: str, scope: dict[str, Any] | None) -> CronFilter:
        """The store's filter."""
        return CronFilter(
            tenant,
            assistant_id=self.assistant_id,
            thread_id=self.thread_id,
            enabled=self.enabled,
            metadata=self.metadata,
            scope=scope,
        )


class CronSearchBody(CronCountBody):
    """Body of ``POST /runs/crons/search``."""

    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: CronSortBy = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[CronField] | None = Field(default=None, max_length=32)


def cron_json(cron: CronRecord, select: list[CronField] | None = None) -> dict[str, Any]:
    """A cron as the LangGraph Server API returns it (plus its last firing)."""
    body = cron.to_dict()
    return {key: body[key] for key in select} if select else body


def _crons(services: ServicesDep) -> CronService:
    return cron_service(services)


CronsDep = Annotated[CronService, Depends(_crons)]


def _scope(request: Request) -> dict[str, Any] | None:
    """The caller's metadata scope: it sees only crons created within it."""
    scope = current_principal(request).scope
    return dict(scope) if scope else None


def _user(request: Request) -> str | None:
    principal = current_principal(request)
    return None if principal.kind == "local" else principal.id


def _in_scope(request: Request, spec: CronSpec) -> CronSpec:
    """New threads of the cron's firings carry the caller's scope, as a run's would."""
    metadata = scoped(request, spec.request.thread_metadata)
    if metadata is None or metadata == spec.request.thread_metadata:
        return spec
    run = dataclasses.replace(spec.request, thread_metadata=metadata)
    return dataclasses.replace(spec, request=run)


@router.post("/runs/crons", responses=_CREATE_PROBLEMS)
async def create_cron(
    body: CronCreateBody, crons: CronsDep, tenant: TenantDep, request: Request
) -> dict[str, Any]:
    """Create a cron whose every firing runs on a new thread."""
    spec = _in_scope(request, body.spec(stateless=True))
    cron = await crons.create(tenant, None, spec, user_id=_user(request), scope=_scope(request))
    return cron_json(cron)


@router.post("/threads/{thread_id}/runs/crons", responses=_CREATE_PROBLEMS)
async def create_thread_cron(
    thread_id: str, body: CronCreateBody, crons: CronsDep, tenant: TenantDep, request: Request
) -> dict[str, Any]:
    """Create a cron whose firings run on the thread."""
    spec = body.spec(stateless=False)
    cron = await crons.create(
        tenant, thread_id, spec, user_id=_user(request), scope=_scope(request)
    )
    return cron_json(cron)


@router.post("/runs/crons/search")
async def search_crons(
    body: CronSearchBody, crons: CronsDep, tenant: TenantDep, request: Request
) -> list[dict[str, Any]]:
    """The tenant's crons matching the filters, one page."""
    found = await crons.search(
        body.filters(tenant, _scope(request)),
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    return [cron_json(cron, body.select) for cron in found]


@router.post("/runs/crons/count")
async def count_crons(
    body: CronCountBody, crons: CronsDep, tenant: TenantDep, request: Request
) -> int:
    """How many of the tenant's crons match the filters."""
    return await crons.count(body.filters(tenant, _scope(request)))


@router.get("/runs/crons/{cron_id}", responses={404: {"description": "`cron.not_found`."}})
async def get_cron(
    cron_id: str, crons: CronsDep, tenant: TenantDep, request: Request
) -> dict[str, Any]:
    """One cron, with its next and last fire times."""
    return cron_json(await crons.get(tenant, cron_id, scope=_scope(request)))


@router.patch(
    "/runs/crons/{cron_id}",
    responses={**_CREATE_PROBLEMS, 404: {"description": "`cron.not_found`, `workflow.not_found`."}},
)
async def update_cron(
    cron_id: str, body: CronPatchBody, crons: CronsDep, tenant: TenantDep, request: Request
) -> dict[str, Any]:
    """Change a cron: its schedule, time zone, end time, enabled, or the run it starts."""
    scope = _scope(request)
    current = await crons.get(tenant, cron_id, scope=scope)
    changes = body.changes(stateless=current.thread_id is None)
    return cron_json(await crons.update(tenant, cron_id, changes, scope=scope))


@router.delete(
    "/runs/crons/{cron_id}", status_code=204, responses={404: {"description": "`cron.not_found`."}}
)
async def delete_cron(
    cron_id: str, crons: CronsDep, tenant: TenantDep, request: Request
) -> Response:
    """Delete a cron; the runs it started stay."""
    await crons.delete(tenant, cron_id, scope=_scope(request))
    return Response(status_code=204)
