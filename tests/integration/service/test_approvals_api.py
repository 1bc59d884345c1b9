"""The approvals inbox against a live server: list, decide, concurrency, SDK resume, expiry."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from graphwright.store import Pool
from graphwright.store.approvals import ApprovalStore, NewApproval
from tests.integration.service.conftest import EXAMPLES, Server
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())
TENANT = "default"


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def timed_workflow(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A gated chain whose gate rejects by itself after one second (published once)."""
    doc = chain("svc-timed", ["first", "last"], approval=True)
    doc["nodes"]["gate"].update({"timeout": 1, "on_timeout": "reject"})
    path = tmp_path_factory.mktemp("timed") / "svc-timed.json"
    path.write_text(json.dumps(doc))
    script = Path(sys.executable).parent / "graphwright"
    done = subprocess.run(
        [str(script), "publish", str(path)], env=server.env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return "svc-timed"


async def discovery_at_gate(client: LangGraphClient) -> tuple[str, str, str]:
    """Run asset-discovery on a new thread to its gate; (thread id, client id, interrupt id)."""
    client_id = f"client-{uuid.uuid4().hex[:8]}"
    thread = await client.threads.create(metadata={"client_id": client_id})
    result = await client.runs.wait(thread["thread_id"], "asset-discovery", input=DISCOVERY_INPUT)
    assert isinstance(result, dict)
    interrupt = result["__interrupt__"][0]
    return thread["thread_id"], client_id, interrupt["id"]


async def approval(http: httpx.AsyncClient, approval_id: str) -> dict[str, Any]:
    """GET /approvals/{id} (asserting 200)."""
    response = await http.get(f"/approvals/{approval_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_decide_from_the_inbox_resumes_the_run(
    client: LangGraphClient, http: httpx.AsyncClient, pool: Pool
) -> None:
    """A gate shows in the filtered inbox; deciding it resumes the run to the end, audited."""
    thread_id, client_id, interrupt_id = await discovery_at_gate(client)

    by_metadata = await http.get(
        "/approvals",
        params={"workflow_id": "asset-discovery", "metadata.client_id": client_id},
    )
    by_json = await http.get(
        "/approvals", params={"metadata": json.dumps({"client_id": client_id})}
    )
    other_workflow = await http.get(
        "/approvals", params={"workflow_id": "svc-gated", "metadata.client_id": client_id}
    )
    assert by_metadata.status_code == 200
    listed = by_metadata.json()
    assert [a["approval_id"] for a in listed] == [interrupt_id]
    assert by_json.json() == listed
    assert other_workflow.json() == []
    pending = listed[0]
    assert pending["status"] == "pending"
    assert pending["thread_id"] == thread_id
    assert pending["node"] == "review"
    assert pending["decisions"] == ["approve", "reject", "edit"]
    assert pending["editable"] == ["report"]
    assert pending["prompt"].startswith("Publish the asset plan for acme?")
    assert pending["thread_metadata"] == {"client_id": client_id}

    decided = await http.post(
        f"/approvals/{interrupt_id}/decide",
        json={"decision": "approve", "comment": "looks right", "by": "ana"},
    )

    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["decided_by"]) == ("decided", "ana")
    assert body["decision"]["comment"] == "looks right"
    final = await client.runs.join(thread_id, body["resume_run_id"])
    assert isinstance(final, dict)
    assert final["review"]["decision"] == "approve"
    assert final["review"]["by"] == "ana"
    assert final["published"]["assets"] == 5
    still_pending = await http.get("/approvals", params={"metadata.client_id": client_id})
    assert still_pending.json() == []
    trail = await ApprovalStore(pool).audit_trail(TENANT, interrupt_id)
    assert [(e.action, e.actor) for e in trail] == [
        ("approval.requested", "system"),
        ("approval.decided", "ana"),
    ]
    assert trail[1].details["resume_run_id"] == body["resume_run_id"]
    assert trail[1].details["via"] == "api"


async def test_edit_decision_changes_the_state(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """An edit decision with an editable field reaches the thread's state."""
    thread_id, _, interrupt_id = await discovery_at_gate(client)

    decided = await http.post(
        f"/approvals/{interrupt_id}/decide",
        json={"decision": "edit", "edits": {"report": "edited plan"}},
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["decided_by"] == "anonymous"
    final = await client.runs.join(thread_id, decided.json()["resume_run_id"])
    assert isinstance(final, dict)
    assert final["report"] == "edited plan"


async def test_twenty_concurrent_decisions_exactly_one_wins(
    client: LangGraphClient, http: httpx.AsyncClient, pool: Pool
) -> None:
    """Of 20 concurrent decisions exactly one gets 200; 19 get 409 approval.already_decided."""
    thread_id, _, interrupt_id = await discovery_at_gate(client)

    responses = await asyncio.gather(
        *(
            http.post(
                f"/approvals/{interrupt_id}/decide",
                json={"decision": "approve" if i % 2 else "reject", "by": f"user-{i}"},
            )
            for i in range(20)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code != 409]
    codes = {r.json()["code"] for r in responses if r.status_code == 409}
    assert codes == {"approval.already_decided"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    final = await client.runs.join(thread_id, winner["resume_run_id"])
    assert isinstance(final, dict)
    assert final["review"]["by"] == winner["decided_by"]
    runs = await client.runs.list(thread_id, limit=50)
    assert len(runs) == 2, "one interrupted run and one resume run, nothing else queued"
    trail = await ApprovalStore(pool).audit_trail(TENANT, interrupt_id)
    assert [e.action for e in trail].count("approval.decided") == 1


@pytest.mark.parametrize("by_id", [pytest.param(False, id="plain"), pytest.param(True, id="by-id")])
async def test_sdk_resume_closes_the_approval(
    client: LangGraphClient, http: httpx.AsyncClient, by_id: bool
) -> None:
    """Resuming through the SDK's command.resume decides the approval row too."""
    thread_id, _, interrupt_id = await discovery_at_gate(client)
    answer = {"decision": "reject", "by": "sdk-user"}
    resume: dict[str, Any] = {interrupt_id: answer} if by_id else answer

    final = await client.runs.wait(thread_id, "asset-discovery", command={"resume": resume})

    assert isinstance(final, dict)
    assert final["review"]["decision"] == "reject"
    closed = await approval(http, interrupt_id)
    assert (closed["status"], closed["decided_by"]) == ("decided", "sdk-user")
    runs = await client.runs.list(thread_id, limit=5)
    assert closed["resume_run_id"] == runs[0]["run_id"]
    again = await http.post(f"/approvals/{interrupt_id}/decide", json={"decision": "approve"})
    assert (again.status_code, again.json()["code"]) == (409, "approval.already_decided")


async def test_sdk_resume_after_an_inbox_decision_is_409(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """Once the inbox decided a gate, a second answer through the SDK is refused with 409."""
    thread_id, _, interrupt_id = await discovery_at_gate(client)
    decided = await http.post(f"/approvals/{interrupt_id}/decide", json={"decision": "reject"})
    assert decided.status_code == 200

    # runs.wait raises a plain httpx error (ConflictError is a subclass of it).
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(
            thread_id,
            "asset-discovery",
            command={"resume": {interrupt_id: "approve"}},
            multitask_strategy="enqueue",
        )

    # Before the resume run ran the row refuses; after, nothing is left to resume.
    assert refused.value.response.status_code == 409
    assert refused.value.response.json()["code"] in {
        "approval.already_decided",
        "run.nothing_to_resume",
    }

    final = await client.runs.join(thread_id, decided.json()["resume_run_id"])
    assert isinstance(final, dict)
    assert final["review"]["decision"] == "reject"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"decision": "maybe"}, "approval.invalid_decision", id="unknown-decision"),
        pytest.param(
            {"decision": "edit", "edits": {"client_id": "x"}},
            "approval.invalid_edit",
            id="field-not-editable",
        ),
        pytest.param(
            {"decision": "approve", "edits": {"report": "x"}},
            "approval.invalid_edit",
            id="edits-without-edit",
        ),
        pytest.param(
            {"decision": "edit", "edits": {"report": 42}},
            "approval.invalid_edit",
            id="wrong-type",
        ),
        pytest.param({"decision": "approve", "extra": 1}, "request.invalid", id="unknown-key"),
        pytest.param({"comment": "no decision"}, "request.invalid", id="missing-decision"),
    ],
)
async def test_invalid_decision_is_422_and_stays_pending(
    client: LangGraphClient, http: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    """A refused decision is a 422 problem with its code; the approval stays pending."""
    thread_id, _, interrupt_id = await discovery_at_gate(client)

    response = await http.post(f"/approvals/{interrupt_id}/decide", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert (await approval(http, interrupt_id))["status"] == "pending"
    assert len(await client.runs.list(thread_id)) == 1, "no resume run was queued"


async def test_unknown_approval_is_404(http: httpx.AsyncClient) -> None:
    """Getting or deciding an unknown approval is 404 approval.not_found."""
    got = await http.get("/approvals/nope")
    decided = await http.post("/approvals/nope/decide", json={"decision": "approve"})

    assert (got.status_code, got.json()["code"]) == (404, "approval.not_found")
    assert (decided.status_code, decided.json()["code"]) == (404, "approval.not_found")


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"metadata": "not json"}, id="metadata-not-json"),
        pytest.param({"metadata": "[1, 2]"}, id="metadata-not-object"),
        pytest.param({"metadata..x": "1"}, id="metadata-empty-key"),
        pytest.param({"status": "maybe"}, id="unknown-status"),
        pytest.param({"limit": "0"}, id="limit-zero"),
        pytest.param({"older_than": "-1"}, id="negative-age"),
    ],
)
async def test_bad_list_filters_are_422(http: httpx.AsyncClient, params: dict[str, str]) -> None:
    """Malformed inbox filters give a 422 request.invalid problem."""
    response = await http.get("/approvals", params=params)

    assert response.status_code == 422
    assert response.json()["code"] == "request.invalid"


async def test_age_filters(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    """older_than excludes a fresh approval; newer_than includes it."""
    _, client_id, interrupt_id = await discovery_at_gate(client)
    base = {"metadata.client_id": client_id}

    older = await http.get("/approvals", params={**base, "older_than": "3600"})
    newer = await http.get("/approvals", params={**base, "newer_than": "3600"})

    assert older.json() == []
    assert [a["approval_id"] for a in newer.json()] == [interrupt_id]


async def test_expired_gate_is_decided_with_on_timeout(
    client: LangGraphClient, http: httpx.AsyncClient, pool: Pool, timed_workflow: str
) -> None:
    """A gate with a timeout is decided with on_timeout by system:timeout, and the run ends."""
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], timed_workflow, input={"token": "t"})
    assert isinstance(result, dict)
    interrupt_id = result["__interrupt__"][0]["id"]
    pending = await approval(http, interrupt_id)
    assert pending["expires_at"] is not None
    assert pending["on_timeout"] == "reject"

    closed = pending
    for _ in range(100):
        closed = await approval(http, interrupt_id)
        if closed["status"] != "pending":
            break
        await asyncio.sleep(0.1)

    assert (closed["status"], closed["decided_by"]) == ("expired", "system:timeout")
    final = await client.runs.join(thread["thread_id"], closed["resume_run_id"])
    assert isinstance(final, dict)
    assert final["review"]["decision"] == "reject"
    assert final["review"]["by"] == "system:timeout"
    assert final["trail"] == ["first", "last"]
    trail = await ApprovalStore(pool).audit_trail(TENANT, interrupt_id)
    assert [(e.action, e.actor) for e in trail][-1] == ("approval.expired", "system:timeout")


async def test_new_input_on_a_waiting_thread_supersedes_its_approval(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """A new run that leaves the old gate behind cancels its approval; the new gate is pending."""
    thread_id, client_id, first_id = await discovery_at_gate(client)

    again = await client.runs.wait(thread_id, "asset-discovery", input=DISCOVERY_INPUT)

    assert isinstance(again, dict)
    second_id = again["__interrupt__"][0]["id"]
    assert second_id != first_id
    old = await approval(http, first_id)
    assert (old["status"], old["decided_by"]) == ("cancelled", "system:superseded")
    listed = await http.get("/approvals", params={"metadata.client_id": client_id})
    assert [a["approval_id"] for a in listed.json()] == [second_id]
    stale = await http.post(f"/approvals/{first_id}/decide", json={"decision": "approve"})
    assert (stale.status_code, stale.json()["code"]) == (409, "approval.already_decided")


async def test_decision_on_a_gate_the_thread_left_is_409_stale(
    client: LangGraphClient, http: httpx.AsyncClient, pool: Pool
) -> None:
    """An approval whose interrupt is not pending on its thread is cancelled: 409 approval.stale."""
    thread_id, _, real_id = await discovery_at_gate(client)
    ghost = NewApproval(
        approval_id=uuid.uuid4().hex,
        node="review",
        prompt="ghost",
        decisions=("approve", "reject", "edit"),
        editable=("report",),
        payload={"kind": "approval", "workflow": "asset-discovery", "node": "review"},
    )
    await ApprovalStore(pool).sync_thread(
        TENANT,
        thread_id,
        run_id="ghost-run",
        workflow_id="asset-discovery",
        pending=[ghost],
        keep=[real_id],
    )

    response = await http.post(
        f"/approvals/{ghost.approval_id}/decide", json={"decision": "approve"}
    )

    assert (response.status_code, response.json()["code"]) == (409, "approval.stale")
    assert (await approval(http, ghost.approval_id))["status"] == "cancelled"
    assert (await approval(http, real_id))["status"] == "pending"
    assert len(await client.runs.list(thread_id)) == 1, "no resume run was queued"
