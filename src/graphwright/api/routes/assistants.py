"""Assistants: ``/assistants...`` of the LangGraph Server API, read-only.

A published workflow is an assistant: ``assistant_id`` and ``graph_id`` are the
workflow id, ``version`` its latest published version, ``name`` its title.
Assistants are created by publishing workflows (``POST /workflows``), so the
write endpoints answer 409 ``assistant.read_only`` - except the idempotent
``create(graph_id=<published workflow>, if_exists="do_nothing")`` clients use to
make sure an assistant exists, which returns the workflow's assistant.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from graphwright.api.bounds import MAX_OFFSET, MAX_VERSION
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.api.thread_views import select_fields
from graphwright.errors import WorkflowConflictError
from graphwright.graphs.render import END, START, render_json
from graphwright.graphs.spec import WorkflowSpec
from graphwright.runtime.process import Runtime as Services
from graphwright.state.model import INPUT_CHANNEL, CompiledState, python_type
from graphwright.store.workflows import PublishedWorkflow

__all__ = ["router"]

router = APIRouter(tags=["assistants"], route_class=GuardedRoute)

_LG_NAMES = {START: "__start__", END: "__end__"}
_READ_ONLY = {"description": "`assistant.read_only`: always, for a known assistant."}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AssistantCountBody(_Body):
    """Filters of ``POST /assistants/count``."""

    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = Field(default=None, max_length=200)


class AssistantSearchBody(AssistantCountBody):
    """Body of ``POST /assistants/search``."""

    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: Annotated[list[str] | None, Field(max_length=20)] = None


class AssistantCreateBody(_Body):
    """Body of ``POST /assistants``."""

    graph_id: str | None = None
    assistant_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    name: str | None = None
    description: str | None = None


class VersionsBody(_Body):
    """Body of ``POST /assistants/{id}/versions``."""

    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class LatestBody(_Body):
    """Body of ``POST /assistants/{id}/latest``."""

    version: int = Field(ge=1)


def assistant_json(published: PublishedWorkflow) -> dict[str, Any]:
    """An ``Assistant`` for a published workflow version.

    Versions are immutable, so ``created_at`` and ``updated_at`` are both the
    time this version was published.
    """
    spec = published.spec
    at = published.created_at.isoformat()
    return {
        "assistant_id": spec.id,
        "graph_id": spec.id,
        "config": {},
        "context": {},
        "metadata": {},
        "version": published.version,
        "name": spec.title or spec.id,
        "description": spec.description,
        "created_at": at,
        "updated_at": at,
    }


def _read_only(what: str) -> WorkflowConflictError:
    return WorkflowConflictError(
        f"{what}: assistants are published workflows; publish a workflow with POST /workflows",
        code="assistant.read_only",
    )


async def _matching(
    services: Services, tenant: str, body: AssistantCountBody
) -> list[dict[str, Any]]:
    found = []
    for published in await services.catalog.store.list_workflows(tenant):
        item = assistant_json(published)
        if body.graph_id and item["graph_id"] != body.graph_id:
            continue
        if body.name and body.name.lower() not in item["name"].lower():
            continue
        if body.metadata and any(item["metadata"].get(k) != v for k, v in body.metadata.items()):
            continue
        found.append(item)
    return found


@router.post("/assistants/search")
async def search_assistants(
    body: AssistantSearchBody, services: ServicesDep, tenant: TenantDep
) -> JSONResponse:
    """Assistants (latest version of each workflow) by graph id, name and metadata, paged.

    ``X-Pagination-Next`` holds the next offset when more results exist.
    """
    found = await _matching(services, tenant, body)
    found.sort(
        key=lambda a: (a[body.sort_by], a["assistant_id"]), reverse=body.sort_order == "desc"
    )
    page = found[body.offset : body.offset + body.limit]
    headers = {"X-Pagination-Total": str(len(found))}
    if body.offset + body.limit < len(found):
        headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return JSONResponse([select_fields(a, body.select) for a in page], headers=headers)


@router.post("/assistants/count")
async def count_assistants(
    body: AssistantCountBody, services: ServicesDep, tenant: TenantDep
) -> int:
    """How many assistants match the filters of a search."""
    return len(await _matching(services, tenant, body))


@router.post(
    "/assistants",
    responses={
        404: {"description": "`workflow.not_found`: `graph_id` names no published workflow."},
        409: {"description": "`assistant.read_only`: publish workflows instead."},
    },
)
async def create_assistant(
    body: AssistantCreateBody, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """Return a workflow's assistant for ``if_exists=do_nothing``; anything else is 409."""
    custom = body.config or body.context or body.metadata or body.name or body.description
    same_id = body.assistant_id in (None, body.graph_id)
    if body.graph_id and body.if_exists == "do_nothing" and same_id and not custom:
        return assistant_json(await services.catalog.store.get(tenant, body.graph_id))
    raise _read_only("assistants cannot be created")


@router.get("/assistants/{assistant_id}")
async def get_assistant(
    assistant_id: str, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """The assistant of a published workflow (its latest version)."""
    return assistant_json(await services.catalog.store.get(tenant, assistant_id))


@router.patch("/assistants/{assistant_id}", responses={409: _READ_ONLY})
async def update_assistant(assistant_id: str, services: ServicesDep, tenant: TenantDep) -> None:
    """Always 409 ``assistant.read_only`` (404 for an unknown assistant)."""
    await services.catalog.store.get(tenant, assistant_id)
    raise _read_only("assistants cannot be changed")


@router.delete("/assistants/{assistant_id}", responses={409: _READ_ONLY})
async def delete_assistant(assistant_id: str, services: ServicesDep, tenant: TenantDep) -> None:
    """Always 409 ``assistant.read_only`` (404 for an unknown assistant)."""
    await services.catalog.store.get(tenant, assistant_id)
    raise _read_only("assistants cannot be deleted")


@router.post(
    "/assistants/{assistant_id}/latest",
    responses={409: {"description": "`assistant.read_only`: `version` is not the latest."}},
)
async def set_latest(
    assistant_id: str, body: LatestBody, services: ServicesDep, tenant: TenantDep
) -> dict[str, Any]:
    """The assistant if ``version`` already is its latest; otherwise 409 ``assistant.read_only``."""
    store = services.catalog.store
    await store.get(tenant, assistant_id, body.version)  # 404 for an unknown version
    latest = await store.get(tenant, assistant_id)
    if latest.version != body.version:
        raise _read_only("the latest version is the last one published")
    return assistant_json(latest)


@router.post("/assistants/{assistant_id}/versions")
async def list_versions(
    assistant_id: str, body: VersionsBody, services: ServicesDep, tenant: TenantDep
) -> list[dict[str, Any]]:
    """Published versions of the assistant, newest first."""
    versions = await services.catalog.store.list_versions(tenant, assistant_id)
    items = [assistant_json(v) for v in reversed(versions)]
    if body.metadata:
        items = [
            i for i in items if all(i["metadata"].get(k) == v for k, v in body.metadata.items())
        ]
    for item in items:
        del item["updated_at"]  # an AssistantVersion has no updated_at
    return items[body.offset : body.offset + body.limit]


@router.get("/assistants/{assistant_id}/schemas")
async def get_schemas(
    assistant_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """JSON Schemas of the workflow's input, output and state (``GraphSchema``)."""
    loaded = await services.catalog.load(tenant, assistant_id, version)
    state = loaded.compiled.state
    state_schema = state.model.model_json_schema()
    state_schema.get("properties", {}).pop(INPUT_CHANNEL, None)
    title = loaded.compiled.spec.title or assistant_id
    return {
        "graph_id": assistant_id,
        "input_schema": _fields_schema(state, state.input_fields, f"{title} input", inputs=True),
        "output_schema": _fields_schema(state, state.output_fields, f"{title} output"),
        "state_schema": state_schema,
        "config_schema": None,
        "context_schema": None,
    }


@router.get("/assistants/{assistant_id}/graph")
async def get_graph(
    assistant_id: str,
    services: ServicesDep,
    tenant: TenantDep,
    xray: int | bool = False,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """The workflow as a LangGraph drawable graph: ``nodes`` and ``edges``.

    Nodes are the document's (a map is one node), ``__start__`` and ``__end__``;
    conditional edges carry their CEL condition as ``data``. ``xray`` is accepted
    but subworkflows are not expanded.
    """
    published = await services.catalog.store.get(tenant, assistant_id, version)
    return drawable_graph(published.spec)


def drawable_graph(spec: WorkflowSpec) -> dict[str, Any]:
    """``render_json`` in the shape of LangGraph's ``Graph.to_json()``."""
    rendered = render_json(spec)
    nodes: list[dict[str, Any]] = []
    for node in rendered["nodes"]:
        name = _LG_NAMES.get(node["id"], node["id"])
        if node["kind"] in ("start", "end"):
            nodes.append({"id": name, "type": "schema", "data": name})
        else:
            data = {"name": name, "kind": node["kind"], "detail": node["detail"]}
            nodes.append({"id": name, "type": "runnable", "data": data})
    edges: list[dict[str, Any]] = []
    for edge in rendered["edges"]:
        item: dict[str, Any] = {
            "source": _LG_NAMES.get(edge["source"], edge["source"]),
            "target": _LG_NAMES.get(edge["target"], edge["target"]),
        }
        if edge["kind"] in ("conditional", "default"):
            item["conditional"] = True
            item["data"] = edge["label"]
        edges.append(item)
    return {"nodes": nodes, "edges": edges}


def _fields_schema(
    state: CompiledState, names: tuple[str, ...], title: str, *, inputs: bool = False
) -> dict[str, Any]:
    """JSON Schema of an object holding some state fields (values as the document types them).

    For ``inputs``, fields without a default that are not nullable are required.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in names:
        spec = state.fields[name]
        schema = TypeAdapter(python_type(spec)).json_schema()
        if spec.description:
            schema["description"] = spec.description
        if spec.has_default:
            schema["default"] = spec.default
        elif inputs and not spec.nullable:
            required.append(name)
        properties[name] = schema
    out: dict[str, Any] = {"title": title, "type": "object", "properties": properties}
    if inputs:
        out["additionalProperties"] = False
    if required:
        out["required"] = required
    return out
