"""Who is calling: API keys, tenants from identity, roles, metadata scope, decisions' authors.

One ``graphwright serve`` with ``GW_AUTH=keys``; admin keys are made with the CLI
(``graphwright keys create``), the others through the admin API.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration.service.conftest import (
    TEST_WORKFLOWS,
    Server,
    server_env,
    start_server,
)

pytestmark = pytest.mark.integration

ROLES = ("admin", "author", "operator", "approver", "viewer")
GRAPHWRIGHT = str(Path(sys.executable).parent / "graphwright")


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``graphwright`` with ``env``."""
    return subprocess.run(
        [GRAPHWRIGHT, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class Keyed:
    """A live server with auth on, and keys by (tenant, role)."""

    server: Server
    env: dict[str, str]
    keys: dict[tuple[str, str], str]

    def http(self, tenant: str, role: str | None) -> httpx.AsyncClient:
        """An HTTP client sending the key of ``role`` in ``tenant`` (none with None)."""
        headers = {} if role is None else {"X-Api-Key": self.keys[(tenant, role)]}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def keyed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """Server with GW_AUTH=keys; tenants acme and globex, a key per role, workflows published."""
    folder = tmp_path_factory.mktemp("auth")
    env = server_env(database_url, GW_AUTH="keys", GW_WORKERS="2")
    server = start_server(env, folder / "server.log")
    keys: dict[tuple[str, str], str] = {}
    try:
        for tenant in ("acme", "globex"):
            made = cli(
                env, "keys", "create", "--tenant", tenant, "--role", "admin", "--name", "root"
            )
            assert made.returncode == 0, made.stderr
            keys[(tenant, "admin")] = json.loads(made.stdout)["key"]
            admin = {"X-Api-Key": keys[(tenant, "admin")]}
            for role in ROLES[1:]:
                answer = httpx.post(
                    server.url + "/keys",
                    json={"name": f"{role}-{tenant}", "roles": [role]},
                    headers=admin,
                )
                assert answer.status_code == 201, answer.text
                keys[(tenant, role)] = answer.json()["key"]
            for doc in TEST_WORKFLOWS.values():
                published = httpx.post(server.url + "/workflows", json=doc, headers=admin)
                assert published.status_code in (200, 201), published.text
        yield Keyed(server, env, keys)
    finally:
        server.stop()


async def gated_thread(keyed: Keyed, tenant: str, metadata: dict[str, Any] | None = None) -> str:
    """A thread of ``tenant`` waiting at an approval gate (made with an operator key)."""
    async with keyed.http(tenant, "operator") as http:
        thread = (await http.post("/threads", json={"metadata": metadata or {}})).json()
        waited = await http.post(
            f"/threads/{thread['thread_id']}/runs/wait", json={"assistant_id": "svc-gated"}
        )
        assert waited.status_code == 200, waited.text
        return str(thread["thread_id"])


async def pending_approval(keyed: Keyed, tenant: str, thread_id: str) -> dict[str, Any]:
    """The pending approval of a thread."""
    async with keyed.http(tenant, "viewer") as http:
        found = (await http.get("/approvals", params={"thread_id": thread_id})).json()
    assert len(found) == 1, found
    return dict(found[0])


async def test_no_key_is_401_with_a_problem(keyed: Keyed) -> None:
    """Without credentials: 401 auth.required (problem+json, WWW-Authenticate); health is open."""
    async with keyed.http("acme", None) as http:
        answer = await http.get("/threads/anything")
        health = await http.get("/healthz")
        ready = await http.get("/readyz")
        info = await http.get("/info")
    assert info.status_code == 200  # as in LangGraph Server: clients ask before signing in
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "auth.required"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}  # details are for admins only


async def test_bad_and_revoked_keys_are_401(keyed: Keyed) -> None:
    """A made-up key, a wrong secret and a revoked key all answer 401 auth.invalid."""
    real = keyed.keys[("acme", "viewer")]
    async with keyed.http("acme", "admin") as admin:
        made = (await admin.post("/keys", json={"name": "temp", "roles": ["viewer"]})).json()
        before = await admin.get("/threads/x", headers={"X-Api-Key": made["key"]})
        revoked = await admin.delete(f"/keys/{made['key_id']}")
        after = await admin.get("/threads/x", headers={"X-Api-Key": made["key"]})
        listed = {k["key_id"]: k for k in (await admin.get("/keys")).json()}
        wrong = await admin.get("/threads/x", headers={"X-Api-Key": real[:-4] + "AAAA"})
    async with keyed.http("acme", None) as anonymous:
        bogus = await anonymous.get("/threads/x", headers={"Authorization": "Bearer gwk_nope_nope"})
    assert before.status_code == 404  # authenticated: the thread just does not exist
    assert revoked.status_code == 200
    assert listed[made["key_id"]]["revoked_at"] is not None
    assert "key" not in listed[made["key_id"]]
    for name, answer in (("revoked", after), ("wrong", wrong), ("bogus", bogus)):
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["code"] == "auth.invalid"


async def test_official_sdk_runs_the_whole_flow_with_a_key(keyed: Keyed) -> None:
    """langgraph-sdk with api_key: thread, run to the gate, resume by command, state, history."""
    key = keyed.keys[("acme", "operator")]
    approver = keyed.keys[("acme", "approver")]
    async with get_client(url=keyed.server.url, api_key=key) as client:
        thread = await client.threads.create(metadata={"client_id": "acme-corp"})
        waited = await client.runs.wait(thread["thread_id"], "svc-gated", input={"token": "t"})
        assert isinstance(waited, dict)
        assert "__interrupt__" in waited
    async with get_client(url=keyed.server.url, api_key=approver) as client:
        result = await client.runs.wait(
            thread["thread_id"], "svc-gated", command={"resume": {"decision": "approve"}}
        )
        assert isinstance(result, dict)
        assert result["trail"] == ["first", "last"]
        history = await client.threads.get_history(thread["thread_id"])
        assert history
    async with get_client(url=keyed.server.url) as anonymous:
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await anonymous.threads.get(thread["thread_id"])
    assert caught.value.response.status_code == 401
    assert caught.value.response.json()["code"] == "auth.required"


def allowed(role: str, needs: str) -> bool:
    """Whether ``role`` passes a route needing ``needs`` (``read``: any role)."""
    return needs == "read" or role in ("admin", needs)


async def test_role_matrix(keyed: Keyed) -> None:
    """Each role against each route family: allowed ones pass the check, others get 403."""
    thread_id = await gated_thread(keyed, "acme")
    bogus = str(uuid.uuid4())
    calls: list[tuple[str, str, str, str, dict[str, Any] | None]] = [
        ("read", "POST", "/threads/search", "read", {}),
        ("read", "GET", f"/threads/{thread_id}/state", "read", None),
        ("read", "GET", "/approvals", "read", None),
        ("read", "GET", "/workflows", "read", None),
        ("author", "POST", "/workflows/validate", "author", TEST_WORKFLOWS["svc-chain"]),
        ("operator", "POST", "/threads", "operator", {}),
        ("operator", "POST", f"/threads/{thread_id}/runs/{bogus}/cancel", "operator", {}),
        ("operator", "POST", "/runs", "operator", {"assistant_id": "nope"}),
        ("approver", "POST", f"/approvals/{bogus}/decide", "approver", {"decision": "approve"}),
        (
            "resume",
            "POST",
            f"/threads/{bogus}/runs",
            "approver",
            {"assistant_id": "svc-gated", "command": {"resume": {"decision": "approve"}}},
        ),
        ("admin", "GET", "/keys", "admin", None),
        ("admin", "GET", "/secrets", "admin", None),
        ("admin", "GET", "/metrics", "admin", None),
    ]
    wrong: list[str] = []
    for role in ROLES:
        async with keyed.http("acme", role) as http:
            for family, method, path, needs, body in calls:
                answer = await http.request(method, path, json=body)
                denied = answer.status_code == 403
                if denied:
                    assert answer.json()["code"] == "auth.forbidden"
                if denied == allowed(role, needs) or answer.status_code >= 500:
                    wrong.append(f"{role} {family} {method} {path}: {answer.status_code}")
    assert not wrong, wrong


async def test_operator_without_approver_cannot_resume_a_gate(keyed: Keyed) -> None:
    """command.resume is deciding: an operator key gets 403 and the gate stays pending."""
    thread_id = await gated_thread(keyed, "acme")
    async with keyed.http("acme", "operator") as http:
        answer = await http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "svc-gated", "command": {"resume": {"decision": "approve"}}},
        )
    assert answer.status_code == 403
    assert answer.json()["details"]["required"] == "approver"
    assert (await pending_approval(keyed, "acme", thread_id))["status"] == "pending"


async def test_decision_records_the_authenticated_principal(keyed: Keyed) -> None:
    """decided_by is the approver key (name and id), never the body's ``by``."""
    thread_id = await gated_thread(keyed, "acme")
    approval = await pending_approval(keyed, "acme", thread_id)
    async with keyed.http("acme", "approver") as http:
        done = await http.post(
            f"/approvals/{approval['approval_id']}/decide",
            json={"decision": "approve", "by": "mallory"},
        )
    assert done.status_code == 200, done.text
    assert done.json()["decided_by"].startswith("approver-acme (key:")


async def test_resume_by_sdk_records_the_principal(keyed: Keyed) -> None:
    """A gate resumed through command.resume records the approver key as decided_by."""
    thread_id = await gated_thread(keyed, "acme")
    approval = await pending_approval(keyed, "acme", thread_id)
    async with keyed.http("acme", "approver") as http:
        resumed = await http.post(
            f"/threads/{thread_id}/runs/wait",
            json={
                "assistant_id": "svc-gated",
                "command": {"resume": {"decision": "approve", "by": "mallory"}},
            },
        )
        assert resumed.status_code == 200, resumed.text
        after = (await http.get(f"/approvals/{approval['approval_id']}")).json()
    assert after["status"] == "decided"
    assert after["decided_by"].startswith("approver-acme (key:")


async def test_another_tenants_ids_are_404_everywhere(keyed: Keyed) -> None:
    """globex's admin gets 404 on every id-taking route for acme's thread, run and approval."""
    thread_id = await gated_thread(keyed, "acme")
    approval = await pending_approval(keyed, "acme", thread_id)
    async with keyed.http("acme", "viewer") as http:
        run_id = (await http.get(f"/threads/{thread_id}/runs")).json()[0]["run_id"]
        state_before = (await http.get(f"/threads/{thread_id}/state")).json()
        checkpoint = state_before["checkpoint"]["checkpoint_id"]
    t, r, a = thread_id, run_id, approval["approval_id"]
    sweep: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/threads/{t}", None),
        ("PATCH", f"/threads/{t}", {"metadata": {"x": 1}}),
        ("POST", f"/threads/{t}/copy", {}),
        ("GET", f"/threads/{t}/state", None),
        ("POST", f"/threads/{t}/state", {"values": {"token": "x"}}),
        ("GET", f"/threads/{t}/state/{checkpoint}", None),
        ("POST", f"/threads/{t}/state/checkpoint", {"checkpoint": {"checkpoint_id": checkpoint}}),
        ("POST", f"/threads/{t}/history", {}),
        ("GET", f"/threads/{t}/runs", None),
        ("POST", f"/threads/{t}/runs", {"assistant_id": "svc-gated", "input": {}}),
        ("GET", f"/threads/{t}/runs/{r}", None),
        ("GET", f"/threads/{t}/runs/{r}/join", None),
        ("GET", f"/threads/{t}/runs/{r}/stream", None),
        ("POST", f"/threads/{t}/runs/{r}/cancel", {}),
        ("DELETE", f"/threads/{t}/runs/{r}", None),
        ("GET", f"/threads/{t}/stream", None),
        ("GET", f"/approvals/{a}", None),
        ("POST", f"/approvals/{a}/decide", {"decision": "approve"}),
        ("DELETE", f"/threads/{t}", None),
    ]
    wrong = []
    async with keyed.http("globex", "admin") as http:
        for method, path, body in sweep:
            answer = await asyncio.wait_for(http.request(method, path, json=body), 30)
            if answer.status_code != 404:
                wrong.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        searched = (await http.post("/threads/search", json={})).json()
        approvals = (await http.get("/approvals", params={"status": "any"})).json()
    assert not wrong, wrong
    assert thread_id not in {s["thread_id"] for s in searched}
    assert approval["approval_id"] not in {x["approval_id"] for x in approvals}
    async with keyed.http("acme", "viewer") as http:
        state_after = (await http.get(f"/threads/{thread_id}/state")).json()
        still = (await http.get(f"/approvals/{approval['approval_id']}")).json()
    assert state_after["values"] == state_before["values"]
    assert state_after["checkpoint"] == state_before["checkpoint"]
    assert still["status"] == "pending"


async def test_scoped_key_sees_only_its_client(keyed: Keyed) -> None:
    """A key scoped to client_id=acme-1 sees and makes only that client's threads and approvals."""
    mine = await gated_thread(keyed, "acme", {"client_id": "acme-1"})
    other = await gated_thread(keyed, "acme", {"client_id": "acme-2"})
    async with keyed.http("acme", "admin") as admin:
        made = await admin.post(
            "/keys",
            json={
                "name": "ana",
                "roles": ["operator", "approver"],
                "scope": {"client_id": "acme-1"},
            },
        )
    scoped_key = made.json()["key"]
    async with httpx.AsyncClient(
        base_url=keyed.server.url, headers={"X-Api-Key": scoped_key}, timeout=60
    ) as http:
        seen = {t["thread_id"] for t in (await http.post("/threads/search", json={})).json()}
        inbox = {a["thread_id"] for a in (await http.get("/approvals")).json()}
        hidden = await http.get(f"/threads/{other}")
        hidden_approval = await http.get(
            f"/approvals/{(await pending_approval(keyed, 'acme', other))['approval_id']}"
        )
        created = (await http.post("/threads", json={"metadata": {"client_id": "acme-2"}})).json()
        moved = await http.patch(f"/threads/{mine}", json={"metadata": {"client_id": "acme-2"}})
    assert mine in seen
    assert other not in seen
    assert mine in inbox
    assert other not in inbox
    assert hidden.status_code == 404
    assert hidden_approval.status_code == 404
    assert created["metadata"]["client_id"] == "acme-1"  # forced into its scope
    assert moved.json()["metadata"]["client_id"] == "acme-1"


async def test_metrics_need_admin(keyed: Keyed) -> None:
    """/metrics answers 401 without a key, 403 to a viewer and 200 to an admin."""
    async with keyed.http("acme", None) as anonymous, keyed.http("acme", "viewer") as viewer:
        assert (await anonymous.get("/metrics")).status_code == 401
        assert (await viewer.get("/metrics")).status_code == 403
    async with keyed.http("acme", "admin") as admin:
        answer = await admin.get("/metrics")
        ready = await admin.get("/readyz")
    assert answer.status_code == 200
    assert "graphwright_runs" in answer.text
    assert "checks" in ready.json()


def test_keys_cli_lists_and_revokes(keyed: Keyed) -> None:
    """keys create prints the key once; keys list shows it without the secret; revoke ends it."""
    made = cli(keyed.env, "keys", "create", "--tenant", "acme", "--role", "viewer", "--name", "cli")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    listed = cli(keyed.env, "keys", "list", "--tenant", "acme")
    entries = {k["key_id"]: k for k in json.loads(listed.stdout)}
    assert entries[key["key_id"]]["roles"] == ["viewer"]
    assert key["key"] not in listed.stdout
    assert (
        httpx.get(keyed.server.url + "/workflows", headers={"X-Api-Key": key["key"]}).status_code
        == 200
    )
    revoked = cli(keyed.env, "keys", "revoke", key["key_id"])
    assert revoked.returncode == 0, revoked.stderr
    after = httpx.get(keyed.server.url + "/workflows", headers={"X-Api-Key": key["key"]})
    assert after.status_code == 401
    unknown = cli(keyed.env, "keys", "revoke", "0000000000000000")
    assert unknown.returncode == 2
    assert "auth.key_not_found" in unknown.stderr
    bad_role = cli(keyed.env, "keys", "create", "--role", "boss", "--name", "x")
    assert bad_role.returncode == 2
    assert "auth.invalid_role" in bad_role.stderr


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param({"GW_HOST": "0.0.0.0", "GW_AUTH": "none"}, "config.insecure", id="no-auth"),
        pytest.param({"GW_HOST": "0.0.0.0"}, "config.no_secret_key", id="keys-without-secret-key"),
        pytest.param(
            {"GW_HOST": "0.0.0.0", "GW_SECRET_KEY": "changeme"},
            "GW_SECRET_KEY",
            id="placeholder-secret-key",
        ),
        pytest.param({"GW_AUTH": "magic"}, "config.invalid_auth", id="unknown-mode"),
    ],
)
def test_unsafe_settings_refuse_to_start(
    database_url: str, extra: dict[str, str], code: str
) -> None:
    """serve exits 2 with the coded reason instead of serving unsafely."""
    env = server_env(database_url, **extra)
    done = subprocess.run(
        [GRAPHWRIGHT, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert code in done.stderr


async def test_explicit_insecure_opt_out_starts_loudly(database_url: str, tmp_path: Path) -> None:
    """GW_AUTH=none with GW_ALLOW_INSECURE=1 on a public bind starts, with a warning logged."""
    key = cli(server_env(database_url), "secrets", "keygen").stdout.strip()
    env = server_env(
        database_url,
        GW_HOST="0.0.0.0",
        GW_AUTH="none",
        GW_ALLOW_INSECURE="1",
        GW_SECRET_KEY=key,
        GW_ALLOWED_HOSTS="127.0.0.1",
    )
    server = start_server(env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert (await http.get("/workflows")).status_code == 200
    finally:
        server.stop()
    assert "SERVING WITHOUT AUTHENTICATION" in (tmp_path / "server.log").read_text()
