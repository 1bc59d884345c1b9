"""Engine publishing: versioning by content, threads pinned to their version, subworkflow pins."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.graphs.spec import SubworkflowNodeSpec
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

OpenEngine = Callable[..., Awaitable[Engine]]

pytestmark = pytest.mark.integration


def gated_doc(finisher: str, *, title: str = "Gated") -> dict[str, Any]:
    """``prepare -> gate -> finish`` where ``finish`` calls ``finisher``."""
    return {
        "dsl": "graphwright/v1",
        "id": "gated",
        "title": title,
        "state": {
            "name": {"type": "string"},
            "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
            "review": {"type": "object", "nullable": True},
        },
        "input": ["name"],
        "nodes": {
            "prepare": {"kind": "function", "ref": "pub.prepare", "writes": "trail"},
            "gate": {"kind": "approval", "prompt": "Go on, ${state.name}?", "writes": "review"},
            "finish": {"kind": "function", "ref": finisher, "writes": "trail"},
        },
        "edges": [
            {"from": "START", "to": "prepare"},
            {"from": "prepare", "to": "gate"},
            {"from": "gate", "to": "finish"},
            {"from": "finish", "to": "END"},
        ],
    }


def child_doc(marker: str) -> dict[str, Any]:
    """A one-node child workflow writing ``marker`` (via its own function) to ``label``."""
    return {
        "dsl": "graphwright/v1",
        "id": "child",
        "state": {"label": {"type": "string", "nullable": True}},
        "nodes": {"mark": {"kind": "function", "ref": f"pub.{marker}", "writes": "label"}},
        "edges": [{"from": "START", "to": "mark"}, {"from": "mark", "to": "END"}],
    }


PARENT_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "parent",
    "state": {"seen": {"type": "string", "nullable": True}},
    "nodes": {"sub": {"kind": "subworkflow", "workflow": "child", "outputs": {"seen": "label"}}},
    "edges": [{"from": "START", "to": "sub"}, {"from": "sub", "to": "END"}],
}


@pytest.fixture
def registry() -> Registry:
    """Functions for the publishing workflows (no side effects)."""
    registry = Registry()
    registry.add_function("pub.prepare", lambda: "prepare")
    registry.add_function("pub.finish_v1", lambda: "finish-v1")
    registry.add_function("pub.finish_v2", lambda: "finish-v2")
    registry.add_function("pub.child_v1", lambda: "child-v1")
    registry.add_function("pub.child_v2", lambda: "child-v2")
    return registry


async def test_identical_content_is_a_no_op(open_engine: OpenEngine, registry: Registry) -> None:
    """Publishing the same content twice returns the same version with created False."""
    engine = await open_engine(registry)

    first = await engine.publish(gated_doc("pub.finish_v1"))
    again = await engine.publish(gated_doc("pub.finish_v1"))

    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    assert again.content_hash == first.content_hash


async def test_changed_content_publishes_next_version(
    open_engine: OpenEngine, registry: Registry
) -> None:
    """Changed content becomes version + 1 and the latest version is the new one."""
    engine = await open_engine(registry)

    await engine.publish(gated_doc("pub.finish_v1"))
    second = await engine.publish(gated_doc("pub.finish_v1", title="Gated, retitled"))

    assert (second.version, second.created) == (2, True)
    assert (await engine.workflow("gated")).version == 2
    assert (await engine.workflow("gated", 1)).spec.title == "Gated"


async def test_thread_keeps_its_version_after_a_new_publish(
    open_engine: OpenEngine, registry: Registry
) -> None:
    """A thread paused on v1 resumes with v1's nodes after v2 is published; new threads use v2."""
    engine = await open_engine(registry)
    await engine.publish(gated_doc("pub.finish_v1"))
    paused = await engine.run("gated", {"name": "ana"})
    assert paused.status == "interrupted"

    v2 = await engine.publish(gated_doc("pub.finish_v2"))
    resumed = await engine.resume(paused.thread_id, "approve")
    fresh = await engine.resume((await engine.run("gated", {"name": "bo"})).thread_id, "approve")

    assert v2.version == 2
    assert (resumed.status, resumed.workflow_version) == ("completed", 1)
    assert resumed.values["trail"] == ["prepare", "finish-v1"]
    assert (await engine.get_state(paused.thread_id)).workflow_version == 1
    assert (fresh.workflow_version, fresh.values["trail"]) == (2, ["prepare", "finish-v2"])


async def test_run_on_an_explicit_older_version(
    open_engine: OpenEngine, registry: Registry
) -> None:
    """``run(version=1)`` starts a new thread on v1 even when v2 is the latest."""
    engine = await open_engine(registry)
    await engine.publish(gated_doc("pub.finish_v1"))
    await engine.publish(gated_doc("pub.finish_v2"))

    paused = await engine.run("gated", {"name": "ana"}, version=1)
    done = await engine.resume(paused.thread_id, "approve")

    assert (done.workflow_version, done.values["trail"]) == (1, ["prepare", "finish-v1"])


async def test_unpinned_subworkflow_is_pinned_at_publish(
    open_engine: OpenEngine, registry: Registry
) -> None:
    """A parent keeps running the child version current at its publish until republished."""
    engine = await open_engine(registry)
    await engine.publish(child_doc("child_v1"))
    parent_v1 = await engine.publish(PARENT_DOC)

    await engine.publish(child_doc("child_v2"))
    before_republish = await engine.run("parent")
    parent_v2 = await engine.publish(PARENT_DOC)
    after_republish = await engine.run("parent")

    stored = parent_v1.spec.nodes["sub"]
    assert isinstance(stored, SubworkflowNodeSpec)
    assert stored.version == 1
    assert before_republish.output == {"seen": "child-v1"}
    assert (parent_v2.version, parent_v2.created) == (2, True)
    assert after_republish.output == {"seen": "child-v2"}
