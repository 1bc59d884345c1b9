"""Wiring of optional subsystems into the services: approvals inbox, metrics, readiness.

:func:`install_extensions` runs once while the services open. What it starts is
stopped by the async callables it adds to ``services.extras["stoppers"]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from graphwright.errors import ConfigurationError
from graphwright.runtime.approvals import ApprovalService, ApprovalSweeper
from graphwright.runtime.metrics import Readiness, ServiceMetrics
from graphwright.store.approvals import ApprovalStore

if TYPE_CHECKING:
    from graphwright.api.services import Services

__all__ = ["approvals_of", "install_extensions", "metrics_of", "readiness_of"]

Stopper = Callable[[], Awaitable[None]]
T = TypeVar("T")


async def install_extensions(services: Services) -> None:
    """Attach the hooks of subsystems that react to runs (called once at start-up).

    Puts ``approvals`` (:class:`ApprovalService`), ``metrics``
    (:class:`ServiceMetrics`) and ``readiness`` (:class:`Readiness`) in
    ``services.extras``. With workers in this process it also records approvals
    when runs stop at gates, observes run and node durations, and runs the
    approval expiry sweeper.
    """
    store = ApprovalStore(services.pool)
    approvals = ApprovalService(services.engine, store, services.run_service)
    metrics = ServiceMetrics(
        runs=services.runs,
        approvals=store,
        run_service=services.run_service,
        workers=services.workers,
    )
    readiness = Readiness(services.pool, services.settings.redis_url)
    stoppers: list[Stopper] = _stoppers(services)
    services.run_service.on_resume.append(approvals.close_on_resume)
    if services.workers is not None:
        services.workers.hooks.append(approvals.record_run_end)
        services.workers.hooks.append(metrics.observe_run_end)
        event_hooks: Any = getattr(services.workers, "event_hooks", None)
        if isinstance(event_hooks, list):
            event_hooks.append(metrics.observe_event)
        sweeper = ApprovalSweeper(approvals)
        approvals.on_expiry_scheduled.append(sweeper.wake)
        await sweeper.start()
        stoppers.append(sweeper.stop)
        services.extras["approval_sweeper"] = sweeper
    stoppers.append(readiness.close)
    services.extras["approvals"] = approvals
    services.extras["metrics"] = metrics
    services.extras["readiness"] = readiness


def approvals_of(services: Services) -> ApprovalService:
    """The approvals inbox of ``services``."""
    return _extra(services, "approvals", ApprovalService)


def metrics_of(services: Services) -> ServiceMetrics:
    """The metrics of ``services``."""
    return _extra(services, "metrics", ServiceMetrics)


def readiness_of(services: Services) -> Readiness:
    """The readiness checks of ``services``."""
    return _extra(services, "readiness", Readiness)


def _stoppers(services: Services) -> list[Stopper]:
    found = services.extras.setdefault("stoppers", [])
    if not isinstance(found, list):
        raise ConfigurationError("services.extras['stoppers'] must be a list")
    return found


def _extra(services: Services, name: str, kind: type[T]) -> T:
    value = services.extras.get(name)
    if not isinstance(value, kind):
        raise ConfigurationError(
            f"the {name!r} extension is not installed (install_extensions was not called)"
        )
    return value
