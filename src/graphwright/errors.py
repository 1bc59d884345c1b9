"""The graphwright error hierarchy.

Every error carries a stable ``code`` (documented in ``docs/errors.md``) and
structured ``details``. Callers branch on ``code``, never on message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ApprovalError",
    "ConfigurationError",
    "GraphwrightError",
    "InvalidInputError",
    "NodeExecutionError",
    "NotFoundError",
    "Problem",
    "RegistryError",
    "RunStateError",
    "WorkflowConflictError",
    "WorkflowValidationError",
]


class GraphwrightError(Exception):
    """Base of every error graphwright raises on purpose.

    Attributes:
        code: Stable, dotted identifier of the error kind (``"node.timeout"``).
        message: Human readable explanation.
        details: Structured data about the error (JSON-serialisable).
    """

    default_code: ClassVar[str] = "graphwright.error"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-serialisable mapping."""
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclass(frozen=True)
class Problem:
    """One problem found in a workflow document.

    Attributes:
        code: Stable problem code, such as ``"registry.unknown_name"``.
        pointer: JSON pointer (RFC 6901) to the offending place in the document.
        message: What is wrong, in words.
        suggestion: The nearest valid name, when there is one.
    """

    code: str
    pointer: str
    message: str
    suggestion: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def render(self, source: str | None = None) -> str:
        """Format as ``SOURCE:/pointer: [code] message (did you mean 'x'?)``."""
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        prefix = f"{source}:" if source else ""
        return f"{prefix}{self.pointer or '/'}: [{self.code}] {self.message}{hint}"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-serialisable mapping."""
        data: dict[str, Any] = {"code": self.code, "pointer": self.pointer, "message": self.message}
        if self.suggestion:
            data["suggestion"] = self.suggestion
        return data


class WorkflowValidationError(GraphwrightError):
    """A workflow document is invalid; ``problems`` lists every problem found."""

    default_code = "workflow.invalid"

    def __init__(self, problems: list[Problem], *, workflow_id: str | None = None) -> None:
        count = len(problems)
        first = problems[0].render() if problems else ""
        super().__init__(
            f"workflow document has {count} problem{'s' if count != 1 else ''}: {first}",
            details={
                "workflow_id": workflow_id,
                "problems": [p.to_dict() for p in problems],
            },
        )
        self.problems = problems


class RegistryError(GraphwrightError):
    """A registry entry is invalid or missing."""

    default_code = "registry.error"


class ConfigurationError(GraphwrightError):
    """Settings or the environment are unusable."""

    default_code = "config.invalid"


class InvalidInputError(GraphwrightError):
    """Run input, a node's update or a decision does not fit the state model."""

    default_code = "state.invalid_input"


class NodeExecutionError(GraphwrightError):
    """A node failed. Node implementations may raise it with their own code.

    The ``code`` decides whether a node's retry policy retries it.
    """

    default_code = "node.failed"


class ApprovalError(GraphwrightError):
    """A decision on an approval gate is not acceptable."""

    default_code = "approval.invalid_decision"


class NotFoundError(GraphwrightError):
    """A workflow, version or thread does not exist."""

    default_code = "not_found"


class WorkflowConflictError(GraphwrightError):
    """An operation conflicts with what is stored (for example a busy thread)."""

    default_code = "conflict"


class RunStateError(GraphwrightError):
    """The thread is not in a state that allows the operation."""

    default_code = "run.invalid_state"
