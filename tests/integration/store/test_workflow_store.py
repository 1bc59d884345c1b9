"""Tests of WorkflowStore: immutable versions, lookups and tenant isolation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from graphwright.errors import NotFoundError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.store import Pool, WorkflowStore

pytestmark = pytest.mark.integration

MakeSpec = Callable[..., WorkflowSpec]


@pytest.fixture
def store(pool: Pool) -> WorkflowStore:
    """A WorkflowStore on the session's migrated database."""
    return WorkflowStore(pool)


async def test_publish_numbers_distinct_contents(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """New content becomes version max+1; known content returns its version with created=False."""
    first = await store.publish(tenant, make_spec(title="One"))
    again = await store.publish(tenant, make_spec(title="One"))
    second = await store.publish(tenant, make_spec(title="Two"))
    back_to_first = await store.publish(tenant, make_spec(title="One"))

    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert (second.version, second.created) == (2, True)
    assert (back_to_first.version, back_to_first.created) == (1, False)
    assert again.created_at == first.created_at


async def test_get_returns_latest_or_pinned_version(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """get() without a version reads the latest; with one, exactly that version."""
    one, two = make_spec(title="One"), make_spec(title="Two")
    await store.publish(tenant, one)
    await store.publish(tenant, two)

    latest = await store.get(tenant, "review-flow")
    pinned = await store.get(tenant, "review-flow", 1)

    assert (latest.version, latest.spec, latest.created) == (2, two, False)
    assert (pinned.version, pinned.spec) == (1, one)
    assert pinned.content_hash == one.content_hash() == pinned.spec.content_hash()


@pytest.mark.parametrize(
    ("workflow_id", "version", "code"),
    [
        ("missing", None, "workflow.not_found"),
        ("missing", 1, "workflow.not_found"),
        ("review-flow", 99, "workflow.version_not_found"),
    ],
    ids=["missing-latest", "missing-pinned", "missing-version"],
)
async def test_get_missing_raises_not_found(
    store: WorkflowStore,
    tenant: str,
    make_spec: MakeSpec,
    workflow_id: str,
    version: int | None,
    code: str,
) -> None:
    """A missing workflow or version raises NotFoundError with the matching code."""
    await store.publish(tenant, make_spec())

    with pytest.raises(NotFoundError) as caught:
        await store.get(tenant, workflow_id, version)

    assert caught.value.code == code


async def test_list_versions_and_workflows(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """list_versions is oldest first; list_workflows gives each workflow's latest version."""
    await store.publish(tenant, make_spec("beta", title="B1"))
    await store.publish(tenant, make_spec("alpha", title="A1"))
    await store.publish(tenant, make_spec("alpha", title="A2"))

    versions = await store.list_versions(tenant, "alpha")
    latest = await store.list_workflows(tenant)

    assert [(v.version, v.spec.title) for v in versions] == [(1, "A1"), (2, "A2")]
    assert [(w.workflow_id, w.version) for w in latest] == [("alpha", 2), ("beta", 1)]
    with pytest.raises(NotFoundError) as caught:
        await store.list_versions(tenant, "gamma")
    assert caught.value.code == "workflow.not_found"


async def test_concurrent_publishes_get_distinct_versions(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """Distinct contents published at once get versions 1..n without gaps or duplicates."""
    specs = [make_spec(title=f"Variant {n}") for n in range(12)]

    published = await asyncio.gather(*(store.publish(tenant, spec) for spec in specs))

    assert sorted(p.version for p in published) == list(range(1, 13))
    assert all(p.created for p in published)
    stored = {v.version: v.content_hash for v in await store.list_versions(tenant, "review-flow")}
    assert stored == {p.version: p.content_hash for p in published}


async def test_concurrent_identical_publishes_create_one_version(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """The same content published at once is stored once; the others see created=False."""
    published = await asyncio.gather(*(store.publish(tenant, make_spec()) for _ in range(8)))

    assert {p.version for p in published} == {1}
    assert sum(p.created for p in published) == 1


async def test_tenants_do_not_see_each_other(
    store: WorkflowStore, tenant: str, make_spec: MakeSpec
) -> None:
    """Another tenant cannot read a tenant's workflow and numbers its own versions from 1."""
    other = f"{tenant}-other"
    await store.publish(tenant, make_spec(title="One"))
    await store.publish(tenant, make_spec(title="Two"))

    with pytest.raises(NotFoundError) as caught:
        await store.get(other, "review-flow")
    assert caught.value.code == "workflow.not_found"
    assert await store.list_workflows(other) == []
    mine = await store.publish(other, make_spec(title="Two"))
    assert (mine.version, mine.created) == (1, True)
