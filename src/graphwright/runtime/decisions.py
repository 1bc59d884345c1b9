"""Approval decisions: find a gate's spec and validate answers before resuming.

Validation happens before anything is written, so an invalid decision leaves
the thread paused exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphwright.errors import ApprovalError, RunStateError
from graphwright.graphs.compiler import CompiledWorkflow
from graphwright.graphs.spec import ApprovalNodeSpec
from graphwright.nodes.approval import parse_decision

__all__ = ["find_gate", "resume_value"]


def find_gate(compiled: CompiledWorkflow, workflow_id: str, node: str) -> Any:
    """Find the approval node spec (in the workflow or a subworkflow) and its state."""
    stack = [compiled]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        spec = current.spec.nodes.get(node)
        if current.spec.id == workflow_id and isinstance(spec, ApprovalNodeSpec):
            return spec, current.state
        stack.extend(current.subworkflows.values())
    return None


_INTERRUPT_ID = re.compile(r"[0-9a-f]{32}")


def resume_value(compiled: CompiledWorkflow, pending: Any, decision: Any) -> Any:
    """Validate decision(s) against the pending gates; return LangGraph's resume value.

    Raises:
        ApprovalError: the thread stays paused.
    """
    interrupts = list(pending)
    by_id = {i.id: i for i in interrupts}
    if (
        isinstance(decision, Mapping)
        and decision
        and all(isinstance(k, str) and _INTERRUPT_ID.fullmatch(k) for k in decision)
        and not set(decision) <= set(by_id)
    ):
        raise RunStateError(
            "the decision names approval(s) that are not pending on this thread",
            code="approval.not_pending",
            details={
                "unknown": sorted(set(decision) - set(by_id)),
                "pending": sorted(by_id),
            },
        )
    if len(interrupts) > 1 or (
        isinstance(decision, Mapping) and decision and set(decision) <= set(by_id)
    ):
        if not isinstance(decision, Mapping) or not set(decision) <= set(by_id) or not decision:
            raise ApprovalError(
                f"{len(interrupts)} approvals are pending: give a mapping of approval id to "
                "decision",
                code="approval.ambiguous",
                details={"pending": sorted(by_id)},
            )
        answers = dict(decision)
    else:
        if not interrupts:
            raise RunStateError("no approval is pending on this thread")
        answers = {interrupts[0].id: decision}
    for interrupt_id, answer in answers.items():
        value = by_id[interrupt_id].value
        if isinstance(value, Mapping) and value.get("kind") == "approval":
            found = find_gate(compiled, str(value.get("workflow")), str(value.get("node")))
            if found is not None:
                parse_decision(answer, found[0], found[1])
    return answers
