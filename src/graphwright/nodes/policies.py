"""Retry and timeout policies, and the conversion of node failures to coded errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy

from graphwright.errors import GraphwrightError, NodeExecutionError
from graphwright.graphs.spec import RetrySpec
from graphwright.nodes.context import SecretSource, redactor_of
from graphwright.nodes.progress import emit
from graphwright.nodes.rate_limit import Turn

__all__ = ["NON_RETRIED_PREFIXES", "attempt_of", "guard", "retry_policy", "retryable"]

T = TypeVar("T")

# Errors in the data (bad update, bad input) or the setup (a missing package or key,
# a factory that builds no crew) do not get better by retrying.
NON_RETRIED_PREFIXES = (
    "state.",
    "approval.",
    "expr.",
    "registry.",
    "config.",
    "secrets.",
    "crew.not_installed",
    "crew.invalid_crew",
)


def retryable(spec: RetrySpec | None, exc: BaseException) -> bool:
    """Whether ``spec`` retries ``exc`` (attempts aside)."""
    if spec is None or isinstance(exc, GraphBubbleUp):
        return False
    code = exc.code if isinstance(exc, GraphwrightError) else "node.failed"
    if spec.on is not None:
        return code in spec.on
    return not code.startswith(NON_RETRIED_PREFIXES)


def retry_policy(spec: RetrySpec | None) -> RetryPolicy | None:
    """Build LangGraph's retry policy from a node's ``retry`` spec (``None``: no retry)."""
    if spec is None or spec.max_attempts <= 1:
        return None

    def retry_on(exc: Exception) -> bool:
        return retryable(spec, exc)

    return RetryPolicy(
        initial_interval=spec.initial_interval,
        backoff_factor=spec.backoff_factor,
        max_interval=spec.max_interval,
        max_attempts=spec.max_attempts,
        jitter=spec.jitter,
        retry_on=retry_on,
    )


def attempt_of(runtime: Any) -> int:
    """The current attempt (1-based) from LangGraph's runtime, 1 when unknown."""
    info = getattr(runtime, "execution_info", None)
    return int(getattr(info, "node_attempt", 1) or 1)


async def guard(
    node: str,
    seconds: float | None,
    call: Callable[[], Awaitable[T]],
    *,
    attempt: int = 1,
    retry: RetrySpec | None = None,
    secrets: SecretSource | None = None,
    rate_limit: Turn | None = None,
) -> T:
    """Run one node attempt with its timeout, turning failures into coded errors.

    With ``rate_limit``, the attempt first waits for its turn under the node's
    named limit: outside the timeout, and never a failure (nor a used attempt).

    Interrupts (``GraphBubbleUp``) pass through untouched. A graphwright error
    keeps its code and gains the node name; any other exception becomes
    ``node.failed`` with its type and message; a timeout becomes ``node.timeout``.
    Each failure is reported as a ``node.failed`` progress event with the attempt
    and whether the retry policy will try again.

    Error text is redacted (:mod:`graphwright.redaction`) before it goes anywhere:
    of the tenant's secrets (``secrets``; read for this if the run has not yet) and
    of anything shaped like a credential. The raised error is the redacted one,
    without the original exception chained, since LangGraph stores its ``repr``
    in the checkpoint and a logged traceback would print the chain.
    """
    if rate_limit is not None:
        await rate_limit.wait()
    try:
        if seconds is None:
            return await call()
        async with asyncio.timeout(seconds):
            return await call()
    except GraphBubbleUp:
        raise
    except TimeoutError as exc:
        if seconds is None:  # raised by the node's own code: a failure like any other
            error = await _failed(node, exc, secrets)
        else:
            error = NodeExecutionError(
                f"node '{node}' timed out after {seconds:g}s",
                code="node.timeout",
                details={"node": node, "timeout": seconds},
            )
        _report(node, error, attempt, retry)
        raise error from None
    except GraphwrightError as exc:
        redactor = await redactor_of(secrets)
        exc.message = redactor.text(exc.message)
        exc.args = (exc.message,)
        exc.details = redactor.value(exc.details)
        exc.details.setdefault("node", node)
        _report(node, exc, attempt, retry)
        raise exc from None
    except Exception as exc:  # noqa: BLE001 - user code may raise anything: coded, redacted
        error = await _failed(node, exc, secrets)
        _report(node, error, attempt, retry)
        raise error from None


async def _failed(node: str, exc: Exception, secrets: SecretSource | None) -> NodeExecutionError:
    """``node.failed`` for an exception of node code, its message redacted."""
    message = (await redactor_of(secrets)).text(str(exc))
    return NodeExecutionError(
        f"node '{node}' failed: {type(exc).__name__}: {message}",
        details={"node": node, "type": type(exc).__name__, "message": message},
    )


def _report(node: str, error: GraphwrightError, attempt: int, retry: RetrySpec | None) -> None:
    max_attempts = retry.max_attempts if retry is not None else 1
    will_retry = attempt < max_attempts and retryable(retry, error)
    emit(
        "node.failed",
        {
            "node": node,
            "error": {"code": error.code, "message": error.message},
            "attempt": attempt,
            "max_attempts": max_attempts,
            "will_retry": will_retry,
        },
    )


def describe(exc: BaseException) -> dict[str, Any]:
    """Return ``{"code", "message", "details"}`` for any exception (not redacted)."""
    if isinstance(exc, GraphwrightError):
        return exc.to_dict()
    return {"code": "node.failed", "message": f"{type(exc).__name__}: {exc}", "details": {}}
