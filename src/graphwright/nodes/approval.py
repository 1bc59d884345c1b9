"""``approval`` nodes: pause for a person's decision with LangGraph ``interrupt()``.

Code before ``interrupt()`` runs again on resume, so building the payload has
no side effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.types import Overwrite, interrupt

from graphwright.errors import ApprovalError, InvalidInputError
from graphwright.expressions import compile_expression, compile_template
from graphwright.graphs.spec import ApprovalNodeSpec
from graphwright.nodes.progress import emit
from graphwright.state.model import CompiledState, python_type

__all__ = ["ApprovalGate", "parse_decision"]


class ApprovalGate:
    """A compiled approval node."""

    def __init__(
        self, name: str, spec: ApprovalNodeSpec, state: CompiledState, *, workflow_id: str = ""
    ) -> None:
        self.name = name
        self.workflow_id = workflow_id
        self.spec = spec
        self.state = state
        self.prompt = compile_template(spec.prompt)
        self.show = {k: compile_expression(v) for k, v in spec.show.items()}
        self.response_schema = decision_schema(spec, state)

    def payload(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The interrupt value shown to approvers."""
        return {
            "kind": "approval",
            "workflow": self.workflow_id,
            "node": self.name,
            "prompt": self.prompt.render(context),
            "decisions": list(self.spec.decisions),
            "editable": list(self.spec.editable),
            "show": {k: e.evaluate(context) for k, e in self.show.items()},
            "timeout": self.spec.timeout,
            "on_timeout": self.spec.on_timeout,
        }

    def run(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """Interrupt until a valid decision arrives; return the state update it makes.

        An invalid answer does not end the node: it interrupts again with the
        error attached, so the thread stays paused at the gate.
        """
        payload = self.payload(context)
        answer = interrupt(payload, response_schema=self.response_schema)
        while True:
            try:
                decision = parse_decision(answer, self.spec, self.state)
                break
            except ApprovalError as exc:
                answer = interrupt(
                    {**payload, "error": exc.to_dict()}, response_schema=self.response_schema
                )
        emit(
            "approval.decided",
            {
                "node": self.name,
                "decision": decision["decision"],
                "by": decision["by"],
                "edited": sorted(decision["edits"]),
            },
        )
        update: dict[str, Any] = {self.spec.writes: decision}
        for field, value in decision["edits"].items():
            spec = self.state.fields[field]
            update[field] = value if spec.reducer == "replace" else Overwrite(value)
        return update


def parse_decision(answer: Any, spec: ApprovalNodeSpec, state: CompiledState) -> dict[str, Any]:
    """Validate an approver's answer and return the decision record.

    ``answer`` is a decision name (``"approve"``) or an object
    ``{"decision": ..., "comment": ..., "edits": {field: value}, "by": ...}``.

    Raises:
        ApprovalError: ``approval.invalid_decision`` (unknown decision or shape) or
            ``approval.invalid_edit`` (field not editable, or value of the wrong type).
    """
    if isinstance(answer, str):
        answer = {"decision": answer}
    if not isinstance(answer, Mapping):
        raise ApprovalError(
            "a decision is a name or an object with a 'decision' key",
            details={"allowed": list(spec.decisions)},
        )
    unknown_keys = sorted(set(answer) - {"decision", "comment", "edits", "by"})
    if unknown_keys:
        raise ApprovalError(
            f"unknown key(s) in decision: {', '.join(unknown_keys)}",
            details={"allowed": list(spec.decisions)},
        )
    decision = answer.get("decision")
    if decision not in spec.decisions:
        raise ApprovalError(
            f"decision {decision!r} is not one of {', '.join(spec.decisions)}",
            details={"allowed": list(spec.decisions), "given": repr(decision)[:100]},
        )
    comment = answer.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise ApprovalError("'comment' must be a string")
    by = answer.get("by")
    if by is not None and not isinstance(by, str):
        raise ApprovalError("'by' must be a string")
    edits = answer.get("edits") or {}
    if not isinstance(edits, Mapping):
        raise ApprovalError("'edits' must be an object", code="approval.invalid_edit")
    if edits and decision != "edit":
        raise ApprovalError("only an 'edit' decision may carry edits", code="approval.invalid_edit")
    checked: dict[str, Any] = {}
    for field, value in edits.items():
        at = f"/edits/{field.replace('~', '~0').replace('/', '~1')}"
        if field not in spec.editable:
            raise ApprovalError(
                f"field '{field}' is not editable here (editable: {', '.join(spec.editable)})",
                code="approval.invalid_edit",
                details={"problems": [{"pointer": at, "message": "not editable"}]},
            )
        try:
            checked[field] = state.validate_value(field, value)
        except InvalidInputError as exc:
            # Each problem points into the request body (/edits/<field>/...), for inline display.
            problems = [
                {**problem, "pointer": "/edits" + str(problem.get("pointer", f"/{field}"))}
                for problem in exc.details.get("problems", [])
            ]
            raise ApprovalError(
                exc.message, code="approval.invalid_edit", details={"problems": problems}
            ) from exc
    return {"decision": decision, "comment": comment, "by": by, "edits": checked}


def decision_schema(spec: ApprovalNodeSpec, state: CompiledState) -> dict[str, Any]:
    """JSON Schema of a valid answer (sent with the interrupt for clients and UIs)."""
    from pydantic import TypeAdapter

    edit_props = {
        field: TypeAdapter(python_type(state.fields[field])).json_schema()
        for field in spec.editable
        if field in state.fields
    }
    return {
        "type": "object",
        "properties": {
            "decision": {"enum": list(spec.decisions)},
            "comment": {"type": "string"},
            "by": {"type": "string"},
            "edits": {"type": "object", "properties": edit_props, "additionalProperties": False},
        },
        "required": ["decision"],
        "additionalProperties": False,
    }
