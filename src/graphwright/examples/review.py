"""Node implementations of the ``draft-review-loop`` example.

A draft is written, a person reviews it, and until it is approved (or the
rounds run out) each decision's comment is worked into a revision that goes
back to the reviewer. The "writer" is deterministic text assembly, not a model.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry

__all__ = ["MAX_ROUNDS", "register_review", "revise", "write_draft"]

# Each round is two steps (review, revise); the document's max_steps allows this many.
MAX_ROUNDS = 20


class ReviewState(Protocol):
    """The fields of the ``draft-review-loop`` state these functions read."""

    topic: str
    max_rounds: int
    round: int
    draft: str | None
    review: dict[str, Any] | None


def write_draft(state: ReviewState) -> dict[str, Any]:
    """Write the first draft about ``topic`` and start round 1.

    Raises:
        NodeExecutionError: ``review.invalid_rounds`` when ``max_rounds`` is not
            between 1 and :data:`MAX_ROUNDS`.
    """
    if not 1 <= state.max_rounds <= MAX_ROUNDS:
        raise NodeExecutionError(
            f"max_rounds must be between 1 and {MAX_ROUNDS}, got {state.max_rounds}",
            code="review.invalid_rounds",
            details={"max_rounds": state.max_rounds},
        )
    topic = state.topic.strip()
    return {"draft": f"# {topic}\n\nA first draft about {topic}.", "round": 1}


def revise(state: ReviewState) -> dict[str, Any]:
    """Work the reviewer's comment into the current draft and start the next round.

    The current draft already holds an approver's edits (an ``edit`` decision
    replaces it). The decision is kept in ``feedback``.
    """
    review = state.review or {}
    comment = str(review.get("comment") or "no comment")
    draft = state.draft or ""
    return {
        "draft": f"{draft}\n\nRevision {state.round + 1}: {comment}",
        "round": state.round + 1,
        "feedback": {
            "round": state.round,
            "decision": review.get("decision"),
            "comment": review.get("comment"),
        },
    }


def register_review(registry: Registry) -> None:
    """Register the ``review.*`` functions."""
    registry.add_function("review.write_draft", write_draft)
    registry.add_function("review.revise", revise)
