"""``function`` nodes: call a registered Python function (sync or async)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from graphwright.errors import NodeExecutionError
from graphwright.expressions import CompiledExpression, compile_expression
from graphwright.graphs.spec import FunctionNodeSpec
from graphwright.nodes.context import SecretSource, load_secrets
from graphwright.registry import FunctionEntry, Registry
from graphwright.state.model import CompiledState

__all__ = ["FunctionCall"]

_MAP_VARIABLES = frozenset({"state", "input", "item", "index"})


class FunctionCall:
    """A compiled call of a registered function: argument building, call, result mapping.

    Arguments are passed by parameter name: ``state`` (the typed state), ``item`` and
    ``index`` (inside a map), the node's ``inputs`` (CEL over state/input/item) and,
    to a function that names a ``secrets`` parameter (``**kwargs`` is not enough),
    the run's tenant secrets as a read-only mapping.
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
        self.needs_secrets = "secrets" in self.entry.parameters

    async def call(
        self,
        *,
        state: BaseModel | None,
        context: Mapping[str, Any],
        item: Any = None,
        index: int | None = None,
        secrets: SecretSource | None = None,
    ) -> Any:
        """Build the arguments and call the function (sync ones in a worker thread).

        The run's secrets are read (once per run) only for a function asking for them.
        """
        offered: dict[str, Any] = {"state": state}
        if index is not None:
            offered["item"] = item
            offered["index"] = index
        for key, expr in self.inputs.items():
            offered[key] = await expr.evaluate_async(context)
        if self.needs_secrets:
            offered["secrets"] = await load_secrets(secrets)
        entry = self.entry
        if entry.accepts_any:
            kwargs = offered
        else:
            kwargs = {k: v for k, v in offered.items() if k in entry.parameters}
        if entry.is_async:
            return await entry.func(**kwargs)
        # Sync functions run in a thread so they never block the event loop.
        return await asyncio.to_thread(functools.partial(entry.func, **kwargs))

    def to_update(
        self, node: str, result: Any, *, secrets: SecretSource | None = None
    ) -> dict[str, Any]:
        """Turn the function's result into a validated state update.

        Raises:
            InvalidInputError: ``state.invalid_update``.
            NodeExecutionError: ``secrets.in_state`` when the update holds a secret
                value the run has read (state is checkpointed and streamed).
        """
        if self.spec.writes is not None:
            update = self.state.validate_update(node, {self.spec.writes: _plain(result)})
        else:
            update = self.state.validate_update(node, _plain(result))
        if secrets is not None and secrets.loaded:
            where = secrets.current().find_known(update)
            if where is not None:
                raise NodeExecutionError(
                    f"node '{node}' wrote a secret value into state at {where}; secrets "
                    "must not be stored in state",
                    code="secrets.in_state",
                    details={"node": node, "pointer": where},
                )
        return update


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
