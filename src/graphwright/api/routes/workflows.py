"""graphwright's own ``/workflows`` endpoints: validate, publish, read and render documents.

Invalid documents get 422 ``workflow.invalid`` with every problem in
``problems`` (``code``, ``pointer``, ``message`` and, for typos, ``suggestion``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from graphwright.api.bounds import MAX_VERSION
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import DocumentRoute
from graphwright.errors import Problem, WorkflowValidationError
from graphwright.graphs.render import render_json, render_mermaid
from graphwright.store.workflows import PublishedWorkflow

__all__ = ["router", "workflow_json"]

router = APIRouter(tags=["workflows"], route_class=DocumentRoute)

Document = Annotated[Any, Body(description="A graphwright/v1 workflow document.")]
Version = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="Version (default: the latest).")
]


def workflow_json(published: PublishedWorkflow, *, document: bool = False) -> dict[str, Any]:
    """A published version: id, version, hash, title and time; with ``document`` the document."""
    spec = published.spec
    out: dict[str, Any] = {
        "workflow_id": published.workflow_id,
        "version": published.version,
        "content_hash": published.content_hash,
        "title": spec.title,
        "description": spec.description,
        "created_at": published.created_at.isoformat(),
    }
    if document:
        out["document"] = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return out


def _object(document: Any) -> Any:
    """The document, which must be a JSON object (a JSON string is not parsed again).

    Raises:
        WorkflowValidationError: ``dsl.wrong_type``.
    """
    if not isinstance(document, dict):
        problem = Problem("dsl.wrong_type", "", "a workflow document is a JSON object")
        raise WorkflowValidationError([problem])
    return document


def _location(published: PublishedWorkflow) -> str:
    return f"/workflows/{published.workflow_id}?version={published.version}"


@router.post("/workflows/validate")
async def validate_workflow(
    document: Document, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """Check a document without publishing it: 200 ``{"valid": true}`` or 422 with problems."""
    _, problems = await services.catalog.check(tenant, _object(document))
    if problems:
        raise WorkflowValidationError(problems)
    return {"valid": True, "workflow_id": document["id"]}


@router.post(
    "/workflows",
    status_code=201,
    responses={
        200: {
            "description": "This content is already published (`created: false`).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def publish_workflow(
    document: Document, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    """Publish a version: 201 when new, 200 (``created: false``) when the content exists."""
    published = await services.catalog.publish(tenant, _object(document))
    body = {**workflow_json(published), "created": published.created}
    return JSONResponse(
        body,
        status_code=201 if published.created else 200,
        headers={"Location": _location(published)},
    )


@router.get("/workflows")
async def list_workflows(services: ServicesDep, tenant: TenantDep) -> list[dict[str, Any]]:
    """The latest version of each workflow, by workflow id."""
    store = services.catalog.store
    return [workflow_json(p) for p in await store.list_workflows(tenant)]


@router.get("/workflows/{workflow_id}")
async def get_workflow(
    workflow_id: str, services: ServicesDep, tenant: TenantDep, version: Version = None
) -> dict[str, Any]:
    """One version (default: the latest) with its document."""
    published = await services.catalog.store.get(tenant, workflow_id, version)
    return workflow_json(published, document=True)


@router.get("/workflows/{workflow_id}/versions")
async def list_versions(
    workflow_id: str, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    """Every version of a workflow, oldest first (without documents)."""
    store = services.catalog.store
    return [workflow_json(p) for p in await store.list_versions(tenant, workflow_id)]


@router.get(
    "/workflows/{workflow_id}/graph",
    response_model=None,
    responses={200: {"content": {"text/plain": {}, "application/json": {}}}},
)
async def get_graph(
    workflow_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    format: Literal["mermaid", "json"] = "json",
    version: Version = None,
) -> dict[str, Any] | Response:
    """The workflow's graph as Mermaid text (``format=mermaid``) or nodes and edges (JSON)."""
    published = await services.catalog.store.get(tenant, workflow_id, version)
    if format == "mermaid":
        return PlainTextResponse(render_mermaid(published.spec))
    return dict(render_json(published.spec))
