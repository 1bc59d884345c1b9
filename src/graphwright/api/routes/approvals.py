"""The approvals inbox: ``/approvals`` (list, get, decide)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.access import PrincipalDep, deciding_label, scoped
from graphwright.api.bounds import MAX_AGE_SECONDS, MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute, unstorable_error
from graphwright.errors import InvalidInputError
from graphwright.graphs.text_checks import find_unstorable
from graphwright.runtime.approvals import ApprovalService
from graphwright.store.approvals import ApprovalQuery

__all__ = ["DecideBody", "router"]

router = APIRouter(tags=["approvals"], route_class=GuardedRoute)


def _approvals(services: ServicesDep) -> ApprovalService:
    return services.approvals


ApprovalsDep = Annotated[ApprovalService, Depends(_approvals)]

_METADATA_PREFIX = "metadata."


class DecideBody(BaseModel):
    """A decision on an approval."""

    model_config = ConfigDict(extra="forbid")

    decision: str = Field(min_length=1, max_length=200, description="One of the allowed decisions.")
    comment: str | None = Field(default=None, max_length=10_000)
    edits: dict[str, Any] | None = Field(
        default=None, description="New values of editable fields (decision 'edit' only)."
    )
    by: str | None = Field(
        default=None, min_length=1, max_length=200, description="Who decides (recorded)."
    )


@router.get("/approvals")
async def list_approvals(
    request: Request,
    approvals: ApprovalsDep,
    tenant: TenantDep,
    status: Literal["pending", "decided", "expired", "cancelled", "any"] = "pending",
    workflow_id: str | None = None,
    thread_id: str | None = None,
    metadata: Annotated[
        str | None,
        Query(
            description="JSON object the thread's metadata must contain; single keys can "
            "also be given as metadata.<key>=<value> (e.g. metadata.client_id=acme)."
        ),
    ] = None,
    older_than: Annotated[
        float | None,
        Query(
            ge=0,
            le=MAX_AGE_SECONDS,
            allow_inf_nan=False,
            description="Created at least this many seconds ago.",
        ),
    ] = None,
    newer_than: Annotated[
        float | None,
        Query(
            ge=0,
            le=MAX_AGE_SECONDS,
            allow_inf_nan=False,
            description="Created at most this many seconds ago.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[dict[str, Any]]:
    """Approvals of the tenant, oldest first (default: pending ones)."""
    query = ApprovalQuery(
        status=None if status == "any" else status,
        workflow_id=workflow_id,
        thread_id=thread_id,
        metadata=scoped(request, _metadata_filter(metadata, request.query_params.multi_items())),
        min_age=older_than,
        max_age=newer_than,
        limit=limit,
        offset=offset,
    )
    return [record.to_dict() for record in await approvals.list(tenant, query)]


@router.get("/approvals/{approval_id}")
async def get_approval(
    approval_id: str, approvals: ApprovalsDep, tenant: TenantDep
) -> dict[str, Any]:
    """One approval."""
    return (await approvals.get(tenant, approval_id)).to_dict()


@router.post(
    "/approvals/{approval_id}/decide",
    responses={
        404: {"description": "`approval.not_found`"},
        409: {"description": "`approval.already_decided` or `approval.stale`"},
        422: {"description": "`approval.invalid_decision` or `approval.invalid_edit`"},
    },
)
async def decide_approval(
    approval_id: str,
    body: DecideBody,
    approvals: ApprovalsDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Decide a pending approval; the thread resumes in the returned ``resume_run_id``.

    With authentication on, ``decided_by`` is the authenticated caller (a ``by`` in
    the body is ignored); without it, the body's ``by`` is recorded.
    """
    done = await approvals.decide(
        tenant,
        approval_id,
        decision=body.decision,
        comment=body.comment,
        edits=body.edits,
        by=deciding_label(principal) or body.by,
    )
    return {**done.approval.to_dict(), "resume_run_id": done.resume_run_id}


def _metadata_filter(raw: str | None, params: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The metadata containment filter from ``metadata={json}`` and ``metadata.a.b=v``."""
    found: dict[str, Any] = {}
    if raw is not None:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad_metadata("metadata must be a JSON object")
        # JSON escapes can spell what the query string cannot (``\ud800``).
        issues = find_unstorable(parsed, prefix="/metadata")
        if issues:
            raise unstorable_error(issues)
        found = parsed
    for key, value in params:
        if not key.startswith(_METADATA_PREFIX):
            continue
        path = key[len(_METADATA_PREFIX) :].split(".")
        if not all(path):
            raise _bad_metadata(f"invalid metadata filter key {key!r}")
        _merge(found, path, value)
    return found or None


def _merge(target: dict[str, Any], path: list[str], value: str) -> None:
    node = target
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _bad_metadata(f"metadata filter {'.'.join(path)!r} conflicts with another")
        node = child
    node[path[-1]] = value


def _bad_metadata(message: str) -> InvalidInputError:
    return InvalidInputError(
        f"invalid request at /metadata: {message}",
        code="request.invalid",
        details={"problems": [{"pointer": "/metadata", "message": message}]},
    )
