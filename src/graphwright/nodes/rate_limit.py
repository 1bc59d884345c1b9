"""A node's turn under its named rate limit (``"rate_limit": "crm_api"``).

The waiting itself is the runtime's (shared through Redis, or in-process); a
node reaches it through its run's :class:`~graphwright.nodes.context.RunContext`
and reports the wait on the run's stream. Outside the engine (a graph compiled
and invoked directly) there is no gate, and nodes run unlimited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from graphwright.nodes.progress import emit

__all__ = ["RateLimitGate", "Report", "Turn", "turn_of"]

Report = Callable[[str, dict[str, Any]], None]
"""Writes a progress event (``node.rate_limited``, ...) to the waiting node's run."""


class RateLimitGate(Protocol):
    """Where nodes wait for their turn; the runtime gives each run one."""

    async def wait(self, name: str, *, tenant: str, report: Report) -> float:
        """Wait until the limit ``name`` lets one more call of ``tenant`` start.

        Returns the seconds waited. Never fails because of the limit or of its
        storage being unreachable (it keeps waiting); cancellation ends it at once.
        """
        ...


@dataclass(frozen=True)
class Turn:
    """One attempt's wait under the limit ``name``, for the run's tenant."""

    gate: RateLimitGate
    name: str
    tenant: str

    async def wait(self) -> float:
        """Wait for the turn, reporting on the run's stream; returns the seconds waited."""
        return await self.gate.wait(self.name, tenant=self.tenant, report=emit)


def turn_of(runtime: Any, name: str | None) -> Turn | None:
    """The turn a node with ``rate_limit`` ``name`` takes, from LangGraph's ``runtime``.

    ``None`` when the node names no limit or runs outside the engine.
    """
    if name is None:
        return None
    context = getattr(runtime, "context", None)
    gate = getattr(context, "rate_limits", None)
    if gate is None:
        return None
    return Turn(gate=gate, name=name, tenant=str(getattr(context, "tenant", "")))
