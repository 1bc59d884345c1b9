"""Per-run context handed to nodes through LangGraph's runtime context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from graphwright.state.model import INPUT_CHANNEL

__all__ = ["RunContext", "expression_context"]


@dataclass
class RunContext:
    """LangGraph runtime context of one invocation; never checkpointed.

    Node code reads it with LangGraph's ``get_runtime(RunContext).context``.

    Attributes:
        tenant: Tenant the run belongs to (empty outside the engine).
        run_id: The run's id (empty outside the engine).
        values: The runtime ``context`` the run's client sent (the LangGraph Server
            API's ``context``; ``Engine.run(..., context=...)``).
    """

    tenant: str = ""
    run_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """One value of the client's context (``default`` when absent)."""
        return self.values.get(key, default)


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
