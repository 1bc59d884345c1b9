"""Node kinds: each module turns one kind of node spec into LangGraph node callables."""

from graphwright.nodes.context import RunContext

__all__ = ["RunContext"]
