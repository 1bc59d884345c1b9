"""Documents and registries shared by the unit tests."""

from __future__ import annotations

import copy
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import WorkflowResolver
from graphwright.nodes.context import RunContext
from graphwright.registry import Registry

__all__ = [
    "DROP",
    "apply",
    "demo_registry",
    "resolver",
    "run_workflow",
    "valid_document",
    "workflow",
]

_VALID: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "demo",
    "title": "Demo",
    "state": {
        "topic": {"type": "string"},
        "draft": {"type": "string", "nullable": True},
        "items": {"type": "array", "items": {"type": "integer"}},
        "results": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
        "review": {"type": "object"},
    },
    "input": ["topic", "items"],
    "output": ["draft", "results"],
    "nodes": {
        "write": {
            "kind": "function",
            "ref": "demo.write",
            "inputs": {"topic": "state.topic"},
            "writes": "draft",
        },
        "score": {
            "kind": "map",
            "over": "state.items",
            "max_concurrency": 2,
            "node": {"kind": "function", "ref": "demo.double", "writes": "results"},
        },
        "approve": {
            "kind": "approval",
            "prompt": "Publish ${state.draft}?",
            "decisions": ["approve", "reject", "edit"],
            "editable": ["draft"],
            "writes": "review",
        },
    },
    "edges": [
        {"from": "START", "to": "write"},
        {"from": "write", "to": "score"},
        {"from": "score", "to": "approve"},
        {
            "from": "approve",
            "cases": [{"when": "state.review.decision == 'approve'", "to": "END"}],
            "default": "write",
        },
    ],
}


def valid_document() -> dict[str, Any]:
    """A fresh copy of a valid document using every node kind but subworkflow."""
    return copy.deepcopy(_VALID)


def demo_registry() -> Registry:
    """The registry ``valid_document`` needs (plus ``demo.noop``)."""
    registry = Registry()

    @registry.function("demo.write")
    def write(topic: str) -> str:
        return f"about {topic}"

    @registry.function("demo.double")
    def double(item: int) -> int:
        return item * 2

    @registry.function("demo.noop")
    def noop() -> None:
        return None

    return registry


DROP: Any = object()
"""Marker value for :func:`apply`: delete the key."""


def _parent_and_key(doc: Any, pointer: str) -> tuple[Any, str | int]:
    parts = pointer.lstrip("/").split("/")
    current = doc
    for part in parts[:-1]:
        current = current[int(part)] if isinstance(current, list) else current[part]
    last = parts[-1]
    return current, (int(last) if isinstance(current, list) and last != "-" else last)


def apply(doc: dict[str, Any], *changes: tuple[str, Any]) -> dict[str, Any]:
    """Apply ``(pointer, value)`` changes to ``doc`` in place and return it.

    ``value`` ``DROP`` deletes the key; a pointer ending in ``/-`` appends to a list.
    """
    for where, value in changes:
        parent, key = _parent_and_key(doc, where)
        if value is DROP:
            del parent[key]
        elif key == "-":
            parent.append(value)
        else:
            parent[key] = value
    return doc


def workflow(workflow_id: str, child: str | None = None, **node: Any) -> dict[str, Any]:
    """A one-node document: a subworkflow call of ``child``, or a no-op function."""
    step: dict[str, Any] = (
        {"kind": "subworkflow", "workflow": child, **node}
        if child
        else {"kind": "function", "ref": "demo.noop"}
    )
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {"x": {"type": "string"}},
        "input": ["x"],
        "nodes": {"step": step},
        "edges": [{"from": "START", "to": "step"}, {"from": "step", "to": "END"}],
    }


def resolver(documents: dict[str, dict[str, Any]]) -> WorkflowResolver:
    """A ``resolve`` callable over published documents by id (any version)."""
    specs = {key: WorkflowSpec.model_validate(doc) for key, doc in documents.items()}

    def resolve(workflow_id: str, version: int | None) -> WorkflowSpec | None:
        return specs.get(workflow_id)

    return resolve


async def run_workflow(
    doc: dict[str, Any],
    registry: Registry,
    data: dict[str, Any] | None = None,
    *,
    config: dict[str, Any] | None = None,
    resolve: WorkflowResolver | None = None,
) -> dict[str, Any]:
    """Compile ``doc``, run it on a fresh in-memory thread and return the final state."""
    compiled = compile_workflow(doc, registry=registry, resolve=resolve)
    graph = compiled.graph(InMemorySaver())
    run_config: Any = {"configurable": {"thread_id": "t1"}, **(config or {})}
    result: dict[str, Any] = await graph.ainvoke(
        compiled.make_input(data or {}), run_config, context=RunContext()
    )
    return result
