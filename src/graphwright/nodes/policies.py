"""Retry and timeout policies, and the conversion of node failures to coded errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy

from graphwright.errors import GraphwrightError, NodeExecutionError
from graphwright.graphs.spec import RetrySpec

__all__ = ["NON_RETRIED_PREFIXES", "guard", "retry_policy"]

T = TypeVar("T")

# Errors in the data (bad update, bad input) do not get better by retrying.
NON_RETRIED_PREFIXES = ("state.", "approval.", "expr.", "registry.")


def retry_policy(spec: RetrySpec | None) -> RetryPolicy | None:
    """Build LangGraph's retry policy from a node's ``retry`` spec (``None``: no retry)."""
    if spec is None or spec.max_attempts <= 1:
        return None
    codes = frozenset(spec.on) if spec.on is not None else None

    def retry_on(exc: Exception) -> bool:
        if isinstance(exc, GraphBubbleUp):
            return False
        code = exc.code if isinstance(exc, GraphwrightError) else "node.failed"
        if codes is not None:
            return code in codes
        return not code.startswith(NON_RETRIED_PREFIXES)

    return RetryPolicy(
        initial_interval=spec.initial_interval,
        backoff_factor=spec.backoff_factor,
        max_interval=spec.max_interval,
        max_attempts=spec.max_attempts,
        jitter=spec.jitter,
        retry_on=retry_on,
    )


async def guard(node: str, seconds: float | None, call: Callable[[], Awaitable[T]]) -> T:
    """Run one node attempt with its timeout, turning failures into coded errors.

    Interrupts (``GraphBubbleUp``) pass through untouched. A graphwright error
    keeps its code and gains the node name; any other exception becomes
    ``node.failed`` with its type and message; a timeout becomes ``node.timeout``.
    """
    try:
        if seconds is None:
            return await call()
        async with asyncio.timeout(seconds):
            return await call()
    except GraphBubbleUp:
        raise
    except TimeoutError as exc:
        raise NodeExecutionError(
            f"node '{node}' timed out after {seconds:g}s",
            code="node.timeout",
            details={"node": node, "timeout": seconds},
        ) from exc
    except GraphwrightError as exc:
        exc.details.setdefault("node", node)
        raise
    except Exception as exc:  # user code may raise anything; keep it, coded
        raise NodeExecutionError(
            f"node '{node}' failed: {type(exc).__name__}: {exc}",
            details={"node": node, "type": type(exc).__name__, "message": str(exc)},
        ) from exc


def describe(exc: BaseException) -> dict[str, Any]:
    """Return ``{"code", "message", "details"}`` for any exception."""
    if isinstance(exc, GraphwrightError):
        return exc.to_dict()
    return {"code": "node.failed", "message": f"{type(exc).__name__}: {exc}", "details": {}}
