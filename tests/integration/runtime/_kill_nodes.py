"""Nodes shared by the SIGKILL test and the child process it kills.

Loaded by path (``load_registry_modules([path])``) in both processes. Each node
appends a line to ``<workdir>/effects.log`` once its side effect is done; node
``three`` also logs when it starts and then waits while ``<workdir>/hold`` exists,
so the test can kill the child in the middle of it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from graphwright.registry import Registry

WORKFLOW_ID = "kill-chain"
EFFECTS = "effects.log"
HOLD = "hold"


def workflow() -> dict[str, Any]:
    """``one -> two -> three``; every node gets ``workdir`` and appends to ``trail``."""
    nodes = {
        name: {
            "kind": "function",
            "ref": f"kill.{name}",
            "inputs": {"workdir": "state.workdir"},
            "writes": "trail",
        }
        for name in ("one", "two", "three")
    }
    return {
        "dsl": "graphwright/v1",
        "id": WORKFLOW_ID,
        "state": {
            "workdir": {"type": "string"},
            "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        },
        "input": ["workdir"],
        "nodes": nodes,
        "edges": [
            {"from": "START", "to": "one"},
            {"from": "one", "to": "two"},
            {"from": "two", "to": "three"},
            {"from": "three", "to": "END"},
        ],
    }


def effects(workdir: Path) -> list[str]:
    """The lines logged so far (empty before the first)."""
    path = workdir / EFFECTS
    return path.read_text().splitlines() if path.exists() else []


def _record(workdir: str, line: str) -> None:
    with (Path(workdir) / EFFECTS).open("a") as log:
        log.write(line + "\n")


def register(registry: Registry) -> None:
    """Register ``kill.one``, ``kill.two`` and ``kill.three``."""

    async def one(workdir: str) -> str:
        _record(workdir, "one")
        return "one"

    async def two(workdir: str) -> str:
        _record(workdir, "two")
        return "two"

    async def three(workdir: str) -> str:
        _record(workdir, "three:started")
        # The hold file is shared with another process: an asyncio.Event cannot reach it.
        while (Path(workdir) / HOLD).exists():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        _record(workdir, "three")
        return "three"

    registry.add_function("kill.one", one)
    registry.add_function("kill.two", two)
    registry.add_function("kill.three", three)
