"""Fixtures for the store tests: fresh databases and workflow documents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from graphwright.graphs.spec import WorkflowSpec
from graphwright.store import Pool, open_pool

MakeSpec = Callable[..., WorkflowSpec]


@pytest.fixture
async def fresh_pool(create_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Pool]:
    """Pool on a new, empty database (no migrations applied)."""
    url = await create_database()
    opened = await open_pool(url, min_size=1, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def make_spec() -> MakeSpec:
    """Return a builder of small valid workflow documents; ``title`` varies the content."""

    def build(workflow_id: str = "review-flow", title: str = "Review") -> WorkflowSpec:
        document: dict[str, Any] = {
            "dsl": "graphwright/v1",
            "id": workflow_id,
            "title": title,
            "state": {"text": {"type": "string"}, "done": {"type": "boolean", "default": False}},
            "input": ["text"],
            "nodes": {"check": {"kind": "function", "ref": "demo.check", "writes": "done"}},
            "edges": [{"from": "START", "to": "check"}, {"from": "check", "to": "END"}],
        }
        return WorkflowSpec.model_validate(document)

    return build
