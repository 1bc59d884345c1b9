"""``map`` nodes: run an inner node once per list item with LangGraph ``Send``.

A map node ``m`` becomes three LangGraph nodes: ``m`` (evaluates nothing; the
fan-out happens on its outgoing edge), ``m__item`` (one task per item, all in
one step, limited by ``max_concurrency``) and ``m__gather`` (runs once when all
items are done; the document's edges leave from it). Results merge through the
target field's reducer in item order.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakValueDictionary

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from graphwright.errors import NodeExecutionError
from graphwright.expressions import compile_expression
from graphwright.graphs.spec import MapNodeSpec
from graphwright.nodes.context import expression_context
from graphwright.state.model import CompiledState

__all__ = ["MapFanOut", "MapLimiter", "document_node", "gather_name", "item_name"]


def document_node(name: str) -> tuple[str, str | None]:
    """Split a LangGraph node name into the document's node and its map role.

    ``m__item`` -> ``("m", "item")``, ``m__gather`` -> ``("m", "gather")``, ``m`` ->
    ``("m", None)``. LangGraph's own names (``__start__``) are left as they are.
    """
    if name.startswith("__"):
        return name, None
    base, sep, role = name.partition("__")
    return (base, role) if sep else (name, None)


def item_name(node: str) -> str:
    """LangGraph name of the per-item worker of map ``node``."""
    return f"{node}__item"


def gather_name(node: str) -> str:
    """LangGraph name of the node that runs once all items of map ``node`` finish."""
    return f"{node}__gather"


class MapFanOut:
    """The fan-out edge of a map node: one ``Send`` per item."""

    def __init__(self, name: str, spec: MapNodeSpec, state: CompiledState) -> None:
        self.name = name
        self.over = compile_expression(spec.over)
        self.state = state

    async def __call__(self, state: Any) -> list[Send] | list[str]:
        context = expression_context(state, self.state.fields)
        items = await self.over.evaluate_async(context)
        if not isinstance(items, list | tuple):
            raise NodeExecutionError(
                f"map '{self.name}': 'over' gave {type(items).__name__}, not a list",
                code="map.not_a_list",
                details={"node": self.name},
            )
        if not items:
            return [gather_name(self.name)]
        # Sends are checkpointed: carry plain data only (state values, input, item).
        return [
            Send(
                item_name(self.name),
                {"state": context["state"], "input": context["input"], "item": x, "index": i},
            )
            for i, x in enumerate(items)
        ]


class MapLimiter:
    """``max_concurrency`` of one map node, per map instance.

    All items of one map run in one LangGraph step, as tasks of the same thread
    and parent namespace; they share one semaphore. The semaphore lives only
    while items hold it (weak values), so nothing outlives the step.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._live: WeakValueDictionary[tuple[str, str], asyncio.Semaphore] = WeakValueDictionary()

    def for_task(self, config: RunnableConfig) -> asyncio.Semaphore:
        """The semaphore shared by the items of the map instance running ``config``'s task."""
        configurable = config.get("configurable", {})
        namespace = str(configurable.get("checkpoint_ns", ""))
        parent = namespace.rsplit("|", 1)[0] if "|" in namespace else ""
        key = (str(configurable.get("thread_id", "")), parent)
        semaphore = self._live.get(key)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.size)
            self._live[key] = semaphore
        return semaphore
