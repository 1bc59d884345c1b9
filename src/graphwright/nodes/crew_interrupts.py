"""LangGraph interrupts inside crews: carry ``GraphBubbleUp`` out of crewai.

A crew factory or a tool may call LangGraph's ``interrupt()``. The run must then
pause; once it is resumed the node runs again (a new crew) and ``interrupt()``
returns the resume value. A factory's ``GraphBubbleUp`` reaches the node by
itself. A tool's does not: crewai turns a tool's exceptions into text for its
agent. So every tool of a crew is guarded (:func:`guard_tool`): a
``GraphBubbleUp`` raised in it is recorded on the crew run's
:class:`InterruptLatch` and carried out of crewai by :class:`CrewInterrupted`, a
``BaseException`` that crewai's ``except Exception`` blocks let through; the crew
runtime then raises the recorded interrupt from the node.

Like :mod:`graphwright.nodes.crew_runtime`, which imports it, this module imports crewai.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from langgraph.errors import GraphBubbleUp

from graphwright.registry.llms import apply_crewai_privacy_defaults

apply_crewai_privacy_defaults()  # before crewai's first import reads the environment

from crewai.tools import BaseTool  # noqa: E402
from crewai.tools.base_tool import Tool  # noqa: E402

__all__ = ["CrewInterrupted", "InterruptLatch", "guard_tool"]

# The latch of the crew run whose thread (or crewai worker thread, which runs in a
# copy of its context) is current.
_CURRENT: contextvars.ContextVar[InterruptLatch | None] = contextvars.ContextVar(
    "graphwright_crew_interrupts", default=None
)
_GUARDED = "__graphwright_guarded__"


class CrewInterrupted(BaseException):
    """Carries a tool's ``GraphBubbleUp`` out of crewai, to be raised from the node.

    A ``BaseException``: crewai would turn an ``Exception`` into text for the agent.
    """

    def __init__(self, interrupt: GraphBubbleUp) -> None:
        super().__init__(interrupt)
        self.interrupt = interrupt


class InterruptLatch:
    """The interrupt the tools of one crew run raised, if any (the first one counts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: GraphBubbleUp | None = None

    @property
    def pending(self) -> GraphBubbleUp | None:
        """The recorded interrupt, or None."""
        return self._pending

    def activate(self) -> None:
        """Make this the latch of the calling thread's context (the crew's worker thread)."""
        _CURRENT.set(self)

    def record(self, exc: GraphBubbleUp) -> NoReturn:
        """Record ``exc`` unless an interrupt is recorded already; carry it out of crewai.

        Raises:
            CrewInterrupted: always, carrying the recorded interrupt.
        """
        with self._lock:
            if self._pending is None:
                self._pending = exc
            first = self._pending
        raise CrewInterrupted(first)

    def check(self) -> None:
        """Stop the crew (at a step or task callback) if crewai swallowed the carrier.

        Raises:
            CrewInterrupted: an interrupt is recorded.
        """
        if self._pending is not None:
            raise CrewInterrupted(self._pending)


def guard_tool(tool: Any) -> None:
    """Make ``tool`` (a crewai ``BaseTool``) report LangGraph interrupts to the crew run.

    Wraps, in place and once, the callable crewai invokes (``func`` of a function
    tool, else ``_run``). A ``GraphBubbleUp`` raised inside is recorded on the
    current crew run's latch and carried out of crewai; outside a crew run it is
    raised as it is. Other exceptions and results pass through untouched. Anything
    else than a ``BaseTool`` is left alone.
    """
    if not isinstance(tool, BaseTool):
        return
    name = "func" if isinstance(tool, Tool) else "_run"  # Tool.run calls func, not _run
    target = getattr(tool, name)
    if getattr(target, _GUARDED, False):
        return
    # object.__setattr__: an instance attribute shadowing the method, not a model field
    object.__setattr__(tool, name, _guarded(target))


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    call: Callable[..., Any]
    if inspect.iscoroutinefunction(func):  # crewai awaits what looks async

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await func(*args, **kwargs)
            except GraphBubbleUp as exc:
                _carry(exc)

        call = call_async
    else:

        def call_sync(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except GraphBubbleUp as exc:
                _carry(exc)

        call = call_sync
    call = functools.wraps(func)(call)  # crewai reads the signature and the docstring
    setattr(call, _GUARDED, True)
    return call


def _carry(exc: GraphBubbleUp) -> NoReturn:
    latch = _CURRENT.get()
    if latch is None:
        raise exc  # not inside a crew run: nothing swallows it on the way
    latch.record(exc)
