"""Approval gates through the engine: decisions, edits, rejects, subworkflows, parallel gates."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import ApprovalError, RunStateError, WorkflowConflictError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunResult

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

REVIEW_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "review",
    "state": {
        "draft": {"type": "string"},
        "review": {"type": "object", "nullable": True},
        "outcome": {"type": "string", "nullable": True},
    },
    "input": ["draft"],
    "nodes": {
        "gate": {
            "kind": "approval",
            "prompt": "Publish '${state.draft}'?",
            "decisions": ["approve", "reject", "edit"],
            "editable": ["draft"],
            "writes": "review",
        },
        "publish": {
            "kind": "function",
            "ref": "ap.publish",
            "inputs": {"draft": "state.draft"},
            "writes": "outcome",
        },
        "discard": {"kind": "function", "ref": "ap.discard", "writes": "outcome"},
    },
    "edges": [
        {"from": "START", "to": "gate"},
        {
            "from": "gate",
            "cases": [{"when": "state.review.decision == 'reject'", "to": "discard"}],
            "default": "publish",
        },
        {"from": "publish", "to": "END"},
        {"from": "discard", "to": "END"},
    ],
}

CHILD_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "signoff",
    "state": {
        "topic": {"type": "string"},
        "memo": {"type": "string", "nullable": True},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["topic"],
    "nodes": {
        "write": {
            "kind": "function",
            "ref": "ap.write_memo",
            "inputs": {"topic": "state.topic"},
            "writes": "memo",
        },
        "gate": {"kind": "approval", "prompt": "Sign off ${state.memo}?", "writes": "review"},
    },
    "edges": [
        {"from": "START", "to": "write"},
        {"from": "write", "to": "gate"},
        {"from": "gate", "to": "END"},
    ],
}

PARENT_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "project",
    "state": {
        "topic": {"type": "string"},
        "memo": {"type": "string", "nullable": True},
        "decision": {"type": "object", "nullable": True},
        "outcome": {"type": "string", "nullable": True},
    },
    "input": ["topic"],
    "nodes": {
        "sign": {
            "kind": "subworkflow",
            "workflow": "signoff",
            "inputs": {"topic": "state.topic"},
            "outputs": {"memo": "memo", "decision": "review"},
        },
        "publish": {
            "kind": "function",
            "ref": "ap.publish",
            "inputs": {"draft": "state.memo"},
            "writes": "outcome",
        },
    },
    "edges": [
        {"from": "START", "to": "sign"},
        {"from": "sign", "to": "publish"},
        {"from": "publish", "to": "END"},
    ],
}

TWO_GATES_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "two-gates",
    "state": {
        "legal": {"type": "object", "nullable": True},
        "finance": {"type": "object", "nullable": True},
        "outcome": {"type": "string", "nullable": True},
    },
    "nodes": {
        "legal_gate": {"kind": "approval", "prompt": "Legal OK?", "writes": "legal"},
        "finance_gate": {"kind": "approval", "prompt": "Finance OK?", "writes": "finance"},
        "discard": {"kind": "function", "ref": "ap.discard", "writes": "outcome"},
    },
    "edges": [
        {"from": "START", "to": ["legal_gate", "finance_gate"]},
        {"from": ["legal_gate", "finance_gate"], "to": "discard"},
        {"from": "discard", "to": "END"},
    ],
}


@pytest.fixture
def calls() -> Counter[str]:
    """How often each side-effecting function ran."""
    return Counter()


@pytest.fixture
def registry(calls: Counter[str]) -> Registry:
    """Functions counting their calls in ``calls``."""
    registry = Registry()

    async def publish(draft: str) -> str:
        calls["publish"] += 1
        return f"published:{draft}"

    async def discard() -> str:
        calls["discard"] += 1
        return "discarded"

    async def write_memo(topic: str) -> str:
        calls["write_memo"] += 1
        return f"memo on {topic}"

    registry.add_function("ap.publish", publish)
    registry.add_function("ap.discard", discard)
    registry.add_function("ap.write_memo", write_memo)
    return registry


@pytest.fixture
async def engine(open_engine: OpenEngine, registry: Registry) -> Engine:
    """An engine with every approval workflow of this module published."""
    engine = await open_engine(registry)
    for document in (REVIEW_DOC, CHILD_DOC, PARENT_DOC, TWO_GATES_DOC):
        await engine.publish(document)
    return engine


@pytest.mark.parametrize(
    "decision",
    [
        pytest.param("nope", id="unknown-name"),
        pytest.param({"decision": "nope"}, id="unknown-in-object"),
        pytest.param({"decision": "approve", "extra": 1}, id="unknown-key"),
        pytest.param(42, id="not-a-name-or-object"),
    ],
)
async def test_invalid_decision_keeps_thread_paused(
    engine: Engine, calls: Counter[str], decision: Any
) -> None:
    """An invalid decision raises approval.invalid_decision; the same approval stays pending."""
    paused = await engine.run("review", {"draft": "v1"})

    with pytest.raises(ApprovalError) as caught:
        await engine.resume(paused.thread_id, decision)
    state = await engine.get_state(paused.thread_id)

    assert caught.value.code == "approval.invalid_decision"
    assert state.status == "interrupted"
    assert [a.id for a in state.approvals] == [paused.approvals[0].id]
    assert state.next == ("gate",)
    assert not calls


async def test_approve_after_invalid_decision_completes(engine: Engine) -> None:
    """A valid decision after a refused one resumes the run normally."""
    paused = await engine.run("review", {"draft": "v1"})
    with pytest.raises(ApprovalError):
        await engine.resume(paused.thread_id, "nope")

    done = await engine.resume(paused.thread_id, {"decision": "approve", "comment": "fine"})

    assert done.status == "completed"
    assert done.values["outcome"] == "published:v1"
    assert done.values["review"]["comment"] == "fine"


async def test_edit_decision_changes_state(engine: Engine) -> None:
    """An edit of an editable field is written to state before the next node runs."""
    paused = await engine.run("review", {"draft": "v1"})

    done = await engine.resume(
        paused.thread_id, {"decision": "edit", "edits": {"draft": "v2"}, "by": "ana"}
    )

    assert done.status == "completed"
    assert done.values["draft"] == "v2"
    assert done.values["outcome"] == "published:v2"
    assert done.values["review"] == {
        "decision": "edit",
        "comment": None,
        "by": "ana",
        "edits": {"draft": "v2"},
    }


@pytest.mark.parametrize(
    "decision",
    [
        pytest.param({"decision": "edit", "edits": {"draft": 5}}, id="wrong-type"),
        pytest.param({"decision": "edit", "edits": {"outcome": "x"}}, id="not-editable"),
        pytest.param({"decision": "approve", "edits": {"draft": "v2"}}, id="edits-without-edit"),
        pytest.param({"decision": "edit", "edits": ["draft"]}, id="edits-not-an-object"),
    ],
)
async def test_invalid_edit_keeps_thread_paused(
    engine: Engine, calls: Counter[str], decision: dict[str, Any]
) -> None:
    """A bad edit raises approval.invalid_edit and leaves state and the gate unchanged."""
    paused = await engine.run("review", {"draft": "v1"})

    with pytest.raises(ApprovalError) as caught:
        await engine.resume(paused.thread_id, decision)
    state = await engine.get_state(paused.thread_id)

    assert caught.value.code == "approval.invalid_edit"
    assert (state.status, state.values["draft"]) == ("interrupted", "v1")
    assert [a.id for a in state.approvals] == [paused.approvals[0].id]
    assert not calls


async def test_reject_takes_the_reject_branch(engine: Engine, calls: Counter[str]) -> None:
    """Rejecting routes to the reject branch; the approve branch never runs."""
    paused = await engine.run("review", {"draft": "v1"})

    done = await engine.resume(paused.thread_id, "reject")

    assert done.status == "completed"
    assert done.values["outcome"] == "discarded"
    assert calls == Counter(discard=1)


async def test_pending_approval_describes_the_gate(engine: Engine) -> None:
    """The pending approval names the node, renders the prompt and lists decisions."""
    paused = await engine.run("review", {"draft": "v1"})

    (approval,) = paused.approvals

    assert paused.status == "interrupted"
    assert approval.node == "gate"
    assert approval.prompt == "Publish 'v1'?"
    assert approval.decisions == ("approve", "reject", "edit")
    assert approval.editable == ("draft",)


async def test_approval_in_subworkflow_pauses_and_resumes_parent(
    engine: Engine, calls: Counter[str]
) -> None:
    """A child's gate pauses the parent thread; approving finishes child and parent once each."""
    paused = await engine.run("project", {"topic": "pricing"})
    state = await engine.get_state(paused.thread_id)

    done = await engine.resume(paused.thread_id, "approve")

    assert paused.status == "interrupted"
    assert [a.node for a in paused.approvals] == ["gate"]
    assert paused.approvals[0].prompt == "Sign off memo on pricing?"
    assert state.status == "interrupted"
    assert [a.id for a in state.approvals] == [paused.approvals[0].id]
    assert done.status == "completed"
    assert done.values["decision"]["decision"] == "approve"
    assert done.values["outcome"] == "published:memo on pricing"
    assert calls == Counter(write_memo=1, publish=1)


async def test_invalid_decision_in_subworkflow_is_refused(engine: Engine) -> None:
    """A decision the child's gate does not allow raises approval.invalid_decision."""
    paused = await engine.run("project", {"topic": "pricing"})

    with pytest.raises(ApprovalError) as caught:
        await engine.resume(paused.thread_id, "edit")

    assert caught.value.code == "approval.invalid_decision"
    assert (await engine.get_state(paused.thread_id)).status == "interrupted"


async def test_parallel_gates_need_a_mapping(engine: Engine, calls: Counter[str]) -> None:
    """With two gates pending a plain decision is ambiguous; a mapping by id answers both."""
    paused = await engine.run("two-gates")
    ids = {a.node: a.id for a in paused.approvals}

    with pytest.raises(ApprovalError) as caught:
        await engine.resume(paused.thread_id, "approve")
    still = await engine.get_state(paused.thread_id)
    done = await engine.resume(
        paused.thread_id, {ids["legal_gate"]: "approve", ids["finance_gate"]: "reject"}
    )

    assert paused.status == "interrupted"
    assert sorted(ids) == ["finance_gate", "legal_gate"]
    assert caught.value.code == "approval.ambiguous"
    assert (still.status, {a.id for a in still.approvals}) == ("interrupted", set(ids.values()))
    assert done.status == "completed"
    assert done.values["legal"]["decision"] == "approve"
    assert done.values["finance"]["decision"] == "reject"
    assert calls == Counter(discard=1)


async def test_parallel_gates_answered_one_at_a_time(engine: Engine) -> None:
    """Answering one of two gates leaves the other pending; answering it completes the run."""
    paused = await engine.run("two-gates")
    ids = {a.node: a.id for a in paused.approvals}

    first = await engine.resume(paused.thread_id, {ids["legal_gate"]: "approve"})
    second = await engine.resume(paused.thread_id, {ids["finance_gate"]: "approve"})

    assert first.status == "interrupted"
    assert [a.id for a in first.approvals] == [ids["finance_gate"]]
    assert first.values["legal"]["decision"] == "approve"
    assert second.status == "completed"
    assert second.values["finance"]["decision"] == "approve"


async def test_parallel_gates_check_each_decision(engine: Engine) -> None:
    """An invalid decision for one of several gates raises approval.invalid_decision."""
    paused = await engine.run("two-gates")
    ids = [a.id for a in paused.approvals]

    with pytest.raises(ApprovalError) as caught:
        await engine.resume(paused.thread_id, {ids[0]: "approve", ids[1]: "maybe"})

    assert caught.value.code == "approval.invalid_decision"
    assert (await engine.get_state(paused.thread_id)).status == "interrupted"


async def test_concurrent_decisions_have_one_winner(engine: Engine, calls: Counter[str]) -> None:
    """Of two decisions sent at once exactly one resumes the run; the other is refused."""
    paused = await engine.run("review", {"draft": "v1"})

    outcomes = await asyncio.gather(
        engine.resume(paused.thread_id, "approve"),
        engine.resume(paused.thread_id, "reject"),
        return_exceptions=True,
    )

    results = [o for o in outcomes if isinstance(o, RunResult)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert [r.status for r in results] == ["completed"]
    assert len(errors) == 1
    assert isinstance(errors[0], WorkflowConflictError | RunStateError)
    assert errors[0].code in ("thread.busy", "run.invalid_state")
    assert sum(calls.values()) == 1
    assert (await engine.get_state(paused.thread_id)).values == results[0].values
