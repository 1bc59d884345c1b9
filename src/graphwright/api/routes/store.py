"""The Store: ``/store/items`` and ``/store/namespaces`` of the LangGraph Server API.

JSON items under namespaces, per tenant, as the official SDK's ``client.store``
expects: ``PUT``/``DELETE`` answer 204, a missing item is ``null`` (as in LangGraph
Server), search and listing answer ``{"items": [...]}`` / ``{"namespaces": [...]}``.
Node code reaches the same items with ``get_store()``
(:mod:`graphwright.runtime.tenant_store`).

Authorization: writes need the operator role, reads any authenticated caller
(api/access.py). A custom ``langgraph_sdk.Auth`` runs its ``store`` handlers here, on
the value LangGraph Server passes them (``namespace`` as a tuple, ``key``, ...); a
handler may rewrite ``namespace`` (for example prefix the user's id), and a filter it
returns narrows searches (items whose value holds it), as in LangGraph Server. A key
scoped to metadata reads and deletes only items whose value holds that metadata, and
may store only such values (``store.out_of_scope``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.access import Access, current_principal
from graphwright.api.bounds import MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.store.item_checks import MAX_LABELS, MAX_PAGE, check_namespace
from graphwright.store.items import StoreItems

__all__ = ["router"]

router = APIRouter(tags=["store"], route_class=GuardedRoute)

_UNSUPPORTED_QUERY = (
    "Natural-language search. Not supported (no vector index): a non-empty query is "
    "refused with 422 `store.query_unsupported`."
)


class _Body(BaseModel):
    # Unknown keys are ignored so newer SDKs keep working; known keys are typed.
    model_config = ConfigDict(extra="ignore")


Labels = Annotated[list[str], Field(max_length=MAX_LABELS)]


class PutItemBody(_Body):
    """Body of ``PUT /store/items``."""

    namespace: Labels = Field(description="Labels: non-empty, no '.'; not rooted at 'langgraph'.")
    key: str = Field(description="The item's key in its namespace (non-empty).")
    value: dict[str, Any] = Field(description="The item: a JSON object.")
    index: Literal[False] | list[str] | None = Field(
        default=None, description="Accepted and ignored: there is no vector index."
    )
    ttl: float | None = Field(
        default=None, description="Minutes until the item expires (null: never)."
    )


class DeleteItemBody(_Body):
    """Body of ``DELETE /store/items``."""

    namespace: Labels
    key: str


class SearchItemsBody(_Body):
    """Body of ``POST /store/items/search``."""

    namespace_prefix: Labels = Field(
        default_factory=list, description="Items in this namespace and below ([]: all)."
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description='Conditions on the value: {"k": v} (equality), '
        '{"k": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": v}}.',
    )
    limit: int = Field(default=10, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    query: str | None = Field(default=None, description=_UNSUPPORTED_QUERY)
    refresh_ttl: bool | None = Field(
        default=None, description="Restart the TTL of the items returned (default: yes)."
    )


class ListNamespacesBody(_Body):
    """Body of ``POST /store/namespaces``."""

    prefix: Labels | None = Field(default=None, description="'*' matches any one label.")
    suffix: Labels | None = Field(default=None, description="'*' matches any one label.")
    max_depth: int | None = Field(default=None, ge=1, le=MAX_LABELS)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class StoreItemOut(BaseModel):
    """An item (``Item`` of the SDK)."""

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SearchItemOut(StoreItemOut):
    """An item found by a search (``SearchItem`` of the SDK); ``score`` is always null."""

    score: float | None = None


class SearchItemsOut(BaseModel):
    """The items of one search page, newest update first."""

    items: list[SearchItemOut]


class NamespacesOut(BaseModel):
    """One page of namespaces, sorted."""

    namespaces: list[list[str]]


def _items(services: ServicesDep) -> StoreItems:
    return services.store_items


ItemsDep = Annotated[StoreItems, Depends(_items)]


async def _authorized(
    request: Request, action: str, value: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run the custom auth's ``store`` handler on ``value`` (it may change it).

    Returns:
        The value after the handler, and the filter it returned (None: none).

    Raises:
        AuthError: the handler refused.
        InvalidInputError: ``store.invalid_namespace`` for a namespace the handler wrote.
    """
    access: Access = request.app.state.access
    if access.custom is None:
        return value, None
    found = await access.custom.authorize(current_principal(request), "store", action, value)
    for name in ("namespace", "suffix"):
        if value.get(name) is not None:
            value[name] = check_namespace(
                value[name], field=name, allow_empty=action in ("search", "list_namespaces")
            )
    return value, found


def _scope(request: Request) -> dict[str, Any]:
    return dict(current_principal(request).scope)


@router.put("/store/items", status_code=204, response_class=Response)
async def put_item(
    body: PutItemBody, request: Request, items: ItemsDep, tenant: TenantDep
) -> Response:
    """Create or replace an item of the tenant (204); ``ttl`` in minutes, ``index`` ignored."""
    value, _ = await _authorized(
        request,
        "put",
        {
            "namespace": tuple(body.namespace),
            "key": body.key,
            "value": body.value,
            "index": body.index,
            "ttl": body.ttl,
        },
    )
    await items.put(
        tenant,
        value["namespace"],
        value["key"],
        value["value"],
        ttl=value.get("ttl"),
        must_contain=_scope(request),
    )
    return Response(status_code=204)


@router.get("/store/items", response_model=StoreItemOut | None)
async def get_item(
    request: Request,
    items: ItemsDep,
    tenant: TenantDep,
    key: Annotated[str, Query(description="The item's key.")],
    namespace: Annotated[str, Query(description="The labels joined by '.'.")] = "",
    refresh_ttl: Annotated[
        bool | None, Query(description="Restart the item's TTL (default: yes).")
    ] = None,
) -> dict[str, Any] | None:
    """The item, or null when the tenant has no such live item (as in LangGraph Server)."""
    labels = check_namespace(namespace.split("."))
    value, _ = await _authorized(
        request, "get", {"namespace": labels, "key": key, "refresh_ttl": refresh_ttl}
    )
    item = await items.get(
        tenant,
        value["namespace"],
        value["key"],
        refresh_ttl=value.get("refresh_ttl") is not False,
        must_contain=_scope(request),
    )
    return None if item is None else item.dict()


@router.delete("/store/items", status_code=204, response_class=Response)
async def delete_item(
    body: DeleteItemBody, request: Request, items: ItemsDep, tenant: TenantDep
) -> Response:
    """Delete an item of the tenant (204, also when there was none)."""
    value, _ = await _authorized(
        request, "delete", {"namespace": tuple(body.namespace), "key": body.key}
    )
    await items.delete(tenant, value["namespace"], value["key"], must_contain=_scope(request))
    return Response(status_code=204)


@router.post("/store/items/search", response_model=SearchItemsOut)
async def search_items(
    body: SearchItemsBody, request: Request, items: ItemsDep, tenant: TenantDep
) -> dict[str, Any]:
    """The tenant's live items under ``namespace_prefix`` matching ``filter``, newest first."""
    value, found = await _authorized(
        request,
        "search",
        {
            "namespace": tuple(body.namespace_prefix),
            "filter": body.filter,
            "limit": body.limit,
            "offset": body.offset,
            "query": body.query,
            "refresh_ttl": body.refresh_ttl,
        },
    )
    narrowed = _narrowed(_scope(request), found)
    if narrowed is None:
        return {"items": []}
    page = await items.search(
        tenant,
        value["namespace"],
        filter=value.get("filter"),
        limit=value.get("limit", body.limit),
        offset=value.get("offset", body.offset),
        query=value.get("query"),
        refresh_ttl=value.get("refresh_ttl") is not False,
        must_contain=narrowed,
    )
    return {"items": [{**item.dict(), "score": item.score} for item in page]}


@router.post("/store/namespaces", response_model=NamespacesOut)
async def list_namespaces(
    body: ListNamespacesBody, request: Request, items: ItemsDep, tenant: TenantDep
) -> dict[str, Any]:
    """The namespaces of the tenant's live items, sorted, cut to ``max_depth`` labels."""
    value, _ = await _authorized(
        request,
        "list_namespaces",
        {
            "namespace": None if body.prefix is None else tuple(body.prefix),
            "suffix": None if body.suffix is None else tuple(body.suffix),
            "max_depth": body.max_depth,
            "limit": body.limit,
            "offset": body.offset,
        },
    )
    found = await items.list_namespaces(
        tenant,
        prefix=value.get("namespace"),
        suffix=value.get("suffix"),
        max_depth=value.get("max_depth"),
        limit=value.get("limit", body.limit),
        offset=value.get("offset", body.offset),
        must_contain=_scope(request),
    )
    return {"namespaces": [list(namespace) for namespace in found]}


def _narrowed(scope: dict[str, Any], found: dict[str, Any] | None) -> dict[str, Any] | None:
    """The key's scope and a handler's filter together; None when they contradict."""
    if not found:
        return scope
    for name, wanted in found.items():
        if name in scope and scope[name] != wanted:
            return None
    return {**scope, **found}
