"""Tenancy: an engine sees only its own tenant's workflows and threads."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import NotFoundError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

NOTE_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "notes",
    "state": {
        "name": {"type": "string"},
        "log": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["name"],
    "nodes": {
        "note": {
            "kind": "function",
            "ref": "tn.note",
            "inputs": {"name": "state.name"},
            "writes": "log",
        },
        "gate": {"kind": "approval", "prompt": "OK, ${state.name}?", "writes": "review"},
    },
    "edges": [
        {"from": "START", "to": "note"},
        {"from": "note", "to": "gate"},
        {"from": "gate", "to": "END"},
    ],
}


@pytest.fixture
def registry() -> Registry:
    """``tn.note`` returns the name it is given."""
    registry = Registry()

    async def note(name: str) -> str:
        return name

    registry.add_function("tn.note", note)
    return registry


@pytest.fixture
async def engines(open_engine: OpenEngine, registry: Registry) -> tuple[Engine, Engine]:
    """Engines of two different tenants on the same database; only A has published."""
    engine_a = await open_engine(registry)
    engine_b = await open_engine(registry, tenant=f"t-{secrets.token_hex(4)}")
    await engine_a.publish(NOTE_DOC)
    return engine_a, engine_b


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda e: e.workflow("notes"), id="workflow"),
        pytest.param(lambda e: e.run("notes", {"name": "b"}), id="run"),
    ],
)
async def test_workflow_of_other_tenant_is_not_found(
    engines: tuple[Engine, Engine], operation: Callable[[Engine], Awaitable[Any]]
) -> None:
    """Tenant B cannot read or run a workflow only tenant A published (workflow.not_found)."""
    _, engine_b = engines

    with pytest.raises(NotFoundError) as caught:
        await operation(engine_b)

    assert caught.value.code == "workflow.not_found"


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda e, t: e.get_state(t), id="get_state"),
        pytest.param(lambda e, t: e.history(t), id="history"),
        pytest.param(lambda e, t: e.resume(t, "approve"), id="resume"),
    ],
)
async def test_thread_of_other_tenant_is_not_found(
    engines: tuple[Engine, Engine], operation: Callable[[Engine, str], Awaitable[Any]]
) -> None:
    """Tenant B cannot read or resume tenant A's thread (thread.not_found); A's stays paused."""
    engine_a, engine_b = engines
    paused = await engine_a.run("notes", {"name": "a"})

    with pytest.raises(NotFoundError) as caught:
        await operation(engine_b, paused.thread_id)

    assert caught.value.code == "thread.not_found"
    assert (await engine_a.get_state(paused.thread_id)).status == "interrupted"


async def test_same_workflow_id_is_versioned_per_tenant(engines: tuple[Engine, Engine]) -> None:
    """Tenant B publishing the same workflow id gets its own version 1."""
    engine_a, engine_b = engines
    await engine_a.publish({**NOTE_DOC, "title": "A's second"})

    published = await engine_b.publish(NOTE_DOC)

    assert (published.version, published.created) == (1, True)
    assert (await engine_a.workflow("notes")).version == 2


async def test_same_thread_id_in_two_tenants_is_separate(engines: tuple[Engine, Engine]) -> None:
    """Two tenants using one thread id get separate state and history."""
    engine_a, engine_b = engines
    await engine_b.publish(NOTE_DOC)
    paused_a = await engine_a.run("notes", {"name": "alpha"}, thread_id="same-id")

    await engine_b.run("notes", {"name": "beta"}, thread_id="same-id")
    state_a = await engine_a.get_state("same-id")
    history_b = await engine_b.history("same-id", limit=100)

    assert [h.values["name"] for h in history_b if h.values["name"] == "alpha"] == []
    assert state_a.values == paused_a.values
    assert [a.id for a in state_a.approvals] == [a.id for a in paused_a.approvals]
