"""Tests of ApprovalStore: recording gates, filters, atomic decisions, expiry claims, audit."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store import Pool, ThreadStore, apply_migrations
from graphwright.store.approvals import (
    ApprovalQuery,
    ApprovalRecord,
    ApprovalStore,
    NewApproval,
)
from graphwright.store.run_payload import RunPayload
from graphwright.store.runs import NewRun, RunStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store(pool: Pool) -> ApprovalStore:
    """An ApprovalStore on the session's migrated database."""
    return ApprovalStore(pool)


@pytest.fixture
async def own_pool(fresh_pool: Pool) -> Pool:
    """A migrated database of its own: expiry claims span tenants, so no sharing."""
    await apply_migrations(fresh_pool)
    return fresh_pool


def gate(approval_id: str | None = None, **extra: Any) -> NewApproval:
    """A pending approval of node 'review'."""
    values: dict[str, Any] = {
        "approval_id": approval_id or uuid.uuid4().hex,
        "node": "review",
        "prompt": "Publish?",
        "decisions": ("approve", "reject"),
        "editable": (),
        "payload": {"kind": "approval", "node": "review", "show": {"n": 1}},
    }
    values.update(extra)
    return NewApproval(**values)


async def new_thread(
    pool: Pool, tenant: str, thread_id: str, metadata: dict[str, Any] | None = None
) -> None:
    """Create a thread bound to workflow 'flow'."""
    await ThreadStore(pool).create(
        tenant, thread_id, workflow_id="flow", workflow_version=1, metadata=metadata or {}
    )


async def record(
    store: ApprovalStore,
    tenant: str,
    thread_id: str,
    *gates: NewApproval,
    run_id: str = "run-1",
    workflow_id: str = "flow",
) -> list[ApprovalRecord]:
    """Record the gates of a run that stopped; return the rows created."""
    synced = await store.sync_thread(
        tenant, thread_id, run_id=run_id, workflow_id=workflow_id, pending=list(gates)
    )
    return synced.created


async def decide(
    pool: Pool, store: ApprovalStore, tenant: str, approval_id: str, *, actor: str = "ana"
) -> ApprovalRecord:
    """Decide 'approve' in a transaction of its own."""
    async with pool.connection() as conn, conn.transaction():
        return await store.decide(
            conn,
            tenant,
            approval_id,
            decision={"decision": "approve"},
            actor=actor,
            resume_run_id=f"resume-{uuid.uuid4().hex[:6]}",
        )


async def test_sync_records_each_gate_once(store: ApprovalStore, pool: Pool, tenant: str) -> None:
    """Recording a run's gates twice (a re-claimed run) creates one row and one audit entry."""
    await new_thread(pool, tenant, "th")
    first = gate()

    created = await record(store, tenant, "th", first)
    again = await record(store, tenant, "th", first)

    assert [r.approval_id for r in created] == [first.approval_id]
    assert again == []
    stored = await store.get(tenant, first.approval_id)
    assert (stored.status, stored.run_id, stored.workflow_id) == ("pending", "run-1", "flow")
    assert stored.decisions == ["approve", "reject"]
    assert stored.expires_at is None
    trail = await store.audit_trail(tenant, first.approval_id)
    assert [e.action for e in trail] == ["approval.requested"]


async def test_sync_cancels_gates_no_longer_pending(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """A later run that ends without a gate cancels the thread's pending rows."""
    await new_thread(pool, tenant, "th")
    old = gate()
    await record(store, tenant, "th", old)

    synced = await store.sync_thread(tenant, "th", run_id="run-2", workflow_id="flow", pending=[])

    assert [r.approval_id for r in synced.cancelled] == [old.approval_id]
    stored = await store.get(tenant, old.approval_id)
    assert (stored.status, stored.decided_by) == ("cancelled", "system:superseded")


async def test_sync_keeps_rows_listed_in_keep(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """Rows whose interrupt is still pending (a failed run) stay pending."""
    await new_thread(pool, tenant, "th")
    kept = gate()
    await record(store, tenant, "th", kept)

    synced = await store.sync_thread(
        tenant, "th", run_id="run-2", workflow_id="flow", pending=[], keep=[kept.approval_id]
    )

    assert synced.cancelled == []
    assert (await store.get(tenant, kept.approval_id)).status == "pending"


async def test_sync_reopens_a_gate_pending_again_after_another_run(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """A decided gate reported pending by a later run (answer refused) is pending again."""
    await new_thread(pool, tenant, "th")
    refused = gate()
    await record(store, tenant, "th", refused)
    await decide(pool, store, tenant, refused.approval_id)

    created = await record(store, tenant, "th", refused, run_id="run-2")

    assert [r.approval_id for r in created] == [refused.approval_id]
    stored = await store.get(tenant, refused.approval_id)
    assert (stored.status, stored.run_id, stored.decision) == ("pending", "run-2", None)


async def test_timeout_sets_expiry_only_with_on_timeout(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """A gate with timeout and on_timeout expires; a timeout alone does not."""
    await new_thread(pool, tenant, "th")
    timed = gate(timeout=60.0, on_timeout="reject")
    half = gate(timeout=60.0)

    await record(store, tenant, "th", timed, half)

    stored = await store.get(tenant, timed.approval_id)
    assert stored.expires_at is not None
    assert (stored.expires_at - stored.created_at).total_seconds() == pytest.approx(60, abs=1)
    assert stored.on_timeout == "reject"
    assert (await store.get(tenant, half.approval_id)).expires_at is None


async def test_get_unknown_raises_not_found(store: ApprovalStore, tenant: str) -> None:
    """Reading an unknown approval raises approval.not_found."""
    with pytest.raises(NotFoundError) as caught:
        await store.get(tenant, "nope")

    assert caught.value.code == "approval.not_found"


async def test_other_tenant_sees_nothing(store: ApprovalStore, pool: Pool, tenant: str) -> None:
    """Approvals of one tenant are invisible to another."""
    await new_thread(pool, tenant, "th")
    mine = gate()
    await record(store, tenant, "th", mine)

    with pytest.raises(NotFoundError):
        await store.get(f"{tenant}-other", mine.approval_id)
    assert await store.list(f"{tenant}-other", ApprovalQuery()) == []


@pytest.fixture
async def inbox(store: ApprovalStore, pool: Pool, tenant: str) -> dict[str, str]:
    """Three approvals: acme/flow, acme/other-flow (decided), globex/flow; name -> id."""
    await new_thread(pool, tenant, "th-acme", {"client_id": "acme", "team": {"name": "red"}})
    await new_thread(pool, tenant, "th-acme-2", {"client_id": "acme"})
    await new_thread(pool, tenant, "th-globex", {"client_id": "globex"})
    ids = {"acme": gate(), "acme-other": gate(), "globex": gate()}
    await record(store, tenant, "th-acme", ids["acme"])
    await record(store, tenant, "th-acme-2", ids["acme-other"], workflow_id="other-flow")
    await record(store, tenant, "th-globex", ids["globex"])
    await decide(pool, store, tenant, ids["acme-other"].approval_id)
    return {name: g.approval_id for name, g in ids.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(ApprovalQuery(), ["acme", "globex"], id="pending-default"),
        pytest.param(ApprovalQuery(status=None), ["acme", "acme-other", "globex"], id="any"),
        pytest.param(ApprovalQuery(status="decided"), ["acme-other"], id="decided"),
        pytest.param(ApprovalQuery(workflow_id="flow"), ["acme", "globex"], id="workflow"),
        pytest.param(
            ApprovalQuery(status=None, workflow_id="other-flow"), ["acme-other"], id="workflow-2"
        ),
        pytest.param(ApprovalQuery(metadata={"client_id": "acme"}), ["acme"], id="metadata"),
        pytest.param(
            ApprovalQuery(status=None, metadata={"client_id": "acme"}),
            ["acme", "acme-other"],
            id="metadata-any",
        ),
        pytest.param(
            ApprovalQuery(metadata={"team": {"name": "red"}}), ["acme"], id="metadata-nested"
        ),
        pytest.param(ApprovalQuery(thread_id="th-globex"), ["globex"], id="thread"),
        pytest.param(ApprovalQuery(min_age=3600), [], id="older-than-an-hour"),
        pytest.param(ApprovalQuery(max_age=3600), ["acme", "globex"], id="newer-than-an-hour"),
        pytest.param(ApprovalQuery(limit=1), ["acme"], id="limit"),
        pytest.param(ApprovalQuery(limit=1, offset=1), ["globex"], id="offset"),
    ],
)
async def test_list_filters(
    store: ApprovalStore,
    tenant: str,
    inbox: dict[str, str],
    query: ApprovalQuery,
    expected: list[str],
) -> None:
    """list applies status, workflow, thread, metadata containment, age and paging."""
    names = {approval_id: name for name, approval_id in inbox.items()}

    found = await store.list(tenant, query)

    assert [names[r.approval_id] for r in found] == expected


async def test_list_returns_thread_metadata(
    store: ApprovalStore, tenant: str, inbox: dict[str, str]
) -> None:
    """Listed approvals carry their thread's metadata."""
    found = await store.list(tenant, ApprovalQuery(thread_id="th-globex"))

    assert found[0].thread_metadata == {"client_id": "globex"}
    assert found[0].to_dict()["show"] == {"n": 1}


async def test_list_refuses_bad_page(store: ApprovalStore, tenant: str) -> None:
    """A limit outside 1..1000 raises ValueError."""
    with pytest.raises(ValueError, match="limit"):
        await store.list(tenant, ApprovalQuery(limit=0))


async def test_concurrent_decisions_exactly_one_wins(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """Of 20 concurrent decisions exactly one wins; the others get approval.already_decided."""
    await new_thread(pool, tenant, "th")
    contested = gate()
    await record(store, tenant, "th", contested)

    async def attempt(index: int) -> str:
        try:
            await decide(pool, store, tenant, contested.approval_id, actor=f"user-{index}")
        except WorkflowConflictError as exc:
            return exc.code
        return "won"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(20)))

    assert sorted(outcomes) == ["approval.already_decided"] * 19 + ["won"]
    stored = await store.get(tenant, contested.approval_id)
    trail = await store.audit_trail(tenant, contested.approval_id)
    decided = [e for e in trail if e.action == "approval.decided"]
    assert len(decided) == 1
    assert decided[0].actor == stored.decided_by
    assert decided[0].details["resume_run_id"] == stored.resume_run_id


async def test_decision_rolled_back_with_its_transaction(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """A decision whose transaction fails (resume run not queued) leaves no trace."""
    await new_thread(pool, tenant, "th")
    kept = gate()
    await record(store, tenant, "th", kept)

    async def decide_then_fail() -> None:
        async with pool.connection() as conn, conn.transaction():
            await store.decide(
                conn,
                tenant,
                kept.approval_id,
                decision={"decision": "approve"},
                actor="ana",
                resume_run_id="r",
            )
            raise RuntimeError("queueing failed")

    with pytest.raises(RuntimeError, match="queueing failed"):
        await decide_then_fail()

    assert (await store.get(tenant, kept.approval_id)).status == "pending"
    assert [e.action for e in await store.audit_trail(tenant, kept.approval_id)] == [
        "approval.requested"
    ]


async def test_decide_unknown_raises_not_found(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """Deciding an unknown approval raises approval.not_found."""
    with pytest.raises(NotFoundError) as caught:
        await decide(pool, store, tenant, "nope")

    assert caught.value.code == "approval.not_found"


async def test_cancel_closes_only_pending(store: ApprovalStore, pool: Pool, tenant: str) -> None:
    """cancel closes a pending approval with its reason; a second cancel returns None."""
    await new_thread(pool, tenant, "th")
    stale = gate()
    await record(store, tenant, "th", stale)

    first = await store.cancel(tenant, stale.approval_id, actor="system:stale", reason={"x": 1})
    second = await store.cancel(tenant, stale.approval_id, actor="system:stale", reason={})

    assert first is not None
    assert first.status == "cancelled"
    assert second is None
    trail = await store.audit_trail(tenant, stale.approval_id)
    assert trail[-1].action == "approval.cancelled"
    assert trail[-1].details["reason"] == {"x": 1}


async def test_unconsumed_decision_seen_until_resume_run_ends(
    store: ApprovalStore, pool: Pool, tenant: str
) -> None:
    """A decision counts as unconsumed while its resume run is pending."""
    await new_thread(pool, tenant, "th")
    decided = gate()
    await record(store, tenant, "th", decided)
    runs = RunStore(pool)
    async with pool.connection() as conn, conn.transaction():
        resume = await runs.insert(
            conn,
            tenant,
            NewRun(
                run_id=f"run-{uuid.uuid4().hex[:6]}",
                thread_id="th",
                assistant_id="flow",
                workflow_version=1,
                payload=RunPayload(),
                metadata={},
                multitask_strategy="enqueue",
                max_attempts=3,
            ),
        )
        await store.decide(
            conn,
            tenant,
            decided.approval_id,
            decision={"decision": "approve"},
            actor="ana",
            resume_run_id=resume.run_id,
        )

    async with pool.connection() as conn:
        while_pending = await store.has_unconsumed_decision(conn, tenant, "th", run_id="new")
        own = await store.has_unconsumed_decision(conn, tenant, "th", run_id=resume.run_id)
    await runs.finish(tenant, resume.run_id, owner=None, status="success")
    async with pool.connection() as conn:
        after = await store.has_unconsumed_decision(conn, tenant, "th", run_id="new")

    assert (while_pending, own, after) == (True, False, False)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("update gw_audit set actor = 'mallory'", id="update"),
        pytest.param("delete from gw_audit", id="delete"),
        pytest.param("truncate gw_audit", id="truncate"),
    ],
)
async def test_audit_log_is_append_only(
    store: ApprovalStore, pool: Pool, tenant: str, statement: str
) -> None:
    """Updating, deleting or truncating audit entries is refused by the database."""
    await new_thread(pool, tenant, "th")
    await record(store, tenant, "th", gate())

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        async with pool.connection() as conn:
            await conn.execute(statement)


async def test_claim_due_hands_each_expired_approval_to_one_sweeper(own_pool: Pool) -> None:
    """Concurrent claims split the due approvals without overlap; a claim lasts its lease."""
    store = ApprovalStore(own_pool)
    await new_thread(own_pool, "t1", "th")
    due = [gate(timeout=0.01, on_timeout="reject") for _ in range(6)]
    later = gate(timeout=3600.0, on_timeout="reject")
    await record(store, "t1", "th", *due, later)
    await asyncio.sleep(0.05)

    claims = await asyncio.gather(*(store.claim_due(lease_seconds=30, limit=4) for _ in range(3)))

    claimed = [r.approval_id for batch in claims for r in batch]
    assert sorted(claimed) == sorted(g.approval_id for g in due)
    assert await store.claim_due(lease_seconds=30, limit=10) == []
    next_due = await store.next_expiry()
    assert next_due is not None
    # The claimed ones come due again when their 30 s claim lapses, before `later`.
    first = min(r.created_at for batch in claims for r in batch)
    assert 25 < (next_due - first).total_seconds() < 35


async def test_claim_due_again_after_the_lease_lapses(own_pool: Pool) -> None:
    """A claimed approval still pending after its lease is claimed again."""
    store = ApprovalStore(own_pool)
    await new_thread(own_pool, "t1", "th")
    lapsing = gate(timeout=0.01, on_timeout="reject")
    await record(store, "t1", "th", lapsing)
    await asyncio.sleep(0.05)

    first = await store.claim_due(lease_seconds=0.05, limit=10)
    await asyncio.sleep(0.1)
    second = await store.claim_due(lease_seconds=30, limit=10)

    assert [r.approval_id for r in first] == [lapsing.approval_id]
    assert [r.approval_id for r in second] == [lapsing.approval_id]


async def test_count_pending_counts_every_tenant(own_pool: Pool) -> None:
    """count_pending counts each tenant's pending approvals apart, not decided ones."""
    store = ApprovalStore(own_pool)
    for tenant in ("t1", "t2"):
        await new_thread(own_pool, tenant, "th")
        await record(store, tenant, "th", gate(), gate())
    first = (await store.list("t1", ApprovalQuery()))[0]
    await decide(own_pool, store, "t1", first.approval_id)

    assert await store.count_pending() == {"t1": 1, "t2": 2}
