"""A refused edit says which field is wrong (a pointer into the decision body), so a form
can show the error next to that field."""

from __future__ import annotations

from typing import Any

import pytest

from graphwright.errors import ApprovalError
from graphwright.graphs.spec import ApprovalNodeSpec, WorkflowSpec
from graphwright.nodes.approval import parse_decision
from graphwright.state import compile_state

from .test_approval import DOC


@pytest.mark.parametrize(
    ("edits", "pointer"),
    [
        pytest.param({"score": "high"}, "/edits/score", id="wrong-type"),
        pytest.param({"tags": ["ok", 7]}, "/edits/tags/1", id="wrong-item"),
        pytest.param({"draft": None}, "/edits/draft", id="null-into-non-nullable"),
        pytest.param({"review": {}}, "/edits/review", id="not-editable"),
    ],
)
def test_refused_edit_points_at_the_field(edits: dict[str, Any], pointer: str) -> None:
    """approval.invalid_edit carries problems whose pointers name the edited field."""
    spec = WorkflowSpec.model_validate(DOC)
    gate = spec.nodes["gate"]
    assert isinstance(gate, ApprovalNodeSpec)

    with pytest.raises(ApprovalError) as info:
        parse_decision({"decision": "edit", "edits": edits}, gate, compile_state(spec))

    assert info.value.code == "approval.invalid_edit"
    problems = info.value.details["problems"]
    assert [p["pointer"] for p in problems] == [pointer]
    assert all(p["message"] for p in problems)
