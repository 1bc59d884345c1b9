"""The Store's items against a real PostgreSQL: tenancy, prefixes, filters, namespaces, TTL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.store.base import InvalidNamespaceError

from graphwright.errors import InvalidInputError
from graphwright.runtime.tenant_store import StoreSweeper, TenantStore
from graphwright.store import Pool, apply_migrations
from graphwright.store.items import StoreItems

pytestmark = pytest.mark.integration


async def expire(pool: Pool, tenant: str, key: str) -> None:
    """Move an item's expiry into the past (the clock, faked in the database)."""
    async with pool.connection() as conn:
        await conn.execute(
            "update gw_store_items set expires_at = now() - interval '1 second'"
            " where tenant_id = %s and key = %s",
            (tenant, key),
        )


async def expiry_of(pool: Pool, tenant: str, key: str) -> Any:
    """The stored expiry of an item."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select expires_at from gw_store_items where tenant_id = %s and key = %s",
            (tenant, key),
        )
        row = await cur.fetchone()
    assert row is not None
    return row["expires_at"]


async def test_put_get_replace_delete(pool: Pool, tenant: str) -> None:
    """Put creates, put again replaces (created_at kept), get reads, delete removes; None after."""
    items = StoreItems(pool)
    await items.put(tenant, ("users", "u1"), "prefs", {"theme": "dark"})
    first = await items.get(tenant, ("users", "u1"), "prefs")
    await items.put(tenant, ("users", "u1"), "prefs", {"theme": "light"})
    second = await items.get(tenant, ("users", "u1"), "prefs")
    assert first is not None
    assert second is not None
    assert first.value == {"theme": "dark"}
    assert second.value == {"theme": "light"}
    assert second.namespace == ("users", "u1")
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert await items.delete(tenant, ("users", "u1"), "prefs") is True
    assert await items.delete(tenant, ("users", "u1"), "prefs") is False
    assert await items.get(tenant, ("users", "u1"), "prefs") is None


async def test_tenants_never_see_each_other(pool: Pool, tenant: str) -> None:
    """Same namespace and key in two tenants: each reads, searches, lists and deletes its own."""
    items = StoreItems(pool)
    other = tenant + "-other"
    await items.put(tenant, ("shared",), "k", {"owner": "a"})
    await items.put(other, ("shared",), "k", {"owner": "b"})
    await items.put(other, ("only-b",), "k", {"owner": "b"})
    mine = await items.get(tenant, ("shared",), "k")
    assert mine is not None
    assert mine.value == {"owner": "a"}
    assert [i.value for i in await items.search(tenant, ())] == [{"owner": "a"}]
    assert await items.list_namespaces(tenant) == [("shared",)]
    assert await items.get(tenant, ("only-b",), "k") is None
    assert await items.delete(tenant, ("only-b",), "k") is False
    theirs = await items.get(other, ("only-b",), "k")
    assert theirs is not None


async def test_prefix_search_matches_whole_labels_and_literal_characters(
    pool: Pool, tenant: str
) -> None:
    """Prefix ("user_1",) finds its own namespace and below, never "user_10" or "userX1"."""
    items = StoreItems(pool)
    for namespace in [("user_1",), ("user_1", "notes"), ("user_10",), ("userX1",), ("user%",)]:
        await items.put(tenant, namespace, "k", {"ns": "/".join(namespace)})
    found = await items.search(tenant, ("user_1",))
    assert sorted(i.value["ns"] for i in found) == ["user_1", "user_1/notes"]
    assert [i.value["ns"] for i in await items.search(tenant, ("user%",))] == ["user%"]
    assert await items.search(tenant, ("user",)) == []


@pytest.mark.parametrize(
    ("filter", "keys"),
    [
        ({"kind": "note"}, ["a", "b"]),
        ({"kind": {"$eq": "task"}}, ["c"]),
        ({"kind": {"$ne": "note"}}, ["c", "d"]),
        ({"score": {"$gt": 5}}, ["b", "c"]),
        ({"score": {"$gte": 5, "$lt": 10}}, ["a", "b"]),
        ({"score": {"$lte": 4.5}}, []),
        ({"day": {"$gte": "2024-02-01"}}, ["b", "c"]),
        ({"meta": {"lang": "en"}}, ["a"]),
        ({"tags": ["x", "y"]}, ["b"]),
        ({"kind": "note", "score": {"$gt": 5}}, ["b"]),
    ],
    ids=[
        "equal",
        "eq",
        "ne-includes-missing",
        "gt-number",
        "range",
        "lte-none",
        "string-order",
        "nested-object",
        "array-equality",
        "two-conditions",
    ],
)
async def test_search_filters(
    pool: Pool, tenant: str, filter: dict[str, Any], keys: list[str]
) -> None:
    """Filters compare JSON values; comparisons only match fields of the operand's type."""
    items = StoreItems(pool)
    values = {
        "a": {"kind": "note", "score": 5, "day": "2024-01-15", "meta": {"lang": "en"}},
        "b": {"kind": "note", "score": 7.5, "day": "2024-02-01", "tags": ["x", "y"]},
        "c": {"kind": "task", "score": 10, "day": "2024-03-01", "tags": ["y"]},
        "d": {"score": "high"},
    }
    for key, value in values.items():
        await items.put(tenant, ("docs",), key, value)
    found = await items.search(tenant, ("docs",), filter=filter, limit=100)
    assert sorted(i.key for i in found) == keys


async def test_search_pages_newest_first(pool: Pool, tenant: str) -> None:
    """limit/offset page through items ordered by last update, newest first."""
    items = StoreItems(pool)
    for index in range(5):
        await items.put(tenant, ("log",), f"k{index}", {"n": index})
    await items.put(tenant, ("log",), "k0", {"n": 0, "touched": True})
    first = await items.search(tenant, ("log",), limit=2)
    rest = await items.search(tenant, ("log",), limit=10, offset=2)
    assert [i.key for i in first] == ["k0", "k4"]
    assert [i.key for i in rest] == ["k3", "k2", "k1"]
    assert all(i.score is None for i in first)


async def test_list_namespaces_prefix_suffix_depth_wildcards(pool: Pool, tenant: str) -> None:
    """Namespaces are distinct, sorted, matched on whole labels, '*' is any label, depth cuts."""
    items = StoreItems(pool)
    for namespace in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("ab", "f"),
    ]:
        await items.put(tenant, namespace, "k", {})
    listing = items.list_namespaces
    assert await listing(tenant, prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert await listing(tenant, suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f"), ("ab", "f")]
    assert await listing(tenant, prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert await listing(tenant, prefix=("a",), suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
    ]
    assert await listing(tenant, max_depth=1) == [("a",), ("ab",)]
    assert await listing(tenant, limit=2, offset=1) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]


@pytest.mark.parametrize(
    ("call", "code", "pointer"),
    [
        (lambda s, t: s.put(t, (), "k", {}), "store.invalid_namespace", "/namespace"),
        (lambda s, t: s.put(t, ("a", ""), "k", {}), "store.invalid_namespace", "/namespace/1"),
        (lambda s, t: s.put(t, ("a.b",), "k", {}), "store.invalid_namespace", "/namespace/0"),
        (lambda s, t: s.put(t, ("langgraph",), "k", {}), "store.invalid_namespace", "/namespace/0"),
        (lambda s, t: s.put(t, ("a",), "", {}), "store.invalid_key", "/key"),
        (lambda s, t: s.put(t, ("a",), "k" * 1025, {}), "store.invalid_key", "/key"),
        (lambda s, t: s.put(t, ("a",), "k", [1]), "store.invalid_value", "/value"),
        (lambda s, t: s.put(t, ("a",), "k", {"x": "\x00"}), "store.invalid_value", "/value/x"),
        (lambda s, t: s.put(t, ("a",), "k", {"x": float("nan")}), "store.invalid_value", "/value"),
        (lambda s, t: s.put(t, ("a",), "k", {}, ttl=0), "store.invalid_ttl", "/ttl"),
        (lambda s, t: s.search(t, ("a",), query="cats"), "store.query_unsupported", "/query"),
        (lambda s, t: s.search(t, (), filter={"x": {"$in": [1]}}), "store.invalid_filter", None),
        (lambda s, t: s.search(t, (), filter={"x": {"$gt": True}}), "store.invalid_filter", None),
        (lambda s, t: s.search(t, (), filter={"$or": []}), "store.invalid_filter", "/filter/$or"),
        (lambda s, t: s.search(t, (), limit=0), "store.invalid_page", "/limit"),
    ],
    ids=[
        "empty-namespace",
        "empty-label",
        "dot-in-label",
        "reserved-root",
        "empty-key",
        "long-key",
        "value-not-object",
        "nul-in-value",
        "nan-in-value",
        "zero-ttl",
        "query",
        "unknown-operator",
        "bool-comparison",
        "top-level-operator",
        "zero-limit",
    ],
)
async def test_bad_input_is_refused_with_a_code(
    pool: Pool, tenant: str, call: Any, code: str, pointer: str | None
) -> None:
    """Invalid namespaces, keys, values, TTLs, filters, pages and queries raise store.* codes."""
    with pytest.raises(InvalidInputError) as caught:
        await call(StoreItems(pool), tenant)
    assert caught.value.code == code
    if pointer is not None:
        assert caught.value.details["problems"][0]["pointer"] == pointer


async def test_expired_items_are_invisible_then_swept_in_batches(
    fresh_pool: Pool, tenant: str
) -> None:
    """Expired items vanish from get/search/namespaces; the sweeper deletes them in batches."""
    pool = fresh_pool  # alone in its database: no live server's sweeper races the counts
    await apply_migrations(pool)
    items = StoreItems(pool)
    for index in range(5):
        await items.put(tenant, ("tmp",), f"k{index}", {"i": index}, ttl=60)
    await items.put(tenant, ("keep",), "k", {"kept": True})
    for index in range(5):
        await expire(pool, tenant, f"k{index}")
    assert await items.get(tenant, ("tmp",), "k0") is None
    assert await items.search(tenant, ("tmp",)) == []
    assert await items.list_namespaces(tenant) == [("keep",)]
    assert await items.count(tenant) == 6  # invisible, not yet deleted
    assert await items.sweep_expired(batch=2) == 2  # one bounded statement
    assert await items.count(tenant) == 4
    sweeper = StoreSweeper(items, interval_seconds=3600, batch=2)
    await sweeper.sweep()
    assert await items.count(tenant) == 1
    assert await items.sweep_expired(batch=2) == 0


async def test_put_over_an_expired_item_starts_afresh(pool: Pool, tenant: str) -> None:
    """Replacing an expired (unswept) item makes a new item: new created_at, no TTL unless given."""
    items = StoreItems(pool)
    await items.put(tenant, ("tmp",), "k", {"v": 1}, ttl=60)
    before = await items.get(tenant, ("tmp",), "k")
    await expire(pool, tenant, "k")
    await items.put(tenant, ("tmp",), "k", {"v": 2})
    after = await items.get(tenant, ("tmp",), "k")
    assert before is not None
    assert after is not None
    assert after.created_at > before.created_at
    assert await expiry_of(pool, tenant, "k") is None


async def test_reads_refresh_the_ttl_unless_asked_not_to(pool: Pool, tenant: str) -> None:
    """get and search restart an item's TTL by default; refresh_ttl=False leaves it."""
    items = StoreItems(pool)
    await items.put(tenant, ("tmp",), "k", {"v": 1}, ttl=60)
    async with pool.connection() as conn:
        await conn.execute(
            "update gw_store_items set expires_at = now() + interval '1 minute'"
            " where tenant_id = %s",
            (tenant,),
        )
    shortened = await expiry_of(pool, tenant, "k")
    await items.get(tenant, ("tmp",), "k", refresh_ttl=False)
    await items.search(tenant, ("tmp",), refresh_ttl=False)
    assert await expiry_of(pool, tenant, "k") == shortened
    await items.get(tenant, ("tmp",), "k")
    after_get = await expiry_of(pool, tenant, "k")
    assert (after_get - shortened).total_seconds() > 58 * 60
    await items.search(tenant, ("tmp",))
    assert await expiry_of(pool, tenant, "k") >= after_get


async def test_scope_narrows_reads_and_refuses_writes_outside_it(pool: Pool, tenant: str) -> None:
    """must_contain: items without the scope are invisible and undeletable; puts need it."""
    items = StoreItems(pool)
    scope = {"client_id": "acme"}
    await items.put(tenant, ("m",), "in", {"client_id": "acme", "x": 1})
    await items.put(tenant, ("m",), "out", {"client_id": "globex"})
    await items.put(tenant, ("n",), "out", {"client_id": "globex"})
    assert await items.get(tenant, ("m",), "out", must_contain=scope) is None
    assert [i.key for i in await items.search(tenant, (), must_contain=scope)] == ["in"]
    assert await items.list_namespaces(tenant, must_contain=scope) == [("m",)]
    assert await items.delete(tenant, ("m",), "out", must_contain=scope) is False
    with pytest.raises(InvalidInputError) as caught:
        await items.put(tenant, ("m",), "new", {"client_id": "globex"}, must_contain=scope)
    assert caught.value.code == "store.out_of_scope"


async def test_tenant_store_is_a_langgraph_base_store(pool: Pool, tenant: str) -> None:
    """aput/aget/asearch/alist_namespaces/adelete work, with TTL; LangGraph's own checks apply."""
    store = TenantStore(StoreItems(pool), tenant)
    await store.aput(("mem", "u1"), "a", {"food": "pizza"}, ttl=5)
    await store.aput(("mem", "u2"), "b", {"food": "soup"})
    got = await store.aget(("mem", "u1"), "a")
    assert got is not None
    assert got.value == {"food": "pizza"}
    found = await store.asearch(("mem",), filter={"food": "soup"})
    assert [(i.namespace, i.key) for i in found] == [(("mem", "u2"), "b")]
    assert await store.alist_namespaces(prefix=("mem",), max_depth=1) == [("mem",)]
    await store.adelete(("mem", "u1"), "a")
    assert await store.aget(("mem", "u1"), "a") is None
    with pytest.raises(InvalidNamespaceError):
        await store.aput(("a.b",), "k", {})
    with pytest.raises(InvalidInputError) as caught:
        await store.asearch(("mem",), query="soup")
    assert caught.value.code == "store.query_unsupported"
    other = TenantStore(StoreItems(pool), tenant + "-x")
    assert await other.asearch(("mem",)) == []


async def test_sync_calls_work_from_threads_not_on_the_loop(pool: Pool, tenant: str) -> None:
    """Sync node code (a worker thread) can put and get; a sync call on the loop raises."""
    store = TenantStore(StoreItems(pool), tenant)

    def sync_node() -> Any:
        store.put(("sync",), "k", {"from": "thread"})
        return store.get(("sync",), "k")

    item = await asyncio.to_thread(sync_node)
    assert item is not None
    assert item.value == {"from": "thread"}
    with pytest.raises(RuntimeError, match="event loop"):
        store.get(("sync",), "k")
