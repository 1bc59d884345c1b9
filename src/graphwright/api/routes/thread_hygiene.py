"""Thread TTL and pruning in the LangGraph Server API: the ``ttl`` of a thread, and
``POST /threads/prune`` (``client.threads.prune``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.access import scoped
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.runtime.process import Runtime as Services
from graphwright.store.pruning import PrunePolicy, prune_threads
from graphwright.store.thread_removal import remove_threads
from graphwright.store.thread_ttl import get_thread_ttl, set_thread_ttl

__all__ = ["ThreadTTLBody", "read_ttl", "router", "write_ttl"]

router = APIRouter(tags=["threads"], route_class=GuardedRoute)

MAX_TTL_MINUTES = 52_560_000  # 100 years


class _Body(BaseModel):
    # Unknown keys are ignored so newer SDKs keep working; known keys are typed.
    model_config = ConfigDict(extra="ignore")


class ThreadTTLBody(_Body):
    """``ttl`` of a thread: it expires this many minutes after its last activity.

    The SDK sends ``{"strategy": "delete", "ttl": minutes}`` for ``ttl=minutes``.
    """

    strategy: Literal["delete", "keep_latest"] = Field(
        default="delete",
        description="On expiry: `delete` the thread with everything it has, or "
        "`keep_latest` (prune to the newest checkpoint and keep the thread).",
    )
    ttl: float = Field(
        gt=0, le=MAX_TTL_MINUTES, description="Minutes from the thread's last activity."
    )


class ThreadPruneBody(_Body):
    """Body of ``POST /threads/prune``."""

    thread_ids: list[Annotated[str, Field(max_length=200)]] = Field(min_length=1, max_length=1000)
    strategy: Literal["delete", "keep_latest"] = Field(
        default="delete",
        description="`delete` the threads, or `keep_latest`: prune each finished thread to "
        "its newest checkpoint (threads waiting at a gate are left whole).",
    )


async def write_ttl(
    services: Services, tenant: str, thread_id: str, ttl: ThreadTTLBody
) -> dict[str, Any]:
    """Give a thread its own TTL from now; returns the ``ttl`` object of the response."""
    stored = await set_thread_ttl(
        services.pool, tenant, thread_id, minutes=ttl.ttl, strategy=ttl.strategy
    )
    return stored.to_json()


async def read_ttl(services: Services, tenant: str, thread_id: str) -> dict[str, Any] | None:
    """A thread's ``ttl`` object (its own, else ``GW_THREAD_TTL_MINUTES``'s), or None."""
    ttl = await get_thread_ttl(
        services.pool, tenant, thread_id, default_minutes=services.settings.thread_ttl_minutes
    )
    return None if ttl is None else ttl.to_json()


@router.post("/threads/prune")
async def prune(
    body: ThreadPruneBody, services: ServicesDep, tenant: TenantDep, request: Request
) -> dict[str, int]:
    """Delete threads, or prune them to their latest checkpoint (``keep_latest``).

    Threads with a pending or running run, unknown ids and threads outside the
    caller's scope are skipped; ``pruned_count`` counts the others.
    """
    scope = scoped(request, {})
    if body.strategy == "delete":
        removed = await remove_threads(services.pool, tenant, body.thread_ids, metadata=scope)
        return {"pruned_count": len(removed)}
    policy = PrunePolicy(
        keep=1, tenant=tenant, thread_ids=body.thread_ids, metadata=scope, again=True
    )
    report = await prune_threads(services.pool, policy)
    return {"pruned_count": len(report.threads)}
