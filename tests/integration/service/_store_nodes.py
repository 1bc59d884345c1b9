"""Node implementations that use the Store through LangGraph's ``get_store()``.

Loaded by the Store tests' server via GW_REGISTRY_MODULES.
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_store

from graphwright import Registry


def register(registry: Registry) -> None:
    """Register ``store.remember`` (async), ``store.remember_sync`` and ``store.recall``."""

    async def remember(topic: str, note: str) -> dict[str, Any]:
        """Put ``note`` under ("notes", topic)/"last" and read it back."""
        store = get_store()
        await store.aput(("notes", topic), "last", {"note": note})
        item = await store.aget(("notes", topic), "last")
        return {"seen": None if item is None else item.value}

    registry.add_function("store.remember", remember)

    def remember_sync(topic: str, note: str) -> dict[str, Any]:
        """As ``store.remember`` from sync code (graphwright runs it in a worker thread)."""
        store = get_store()
        store.put(("notes", topic), "sync", {"note": note})
        item = store.get(("notes", topic), "sync")
        return {"seen": None if item is None else item.value}

    registry.add_function("store.remember_sync", remember_sync)

    async def recall(topic: str) -> dict[str, Any]:
        """What the Store holds under ("notes", topic): every item's key and value."""
        found = await get_store().asearch(("notes", topic), limit=100)
        return {"seen": {item.key: item.value for item in found}}

    registry.add_function("store.recall", recall)
