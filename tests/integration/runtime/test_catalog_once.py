"""Catalog: a document is validated once, and each publish or load fetches a subworkflow once."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from graphwright.errors import WorkflowValidationError
from graphwright.graphs import validate
from graphwright.graphs.spec import SubworkflowNodeSpec, WorkflowSpec
from graphwright.registry import Registry
from graphwright.runtime.catalog import Catalog
from graphwright.store import Pool
from graphwright.store.workflows import PublishedWorkflow, WorkflowStore

pytestmark = pytest.mark.integration

Fetches = list[tuple[str, int | None]]


def one_node(workflow_id: str, node: dict[str, Any]) -> dict[str, Any]:
    """``START -> step -> END`` where ``step`` is ``node``; state ``label``."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {"label": {"type": "string", "nullable": True}},
        "nodes": {"step": node},
        "edges": [{"from": "START", "to": "step"}, {"from": "step", "to": "END"}],
    }


def calls(workflow_id: str, *children: str) -> dict[str, Any]:
    """A document running each of ``children`` (unpinned) one after the other."""
    nodes = {
        f"run_{index}": {"kind": "subworkflow", "workflow": child, "outputs": {"label": "label"}}
        for index, child in enumerate(children)
    }
    names = ["START", *nodes, "END"]
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {"label": {"type": "string", "nullable": True}},
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(names)],
    }


CHILD = one_node("child", {"kind": "function", "ref": "once.mark", "writes": "label"})
PARENT = calls("parent", "child")


def registry(*names: str) -> Registry:
    """A registry with each of ``names`` returning its own name."""
    made = Registry()
    for name in names:
        made.add_function(name, lambda name=name: name)
    return made


@pytest.fixture
def catalog(pool: Pool) -> Catalog:
    """A catalog on the session's database with ``once.mark`` registered."""
    return Catalog(WorkflowStore(pool), registry("once.mark"), cache_size=8)


def count_fetches(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> Fetches:
    """Record each ``(workflow id, version)`` the catalog's store reads with ``get``."""
    fetches: Fetches = []
    real = catalog.store.get

    async def get(tenant: str, workflow_id: str, version: int | None = None) -> PublishedWorkflow:
        fetches.append((workflow_id, version))
        return await real(tenant, workflow_id, version)

    monkeypatch.setattr(catalog.store, "get", get)
    return fetches


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the documents fully validated (``check_workflow`` runs), in order."""
    seen: list[str] = []
    real = validate.check_workflow

    def counting(data: Any, **options: Any) -> Any:
        seen.append(data.id if isinstance(data, WorkflowSpec) else str(data.get("id")))
        return real(data, **options)

    monkeypatch.setattr(validate, "check_workflow", counting)
    return seen


async def test_publish_fetches_the_subworkflow_once_and_validates_once(
    catalog: Catalog, tenant: str, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    """Publishing a parent fetches its one subworkflow once and validates the parent once."""
    await catalog.publish(tenant, CHILD)
    fetches = count_fetches(monkeypatch, catalog)
    validations.clear()

    published = await catalog.publish(tenant, PARENT)

    assert fetches == [("child", None)]
    assert validations == ["parent"]
    node = published.spec.nodes["run_0"]
    assert isinstance(node, SubworkflowNodeSpec)
    assert node.version == 1


async def test_publish_fetches_each_nested_subworkflow_once(
    catalog: Catalog, tenant: str, monkeypatch: pytest.MonkeyPatch, validations: list[str]
) -> None:
    """A child run twice and its own child are each fetched once; only the parent is validated."""
    await catalog.publish(tenant, CHILD)
    await catalog.publish(tenant, calls("middle", "child"))
    fetches = count_fetches(monkeypatch, catalog)
    validations.clear()

    await catalog.publish(tenant, calls("top", "middle", "middle"))

    assert fetches == [("middle", None), ("child", 1)]
    assert validations == ["top"]


async def test_first_load_fetches_each_workflow_once_without_validating(
    catalog: Catalog,
    pool: Pool,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
    validations: list[str],
) -> None:
    """A fresh catalog's first load reads the version and each subworkflow once, validating none."""
    await catalog.publish(tenant, CHILD)
    await catalog.publish(tenant, PARENT)
    loader = Catalog(WorkflowStore(pool), catalog.registry, cache_size=8)
    fetches = count_fetches(monkeypatch, loader)
    validations.clear()

    loaded = await loader.load(tenant, "parent", None)
    again = await loader.load(tenant, "parent", None)

    assert fetches == [("parent", 1), ("child", 1)]
    assert validations == []
    assert again is loaded
    assert set(loaded.compiled.subworkflows) == {("child", 1)}


async def test_load_refuses_a_version_whose_function_was_removed(
    catalog: Catalog, pool: Pool, tenant: str
) -> None:
    """Loading with a registry that lost a function raises registry.unknown_name for the parent."""
    await catalog.publish(tenant, one_node("solo", {"kind": "function", "ref": "once.mark"}))
    loader = Catalog(WorkflowStore(pool), registry("once.other"), cache_size=8)

    with pytest.raises(WorkflowValidationError) as info:
        await loader.load(tenant, "solo", None)

    assert [(p.code, p.pointer) for p in info.value.problems] == [
        ("registry.unknown_name", "/nodes/step/ref")
    ]
    assert info.value.details["workflow_id"] == "solo"


async def test_load_refuses_a_subworkflow_whose_function_was_removed(
    catalog: Catalog, pool: Pool, tenant: str
) -> None:
    """Loading a parent whose child lost its function raises registry.unknown_name for the child."""
    await catalog.publish(tenant, CHILD)
    await catalog.publish(tenant, PARENT)
    loader = Catalog(WorkflowStore(pool), registry("once.other"), cache_size=8)

    with pytest.raises(WorkflowValidationError) as info:
        await loader.load(tenant, "parent", 1)

    assert [(p.code, p.pointer) for p in info.value.problems] == [
        ("registry.unknown_name", "/nodes/step/ref")
    ]
    assert info.value.details["workflow_id"] == "child"
