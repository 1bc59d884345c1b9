"""Schedules: create, change and find crons, and fire one through the one run path.

A cron keeps the :class:`~graphwright.runtime.run_request.RunRequest` of the run it
starts, serialised as its ``payload``; each firing reads it back, adds which cron
fired it and when (run ``metadata``: ``cron_id``, ``cron_scheduled_at``) and hands
it to :meth:`RunService.create <graphwright.runtime.service.RunService.create>`, as
``POST /threads/{id}/runs`` does: every run option the API accepts works for crons.

Exactly once: a firing's run id is derived from (tenant, cron, scheduled time). The
process holding the cron's lease starts that run and then advances the cron; one
that died in between leaves the lease to expire, and the next holder finds the run
already there instead of starting another.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import psycopg
from croniter import CroniterError
from pydantic import TypeAdapter

from graphwright.errors import (
    ConfigurationError,
    GraphwrightError,
    InvalidInputError,
    NotFoundError,
    WorkflowConflictError,
)
from graphwright.runtime.cron_schedule import Schedule, check_schedule, plan_firing
from graphwright.settings import Settings
from graphwright.store.crons import CronFilter, CronRecord, CronSortBy, CronStore, NewCron

# The run path (and LangGraph under it) is imported where a cron's run is built or
# checked: listing, enabling and deleting crons (the CLI) stay cheap.
if TYPE_CHECKING:
    from graphwright.runtime.process import Runtime
    from graphwright.runtime.run_request import RunRequest
    from graphwright.runtime.service import RunService

__all__ = [
    "CronChanges",
    "CronService",
    "CronSpec",
    "cron_service",
    "firing_run_id",
    "request_of",
]

log = logging.getLogger("graphwright.crons")

_TRANSIENT = frozenset({"db.unavailable", "service.unavailable"})
_FIRING_NAMESPACE = uuid.UUID("6a1f3f0e-8f0c-4c55-9a39-5c1b2f0c7d21")


def firing_run_id(tenant: str, cron_id: str, scheduled: datetime) -> str:
    """The run id of a cron's firing at ``scheduled``: the same for every attempt."""
    return str(uuid.uuid5(_FIRING_NAMESPACE, f"{tenant}\n{cron_id}\n{scheduled.isoformat()}"))


@functools.cache
def _requests() -> TypeAdapter[RunRequest]:
    from graphwright.runtime.run_request import RunRequest

    return TypeAdapter(RunRequest)


def request_of(cron: CronRecord) -> RunRequest:
    """The run request a cron stores (unknown keys of older or newer versions are ignored)."""
    return _requests().validate_python(cron.payload)


def _payload(request: RunRequest) -> dict[str, Any]:
    payload: dict[str, Any] = _requests().dump_python(request, mode="json")
    return payload


@dataclass(frozen=True)
class CronSpec:
    """A cron to create: when it fires and the run it starts."""

    schedule: str
    request: RunRequest
    timezone: str | None = None
    end_time: datetime | None = None
    enabled: bool = True
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class CronChanges:
    """What an update changes; None leaves a value as it is (``end_time``: see ``clear_end``)."""

    schedule: str | None = None
    timezone: str | None = None
    end_time: datetime | None = None
    clear_end: bool = False
    enabled: bool | None = None
    metadata: Mapping[str, Any] | None = None
    request: Callable[[RunRequest], RunRequest] | None = None
    """The run request's new value, from its current one."""


class CronService:
    """The cron API of one process, and the firing of due crons."""

    def __init__(
        self,
        *,
        store: CronStore,
        run_service: RunService | None,
        settings: Settings,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """Create crons through ``store`` and fire them through ``run_service``.

        Without ``run_service`` (a command that only lists, enables, disables or
        deletes) creating, changing a cron's run and firing are refused.

        ``on_change`` is called after a cron is created or changed (a local
        scheduler wakes up to look at its next fire time).
        """
        self.store = store
        self._run_service = run_service
        self.settings = settings
        self.on_change = on_change

    @property
    def run_service(self) -> RunService:
        """The run service firings start runs through."""
        if self._run_service is None:
            raise ConfigurationError("this cron service was opened without a run service")
        return self._run_service

    # -- the API -------------------------------------------------------------------

    async def create(
        self,
        tenant: str,
        thread_id: str | None,
        spec: CronSpec,
        *,
        user_id: str | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> CronRecord:
        """Check and store a cron on a thread (``thread_id``) or on a new thread per firing.

        ``scope``: the creator's metadata scope; the cron is visible only within it.

        Raises:
            InvalidInputError: ``cron.invalid_schedule``, ``cron.invalid_timezone``,
                ``cron.invalid_request``, ``run.invalid_request``, bad input.
            NotFoundError: ``workflow.not_found``, ``thread.not_found``.
            WorkflowConflictError: ``thread.workflow_mismatch``.
        """
        now = await self.store.now()
        schedule = check_schedule(spec.schedule, spec.timezone, now=now)
        end_time = _aware(spec.end_time, schedule.timezone)
        await self._check_request(tenant, thread_id, spec.request)
        cron = await self.store.insert(
            tenant,
            NewCron(
                cron_id=str(uuid.uuid4()),
                assistant_id=spec.request.assistant_id,
                thread_id=thread_id,
                schedule=schedule.expression,
                timezone=spec.timezone,
                end_time=end_time,
                enabled=spec.enabled,
                on_run_completed=spec.request.on_completion,
                payload=_payload(spec.request),
                metadata=spec.metadata,
                thread_metadata=scope or {},
                user_id=user_id,
                next_run_at=_next(schedule, now, end_time) if spec.enabled else None,
            ),
        )
        self._changed()
        return cron

    async def update(
        self,
        tenant: str,
        cron_id: str,
        changes: CronChanges,
        *,
        scope: Mapping[str, Any] | None = None,
    ) -> CronRecord:
        """Change a cron; a new schedule, zone, end time or enabling recomputes its next time.

        Raises:
            NotFoundError: ``cron.not_found`` (and as :meth:`create`).
            InvalidInputError: as :meth:`create`.
        """
        cron = await self.store.get(tenant, cron_id, scope=scope)
        now = await self.store.now()
        expression = cron.schedule if changes.schedule is None else changes.schedule
        zone_name = cron.timezone if changes.timezone is None else changes.timezone
        schedule = check_schedule(expression, zone_name, now=now)
        end_time = cron.end_time
        if changes.clear_end:
            end_time = None
        elif changes.end_time is not None:
            end_time = _aware(changes.end_time, schedule.timezone)
        enabled = cron.enabled if changes.enabled is None else changes.enabled
        assistant_id, on_run_completed, payload = (
            cron.assistant_id,
            cron.on_run_completed,
            cron.payload,
        )
        if changes.request is not None:
            request = changes.request(request_of(cron))
            await self._check_request(tenant, cron.thread_id, request)
            assistant_id, on_run_completed = request.assistant_id, request.on_completion
            payload = _payload(request)
        next_run_at = cron.next_run_at
        retimed = (
            changes.schedule is not None
            or changes.timezone is not None
            or changes.clear_end
            or changes.end_time is not None
            or (enabled and not cron.enabled)
        )
        if not enabled:
            next_run_at = None
        elif retimed:
            next_run_at = _next(schedule, now, end_time)
        updated = await self.store.replace(
            tenant,
            NewCron(
                cron_id=cron.cron_id,
                assistant_id=assistant_id,
                thread_id=cron.thread_id,
                schedule=schedule.expression,
                timezone=zone_name,
                end_time=end_time,
                enabled=enabled,
                on_run_completed=on_run_completed,
                payload=payload,
                metadata=cron.metadata if changes.metadata is None else changes.metadata,
                next_run_at=next_run_at,
            ),
        )
        self._changed()
        return updated

    async def get(
        self, tenant: str, cron_id: str, *, scope: Mapping[str, Any] | None = None
    ) -> CronRecord:
        """One cron. Raises: NotFoundError ``cron.not_found``."""
        return await self.store.get(tenant, cron_id, scope=scope)

    async def delete(
        self, tenant: str, cron_id: str, *, scope: Mapping[str, Any] | None = None
    ) -> None:
        """Delete a cron (its runs stay). Raises: NotFoundError ``cron.not_found``."""
        await self.store.delete(tenant, cron_id, scope=scope)

    async def search(
        self,
        filters: CronFilter,
        *,
        limit: int = 10,
        offset: int = 0,
        sort_by: CronSortBy = "created_at",
        sort_order: Literal["asc", "desc"] = "desc",
    ) -> list[CronRecord]:
        """A page of crons, sorted (ties broken by cron id)."""
        return await self.store.search(
            filters, limit=limit, offset=offset, sort_by=sort_by, sort_order=sort_order
        )

    async def count(self, filters: CronFilter) -> int:
        """How many crons match."""
        return await self.store.count(filters)

    async def _check_request(self, tenant: str, thread_id: str | None, request: RunRequest) -> None:
        """Refuse, now rather than at every firing, a run the service would refuse."""
        if request.command:
            raise InvalidInputError(
                "a cron starts runs with input; command (resume, update, goto) is not "
                "supported in a cron",
                code="cron.invalid_request",
                details={"problems": [{"pointer": "/command", "message": "not supported"}]},
            )
        from graphwright.runtime.run_request import check_request
        from graphwright.runtime.webhook_targets import check_webhook

        check_request(request)
        if request.webhook is not None:  # as the run service checks it at each firing
            await check_webhook(request.webhook, self.settings)
        service = self.run_service
        loaded = await service.catalog.load(tenant, request.assistant_id, request.version)
        if thread_id is not None:
            thread = await service.threads.get(tenant, thread_id)
            if thread.workflow_id not in (None, request.assistant_id):
                raise WorkflowConflictError(
                    f"thread {thread_id!r} runs {thread.workflow_id!r}, "
                    f"not {request.assistant_id!r}",
                    code="thread.workflow_mismatch",
                    details={"thread_id": thread_id, "workflow_id": thread.workflow_id},
                )
        if request.input is not None:
            loaded.compiled.make_input(request.input)
        elif thread_id is None:
            loaded.compiled.make_input({})

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- firing --------------------------------------------------------------------------

    async def fire(self, cron: CronRecord, *, now: datetime, owner: str) -> str | None:
        """Fire a cron leased by ``owner`` for its ``next_run_at``; the run id it started.

        A firing the service refuses (the thread is busy and the strategy is
        ``reject``, the workflow is gone, ...) starts no run: its error is kept as the
        cron's ``last_error`` and the schedule goes on. Database outages propagate:
        the lease stays and the firing is retried.
        """
        scheduled = cron.next_run_at
        assert scheduled is not None  # claimed crons are due
        run_id: str | None = None
        error: dict[str, Any] | None = None
        following: datetime | None = None
        try:
            plan = plan_firing(
                Schedule(cron.schedule, cron.timezone or "UTC"),
                scheduled=scheduled,
                now=now,
                end_time=cron.end_time,
                grace_seconds=self.settings.cron_misfire_grace_seconds,
                policy=self.settings.cron_misfire,
            )
        except (CroniterError, ValueError) as exc:  # stored before a croniter upgrade?
            error = {"code": "cron.invalid_schedule", "message": str(exc), "details": {}}
        else:
            following = plan.next_run_at
            if plan.misfire:
                log.warning(
                    "cron %s (tenant %s): firing of %s missed; %s",
                    cron.cron_id,
                    cron.tenant_id,
                    scheduled.isoformat(),
                    "running it once" if plan.fire else "skipped",
                )
            if plan.fire:
                try:
                    run_id = await self._start(cron, scheduled, misfire=plan.misfire)
                except GraphwrightError as exc:
                    if exc.code in _TRANSIENT:
                        raise  # an outage: retried under the lease, not recorded as refused
                    error = exc.to_dict()
                    log.warning("cron %s: firing refused: %s", cron.cron_id, exc)
        await self.store.finish_firing(
            cron.tenant_id,
            cron.cron_id,
            owner=owner,
            scheduled=scheduled,
            next_run_at=following,
            run_id=run_id,
            error=error,
        )
        return run_id

    async def _start(self, cron: CronRecord, scheduled: datetime, *, misfire: bool) -> str:
        """Start (or find) the run of the firing at ``scheduled``."""
        tenant = cron.tenant_id
        run_id = firing_run_id(tenant, cron.cron_id, scheduled)
        try:
            await self.run_service.runs.get(tenant, run_id)
            return run_id  # started by a holder that died before recording it
        except NotFoundError:
            pass
        request = request_of(cron)
        marks: dict[str, Any] = {
            "cron_id": cron.cron_id,
            "cron_scheduled_at": scheduled.isoformat(),
        }
        if misfire:
            marks["cron_misfire"] = True
        request = dataclasses.replace(request, metadata={**request.metadata, **marks})
        if cron.thread_id is None:
            request = dataclasses.replace(
                request, thread_metadata={**request.thread_metadata, "cron_id": cron.cron_id}
            )
        try:
            await self.run_service.create(tenant, cron.thread_id, request, run_id=run_id)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "gw_runs_pkey":
                raise
            # Another holder (whose lease this one outlived) started it meanwhile.
        return run_id


def cron_service(runtime: Runtime) -> CronService:
    """The cron API of a process; creating or changing a cron wakes its scheduler, if any."""
    scheduler = runtime.scheduler
    return CronService(
        store=CronStore(runtime.pool),
        run_service=runtime.run_service,
        settings=runtime.settings,
        on_change=None if scheduler is None else scheduler.wake,
    )


def _aware(moment: datetime | None, zone: str) -> datetime | None:
    """``moment``, read in ``zone`` when it carries no offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    local: tzinfo = ZoneInfo(zone)
    return moment.replace(tzinfo=local)


def _next(schedule: Schedule, now: datetime, end_time: datetime | None) -> datetime | None:
    following = schedule.next_after(now)
    if following is None or (end_time is not None and following > end_time):
        return None
    return following
