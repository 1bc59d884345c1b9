"""The Store's items in ``gw_store_items``: put, get, delete, search, list namespaces, sweep.

Every call but :meth:`StoreItems.sweep_expired` takes the tenant and scopes its one
SQL statement to it (``tenant_id = %s``), so no namespace, prefix or filter can reach
another tenant's items. Items whose TTL has passed are invisible to every read at once;
:meth:`StoreItems.sweep_expired` deletes them later in bounded batches.

``must_contain`` (a JSON object) narrows reads and deletes to items whose value holds
it (PostgreSQL ``value @> must_contain``): the metadata scope of a scoped API key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from langgraph.store.base import Item, SearchItem
from psycopg.types.json import Jsonb

from graphwright.errors import InvalidInputError
from graphwright.store.item_checks import (
    check_key,
    check_namespace,
    check_page,
    check_query,
    check_ttl,
    check_value,
    filter_clauses,
)
from graphwright.store.pool import Pool

__all__ = ["SWEEP_BATCH", "StoreItems"]

SWEEP_BATCH: Final = 1000
"""Most expired items one sweep statement deletes."""

_LIVE: Final = "(expires_at is null or expires_at > now())"
_COLUMNS: Final = "prefix, key, value, created_at, updated_at"
_REFRESH_S: Final = "now() + make_interval(secs => s.ttl_minutes * 60)"


def _prefix_range(labels: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The namespace ``labels`` and everything under it: an index range on ``prefix``."""
    joined = ".".join(labels)
    return "(prefix = %s or (prefix >= %s and prefix < %s))", [joined, joined + ".", joined + "/"]


def _item(row: Mapping[str, Any]) -> Item:
    return Item(
        namespace=tuple(row["prefix"].split(".")),
        key=row["key"],
        value=row["value"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _search_item(row: Mapping[str, Any]) -> SearchItem:
    namespace = tuple(row["prefix"].split("."))
    return SearchItem(namespace, row["key"], row["value"], row["created_at"], row["updated_at"])


class StoreItems:
    """The Store's items on ``pool``; each call is limited to one tenant."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit, dict rows)."""
        self._pool = pool

    async def put(
        self,
        tenant: str,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        *,
        ttl: float | None = None,
        must_contain: Mapping[str, Any] | None = None,
    ) -> None:
        """Create or replace an item; ``ttl`` (minutes) sets or clears its expiry.

        Replacing an item that expired but was not swept yet starts it afresh
        (``created_at`` is now).

        Raises:
            InvalidInputError: ``store.invalid_namespace``, ``store.invalid_key``,
                ``store.invalid_value``, ``store.invalid_ttl``; ``store.out_of_scope``
                when ``value`` does not hold ``must_contain``.
        """
        labels = check_namespace(namespace, put=True)
        check_key(key)
        stored = check_value(value)
        minutes = check_ttl(ttl)
        if must_contain and not _holds(value, must_contain):
            raise InvalidInputError(
                "this caller may only store values holding its scope "
                f"({', '.join(sorted(must_contain))})",
                code="store.out_of_scope",
                details={"problems": [{"pointer": "/value", "message": "outside the scope"}]},
            )
        async with self._pool.connection() as conn:
            await conn.execute(
                "insert into gw_store_items"
                " (tenant_id, prefix, key, value, ttl_minutes, expires_at)"
                " values (%(t)s, %(p)s, %(k)s, %(v)s, %(m)s::float8,"
                "  now() + make_interval(secs => %(m)s::float8 * 60))"
                " on conflict (tenant_id, prefix, key) do update set"
                "  value = excluded.value, updated_at = now(),"
                "  ttl_minutes = excluded.ttl_minutes, expires_at = excluded.expires_at,"
                "  created_at = case when gw_store_items.expires_at <= now() then now()"
                "   else gw_store_items.created_at end",
                {"t": tenant, "p": ".".join(labels), "k": key, "v": stored, "m": minutes},
            )

    async def get(
        self,
        tenant: str,
        namespace: Sequence[str],
        key: str,
        *,
        refresh_ttl: bool = True,
        must_contain: Mapping[str, Any] | None = None,
    ) -> Item | None:
        """The live item, or None; ``refresh_ttl`` restarts its TTL (if it has one).

        Raises:
            InvalidInputError: ``store.invalid_namespace``, ``store.invalid_key``.
        """
        labels = check_namespace(namespace)
        check_key(key)
        where = f"tenant_id = %s and prefix = %s and key = %s and {_LIVE}"
        params: list[Any] = [tenant, ".".join(labels), key]
        if must_contain:
            where += " and value @> %s"
            params.append(Jsonb(dict(must_contain)))
        sql = f"select {_COLUMNS} from gw_store_items where {where}"
        if refresh_ttl:
            # One statement: read the item and restart its TTL if it has one.
            sql = (
                f"with hit as (select {_COLUMNS}, ttl_minutes from gw_store_items where {where}),"
                f" refreshed as (update gw_store_items s set expires_at = {_REFRESH_S}"
                "  from hit where s.tenant_id = %s and s.prefix = hit.prefix"
                "  and s.key = hit.key and hit.ttl_minutes is not null)"
                f" select {_COLUMNS} from hit"
            )
            params.append(tenant)
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            row = await cur.fetchone()
        return None if row is None else _item(row)

    async def delete(
        self,
        tenant: str,
        namespace: Sequence[str],
        key: str,
        *,
        must_contain: Mapping[str, Any] | None = None,
    ) -> bool:
        """Delete an item; returns whether one was there (deleting nothing is no error).

        Raises:
            InvalidInputError: ``store.invalid_namespace``, ``store.invalid_key``.
        """
        labels = check_namespace(namespace)
        check_key(key)
        sql = "delete from gw_store_items where tenant_id = %s and prefix = %s and key = %s"
        params: list[Any] = [tenant, ".".join(labels), key]
        if must_contain:
            sql += " and value @> %s"
            params.append(Jsonb(dict(must_contain)))
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount > 0

    async def search(
        self,
        tenant: str,
        namespace_prefix: Sequence[str],
        *,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        query: str | None = None,
        refresh_ttl: bool = True,
        must_contain: Mapping[str, Any] | None = None,
    ) -> list[SearchItem]:
        """Live items in the namespace ``namespace_prefix`` and below, newest update first.

        ``refresh_ttl`` restarts the TTL of the items returned.

        Raises:
            InvalidInputError: ``store.invalid_namespace``, ``store.invalid_filter``,
                ``store.invalid_page``, ``store.query_unsupported`` (any non-empty
                ``query``: there is no vector index).
        """
        labels = check_namespace(namespace_prefix, field="namespace_prefix", allow_empty=True)
        check_query(query)
        limit, offset = check_page(limit, offset)
        clauses, params = filter_clauses(filter)
        conditions = ["tenant_id = %s", _LIVE]
        values: list[Any] = [tenant]
        if labels:
            sql, extra = _prefix_range(labels)
            conditions.append(sql)
            values.extend(extra)
        conditions.extend(clauses)
        values.extend(params)
        if must_contain:
            conditions.append("value @> %s")
            values.append(Jsonb(dict(must_contain)))
        page = (
            f"select {_COLUMNS} from gw_store_items where {' and '.join(conditions)}"
            " order by updated_at desc, prefix, key limit %s offset %s"
        )
        values.extend([limit, offset])
        if refresh_ttl:
            sql = (
                f"with page as ({page}), refreshed as ("
                f" update gw_store_items s set expires_at = {_REFRESH_S}"
                "  from page where s.tenant_id = %s and s.prefix = page.prefix"
                "  and s.key = page.key and s.ttl_minutes is not null)"
                f" select {_COLUMNS} from page order by updated_at desc, prefix, key"
            )
            values.append(tenant)
        else:
            sql = page
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, values)
            rows = await cur.fetchall()
        return [_search_item(row) for row in rows]

    async def list_namespaces(
        self,
        tenant: str,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
        must_contain: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, ...]]:
        """The distinct namespaces of live items, sorted, cut to ``max_depth`` labels.

        In ``prefix`` and ``suffix``, the label ``*`` matches any one label.

        Raises:
            InvalidInputError: ``store.invalid_namespace``, ``store.invalid_page``.
        """
        first = check_namespace(prefix or (), field="prefix", allow_empty=True)
        last = check_namespace(suffix or (), field="suffix", allow_empty=True)
        limit, offset = check_page(limit, offset)
        if max_depth is not None and (
            not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < 1
        ):
            raise InvalidInputError(
                "max_depth is an integer of at least 1",
                code="store.invalid_page",
                details={"problems": [{"pointer": "/max_depth", "message": "at least 1"}]},
            )
        inner = ["tenant_id = %s", _LIVE]
        params: list[Any] = [tenant]
        fixed: list[str] = []
        for label in first:  # the labels before the first wildcard fix an index range
            if label == "*":
                break
            fixed.append(label)
        if fixed:
            sql, extra = _prefix_range(tuple(fixed))
            inner.append(sql)
            params.extend(extra)
        if must_contain:
            inner.append("value @> %s")
            params.append(Jsonb(dict(must_contain)))
        outer = ["cardinality(labels) >= %s", "cardinality(labels) >= %s"]
        outer_params: list[Any] = [len(first), len(last)]
        for index, label in enumerate(first):
            if label != "*":
                outer.append("labels[%s] = %s")
                outer_params.extend([index + 1, label])
        for index, label in enumerate(last):
            if label != "*":
                outer.append("labels[cardinality(labels) - %s] = %s")
                outer_params.extend([len(last) - 1 - index, label])
        depth = "labels" if max_depth is None else "labels[1:%s]"
        depth_params = [] if max_depth is None else [max_depth]
        sql = (
            f"select array_to_string({depth}, '.') collate \"C\" as ns from ("
            " select string_to_array(prefix, '.') as labels from gw_store_items"
            f" where {' and '.join(inner)}) candidates"
            f" where {' and '.join(outer)}"
            " group by ns order by ns limit %s offset %s"
        )
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, [*depth_params, *params, *outer_params, limit, offset])
            rows = await cur.fetchall()
        return [tuple(row["ns"].split(".")) for row in rows]

    async def sweep_expired(self, *, batch: int = SWEEP_BATCH) -> int:
        """Delete up to ``batch`` expired items of any tenant; returns how many.

        Concurrent sweepers skip each other's rows (``skip locked``).
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "with doomed as (select tenant_id, prefix, key from gw_store_items"
                "  where expires_at <= now() order by expires_at limit %s"
                "  for update skip locked)"
                " delete from gw_store_items s using doomed d"
                " where s.tenant_id = d.tenant_id and s.prefix = d.prefix and s.key = d.key",
                (batch,),
            )
            return cur.rowcount

    async def count(self, tenant: str | None = None) -> int:
        """Rows in the table (of ``tenant``, or all), expired ones included: for checks."""
        async with self._pool.connection() as conn:
            if tenant is None:
                cur = await conn.execute("select count(*) as n from gw_store_items")
            else:
                cur = await conn.execute(
                    "select count(*) as n from gw_store_items where tenant_id = %s", (tenant,)
                )
            row = await cur.fetchone()
        return int(row["n"]) if row else 0


def _holds(value: Any, wanted: Any) -> bool:
    """Whether ``value`` contains ``wanted`` as PostgreSQL's ``@>`` would (objects, scalars)."""
    if isinstance(wanted, Mapping):
        return isinstance(value, Mapping) and all(
            key in value and _holds(value[key], sub) for key, sub in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(value, list) and all(
            any(_holds(have, want) for have in value) for want in wanted
        )
    return bool(value == wanted and type(value) is type(wanted)) or (
        isinstance(value, int | float)
        and isinstance(wanted, int | float)
        and not isinstance(value, bool)
        and not isinstance(wanted, bool)
        and value == wanted
    )
