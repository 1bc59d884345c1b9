"""``function`` nodes: call a registered Python function (sync or async)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from graphwright.expressions import CompiledExpression, compile_expression
from graphwright.graphs.spec import FunctionNodeSpec
from graphwright.registry import FunctionEntry, Registry
from graphwright.state.model import CompiledState

__all__ = ["FunctionCall"]

_MAP_VARIABLES = frozenset({"state", "input", "item", "index"})


class FunctionCall:
    """A compiled call of a registered function: argument building, call, result mapping.

    Arguments are passed by parameter name: ``state`` (the typed state), ``item`` and
    ``index`` (inside a map) and the node's ``inputs`` (CEL over state/input/item).
    """

    def __init__(
        self, spec: FunctionNodeSpec, registry: Registry, state: CompiledState, *, in_map: bool
    ) -> None:
        self.spec = spec
        self.entry: FunctionEntry = registry.get_function(spec.ref)
        self.state = state
        allowed = _MAP_VARIABLES if in_map else frozenset({"state", "input"})
        self.inputs: dict[str, CompiledExpression] = {
            key: compile_expression(src, allowed=allowed)
            for key, src in (spec.inputs or {}).items()
        }

    async def call(
        self,
        *,
        state: BaseModel | None,
        context: Mapping[str, Any],
        item: Any = None,
        index: int | None = None,
    ) -> Any:
        """Build the arguments and call the function (sync ones in a worker thread)."""
        offered: dict[str, Any] = {"state": state}
        if index is not None:
            offered["item"] = item
            offered["index"] = index
        for key, expr in self.inputs.items():
            offered[key] = await expr.evaluate_async(context)
        entry = self.entry
        if entry.accepts_any:
            kwargs = offered
        else:
            kwargs = {k: v for k, v in offered.items() if k in entry.parameters}
        if entry.is_async:
            return await entry.func(**kwargs)
        # Sync functions run in a thread so they never block the event loop.
        return await asyncio.to_thread(functools.partial(entry.func, **kwargs))

    def to_update(self, node: str, result: Any) -> dict[str, Any]:
        """Turn the function's result into a validated state update."""
        if self.spec.writes is not None:
            return self.state.validate_update(node, {self.spec.writes: _plain(result)})
        return self.state.validate_update(node, _plain(result))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
