"""Per-run context handed to nodes through LangGraph's runtime context."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from graphwright.state.model import INPUT_CHANNEL

__all__ = ["RunContext", "expression_context"]


@dataclass
class RunContext:
    """Objects that live for one invocation of a graph and are never checkpointed.

    Attributes:
        limits: Concurrency limiters of map nodes, created on first use.
    """

    limits: dict[str, asyncio.Semaphore] = field(default_factory=dict)

    def limiter(self, key: str, size: int) -> asyncio.Semaphore:
        """Return the semaphore for ``key`` (one per map node per run)."""
        sem = self.limits.get(key)
        if sem is None:
            sem = self.limits[key] = asyncio.Semaphore(size)
        return sem


def expression_context(
    state: BaseModel | Mapping[str, Any], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the CEL variables ``state`` and ``input`` from a state model or mapping."""
    if isinstance(state, Mapping):
        values = {name: state.get(name) for name in fields}
        run_input = state.get(INPUT_CHANNEL) or {}
    else:
        values = {name: getattr(state, name, None) for name in fields}
        run_input = getattr(state, INPUT_CHANNEL, None) or {}
    return {"state": values, "input": run_input}
