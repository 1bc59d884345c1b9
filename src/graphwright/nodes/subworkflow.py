"""``subworkflow`` nodes: run another published workflow as a subgraph.

The child graph is compiled without a checkpointer, so when it runs inside a
node it checkpoints into the parent's thread under its own namespace, and an
approval gate inside the child pauses (and resumes) the parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig

from graphwright.expressions import CompiledExpression, compile_expression
from graphwright.graphs.spec import SubworkflowNodeSpec
from graphwright.nodes.context import RunContext
from graphwright.state.model import CompiledState

if TYPE_CHECKING:
    from graphwright.graphs.compiler import CompiledWorkflow

__all__ = ["SubworkflowCall"]


class SubworkflowCall:
    """A compiled call of a child workflow with input and output mapping."""

    def __init__(
        self,
        spec: SubworkflowNodeSpec,
        child: CompiledWorkflow,
        state: CompiledState,
        *,
        in_map: bool,
    ) -> None:
        self.spec = spec
        self.child = child
        self.state = state
        self.graph = child.graph()
        allowed = frozenset({"state", "input", "item", "index"} if in_map else {"state", "input"})
        self.inputs: dict[str, CompiledExpression] = {
            key: compile_expression(src, allowed=allowed) for key, src in spec.inputs.items()
        }

    async def call(
        self,
        *,
        context: Mapping[str, Any],
        config: RunnableConfig,
        run_context: RunContext | None,
    ) -> dict[str, Any]:
        """Run the child to completion (or to an interrupt) and return its visible state."""
        child_input = self.child.make_input(
            {key: await expr.evaluate_async(context) for key, expr in self.inputs.items()}
        )
        result = await self.graph.ainvoke(child_input, config, context=run_context)
        return self.child.state.dump(result)

    def to_update(self, node: str, output: Mapping[str, Any]) -> dict[str, Any]:
        """Map the child's output onto a validated parent update."""
        update = {parent: output.get(child) for parent, child in self.spec.outputs.items()}
        if self.spec.writes is not None:
            update[self.spec.writes] = {k: output.get(k) for k in self.child.state.output_fields}
        return self.state.validate_update(node, update)
