"""``graphwright threads list`` and ``approvals list/show/decide``: on the database and on a server.

Local commands run against the session's test database; remote ones against a
live ``graphwright serve`` with API keys, through ``--url``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphwright.cli import app
from graphwright.client import Client
from graphwright.registry import load_registry_modules
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import Server, free_port, server_env, start_server

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DRAFT = "draft-review-loop"


@pytest.fixture(scope="module")
async def database_url(create_database: CreateDatabase) -> str:
    """A database of this module's own: no other test's server claims the runs it resumes."""
    return await create_database()


@pytest.fixture
def cli(database_url: str, tenant: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points graphwright at the test database and tenant."""
    monkeypatch.setenv("GW_DATABASE_URL", database_url)
    monkeypatch.setenv("GW_TENANT", tenant)
    monkeypatch.delenv("GW_REGISTRY_MODULES", raising=False)
    monkeypatch.delenv("GW_URL", raising=False)
    return CliRunner()


def _start(
    database_url: str, tenant: str, runs: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[str]:
    """Publish the examples and run each (workflow, input, metadata) on a new thread."""

    async def go() -> list[str]:
        settings = Settings(database_url=database_url, tenant=tenant, pool_min_size=1)
        registry = load_registry_modules(["graphwright.examples"])
        async with Engine(settings, registry=registry) as engine:
            for name in ("incident-response", "monitoring", "threat-triage", DRAFT):
                await engine.publish((EXAMPLES / f"{name}.json").read_text())
            threads = []
            for workflow, data, metadata in runs:
                result = await engine.run(workflow, data, metadata=metadata)
                threads.append(result.thread_id)
            return threads

    return asyncio.run(go())


def _rows(stdout: str) -> list[list[str]]:
    """The table's rows (header dropped), split on runs of two or more spaces."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()[1:]]


LOW = {"target": "laptop-ana", "indicators": ["port:443"]}
HIGH = {"target": "web-01", "indicators": ["file:mimikatz.exe", "port:4444"]}


def test_threads_list_filters_like_the_api(cli: CliRunner, database_url: str, tenant: str) -> None:
    """threads list shows id, workflow, status and age; workflow/status/metadata/limit filter."""
    triage_a, triage_b, draft = _start(
        database_url,
        tenant,
        [
            ("threat-triage", LOW, {"client_id": "acme"}),
            ("threat-triage", HIGH, {"client_id": "globex"}),
            (DRAFT, {"topic": "Q3"}, {"client_id": "acme"}),
        ],
    )
    every = cli.invoke(app, ["threads", "list"])
    assert every.exit_code == 0, every.output
    assert every.stdout.splitlines()[0].split() == [
        "THREAD", "WORKFLOW", "STATUS", "UPDATED", "CREATED", "METADATA"
    ]  # fmt: skip
    rows = {row[0]: row for row in _rows(every.stdout)}
    assert set(rows) == {triage_a, triage_b, draft}
    assert rows[draft][1:3] == [DRAFT, "interrupted"]
    assert rows[triage_a][1:3] == ["threat-triage", "idle"]
    assert rows[draft][5] == "client_id=acme"
    assert rows[draft][3].endswith("s")  # an age: "3s"
    assert f"approvals list --thread {draft}" in every.stderr

    def ids(*args: str) -> set[str]:
        found = cli.invoke(app, ["threads", "list", "--json", *args])
        assert found.exit_code == 0, found.output
        return {t["thread_id"] for t in json.loads(found.stdout)}

    assert ids("--workflow", "threat-triage") == {triage_a, triage_b}
    assert ids("--status", "interrupted") == {draft}
    assert ids("--status", "idle", "--metadata", "client_id=acme") == {triage_a}
    assert ids("--metadata", "client_id=nobody") == set()
    first, second = ids("--limit", "1"), ids("--limit", "1", "--offset", "1")
    assert len(first) == len(second) == 1
    assert first != second
    paged = cli.invoke(app, ["threads", "list", "--limit", "1"])
    assert "more:      add --offset 1" in paged.stderr
    bad = cli.invoke(app, ["threads", "list", "--status", "done"])
    assert bad.exit_code == 2


def test_approvals_list_show_decide_here(cli: CliRunner, database_url: str, tenant: str) -> None:
    """decide records the edit and runs the thread on here to its next gate, then to its end."""
    [thread] = _start(database_url, tenant, [(DRAFT, {"topic": "Q3"}, {"client_id": "acme"})])
    listed = cli.invoke(app, ["approvals", "list", "--metadata", "client_id=acme"])
    assert listed.exit_code == 0, listed.output
    [[approval_id, _age, status, workflow, node, on_thread, prompt]] = _rows(listed.stdout)
    assert (status, workflow, node, on_thread) == ("pending", DRAFT, "review", thread)
    assert prompt.startswith("Round 1 of 3")
    assert f"approvals decide {approval_id} --decision approve" in listed.stderr

    shown = cli.invoke(app, ["approvals", "show", approval_id])
    assert shown.exit_code == 0, shown.output
    assert "decisions approve, reject, edit" in shown.stdout
    assert "editable  draft" in shown.stdout
    assert "show      round: 1" in shown.stdout
    assert "metadata  client_id=acme" in shown.stdout
    assert f"approvals decide {approval_id} --decision edit --edit draft=" in shown.stderr

    refused = cli.invoke(app, ["approvals", "decide", approval_id, "--decision", "maybe"])
    assert refused.exit_code == 2
    assert "[approval.invalid_decision]" in refused.stderr

    edited = cli.invoke(
        app,
        [
            "approvals", "decide", approval_id, "--decision", "edit",
            "--edit", "draft=A better draft", "--comment", "tighter", "--by", "ana",
        ],
    )  # fmt: skip
    assert edited.exit_code == 0, edited.output
    assert f"approval {approval_id} decided: edit by ana" in edited.stderr
    assert "▶ revise" in edited.stderr
    assert "interrupted: waiting for approval" in edited.stderr  # round 2

    decided = json.loads(cli.invoke(app, ["approvals", "show", approval_id, "--json"]).stdout)
    assert decided["status"] == "decided"
    assert decided["decision"]["edits"] == {"draft": "A better draft"}
    assert decided["decision"]["comment"] == "tighter"
    again = cli.invoke(app, ["approvals", "decide", approval_id, "--decision", "approve"])
    assert again.exit_code == 2
    assert "[approval.already_decided]" in again.stderr
    assert "decided by ana at" in again.stderr

    [second] = json.loads(cli.invoke(app, ["approvals", "list", "--json"]).stdout)
    assert second["show"]["round"] == 2
    done = cli.invoke(app, ["approvals", "decide", second["approval_id"], "--decision", "approve"])
    assert done.exit_code == 0, done.output
    assert f"success thread {thread}" in done.stderr
    assert json.loads(done.stdout)["review"]["decision"] == "approve"
    assert cli.invoke(app, ["approvals", "list"]).stderr.startswith("no pending approvals")
    history = _rows(cli.invoke(app, ["approvals", "list", "--status", "any"]).stdout)
    assert sorted(row[2] for row in history) == ["decided: approve", "decided: edit"]


def test_approvals_list_by_age(cli: CliRunner, database_url: str, tenant: str) -> None:
    """--older-than / --newer-than take 90s, 15m, 2h, 1d; anything else is refused."""
    _start(database_url, tenant, [(DRAFT, {"topic": "age"}, {})])

    def count(*args: str) -> int:
        found = cli.invoke(app, ["approvals", "list", "--json", *args])
        assert found.exit_code == 0, found.output
        return len(json.loads(found.stdout))

    assert count("--newer-than", "1h") == 1
    assert count("--older-than", "1d") == 0
    bad = cli.invoke(app, ["approvals", "list", "--older-than", "soon"])
    assert bad.exit_code == 2
    assert "90s, 15m, 2h, 1d" in bad.output


def test_unknown_approval_is_a_coded_error(cli: CliRunner) -> None:
    """show/decide of an approval that does not exist: approval.not_found, exit 2."""
    for args in (["show", "nope"], ["decide", "nope", "--decision", "approve"]):
        result = cli.invoke(app, ["approvals", *args])
        assert result.exit_code == 2
        assert "[approval.not_found]" in result.stderr


# -- a second run on the same thread, and the threat-triage inputs ------------------------------


def test_second_run_on_a_thread_says_what_grows(cli: CliRunner) -> None:
    """run --thread on a thread that ran names the append fields; they hold both runs' items."""
    args = ["run", str(EXAMPLES / "threat-triage.json"), "--input", json.dumps(HIGH)]
    first = cli.invoke(app, [*args, "--thread", "rerun-1"])
    assert first.exit_code == 0, first.output
    assert "note:" not in first.stderr
    assert len(json.loads(first.stdout)["analyses"]) == 3

    second = cli.invoke(app, [*args, "--thread", "rerun-1"])
    assert second.exit_code == 0, second.output
    assert "note: thread rerun-1 already ran" in second.stderr
    assert "analyses (append)" in second.stderr
    assert "run without --thread" in second.stderr
    output = json.loads(second.stdout)
    assert len(output["analyses"]) == 6  # the documented semantics: reducers accumulate
    fresh = cli.invoke(app, args)
    assert len(json.loads(fresh.stdout)["analyses"]) == 3


@pytest.mark.parametrize(
    ("input_file", "branch", "severity"),
    [
        pytest.param("threat-triage.json", "respond", "critical", id="high-incident-response"),
        pytest.param("threat-triage-low.json", "monitor", "low", id="low-monitoring"),
    ],
)
def test_threat_triage_inputs_take_each_branch(
    cli: CliRunner, input_file: str, branch: str, severity: str
) -> None:
    """The README's inputs: the high one runs incident-response as a subworkflow, low monitoring."""
    result = cli.invoke(
        app,
        [
            "run",
            str(EXAMPLES / "threat-triage.json"),
            "--input",
            f"@{EXAMPLES / 'inputs' / input_file}",
        ],
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["severity"] == severity
    other = "monitor" if branch == "respond" else "respond"
    assert f"▶ {branch}/" in result.stderr
    assert f"▶ {other}" not in result.stderr
    if branch == "respond":
        assert "✔ respond/contain" in result.stderr
        assert output["incident"]["priority"] == "p1"
        assert "block ip 203.0.113.9" in output["actions"]
    else:
        assert output["incident"] is None
        assert output["watch"]["level"] == "baseline"


# -- against a server (--url) ----------------------------------------------------------------


@dataclass
class Keyed:
    """A live server with GW_AUTH=keys, its admin and approver keys and tenant."""

    server: Server
    admin: str
    approver: str
    tenant: str


def _graphwright(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "graphwright"
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def keyed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """A server with API keys; draft-review-loop published; an admin and an approver key."""
    tenant = "cli-remote"
    env = server_env(database_url, tenant, GW_AUTH="keys", GW_WORKERS="2")
    server = start_server(env, tmp_path_factory.mktemp("cli-remote") / "server.log")
    try:
        keys = {}
        for role in ("admin", "approver"):
            made = _graphwright(env, "keys", "create", "--role", role, "--name", f"{role}-key")
            assert made.returncode == 0, made.stderr
            keys[role] = json.loads(made.stdout)["key"]
        with Client(server.url, api_key=keys["admin"]) as admin:
            admin.workflows.publish((EXAMPLES / f"{DRAFT}.json").read_text())
        yield Keyed(server, keys["admin"], keys["approver"], tenant)
    finally:
        server.stop()


def _gated(keyed: Keyed, metadata: dict[str, str]) -> str:
    """A thread of the server waiting at draft-review-loop's gate."""
    with Client(keyed.server.url, api_key=keyed.admin) as admin:
        thread = admin.threads.create(metadata)
        admin.runs.wait(thread.thread_id, DRAFT, input={"topic": "remote"})
    return thread.thread_id


def test_remote_threads_and_approvals(keyed: Keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    """--url: list threads and approvals, show and decide with a key; decided_by is the key."""
    monkeypatch.delenv("GW_DATABASE_URL", raising=False)
    runner = CliRunner()
    marker = f"m-{time.monotonic_ns()}"
    thread = _gated(keyed, {"client_id": marker, "graph_id": DRAFT})
    remote = ["--url", keyed.server.url, "--api-key", keyed.approver]

    listed = runner.invoke(app, ["threads", "list", "--metadata", f"client_id={marker}", *remote])
    assert listed.exit_code == 0, listed.output
    [[thread_id, workflow, status, *_]] = _rows(listed.stdout)
    assert (thread_id, workflow, status) == (thread, DRAFT, "interrupted")
    assert f"watch --thread {thread} --url {keyed.server.url} --once" in listed.stderr
    by_workflow = runner.invoke(app, ["threads", "list", "--workflow", DRAFT, "--json", *remote])
    assert thread in {t["thread_id"] for t in json.loads(by_workflow.stdout)}

    approvals = runner.invoke(
        app, ["approvals", "list", "--json", "--metadata", f"client_id={marker}", *remote]
    )
    assert approvals.exit_code == 0, approvals.output
    [approval] = json.loads(approvals.stdout)
    approval_id = approval["approval_id"]
    shown = runner.invoke(app, ["approvals", "show", approval_id, *remote])
    assert "decisions approve, reject, edit" in shown.stdout
    assert f"--url {keyed.server.url}" in shown.stderr

    decided = runner.invoke(
        app, ["approvals", "decide", approval_id, "--decision", "approve", *remote]
    )
    assert decided.exit_code == 0, decided.output
    body = json.loads(decided.stdout)
    assert body["decided_by"].startswith("approver-key")  # the key, not --by or the OS user
    assert f"watch --thread {thread} --run {body['resume_run_id']}" in decided.stderr
    with Client(keyed.server.url, api_key=keyed.admin) as admin:
        admin.runs.join(thread, body["resume_run_id"], timeout=60)
        assert admin.threads.get(thread).status == "idle"

    again = runner.invoke(
        app, ["approvals", "decide", approval_id, "--decision", "reject", *remote]
    )
    assert again.exit_code == 2
    assert "[approval.already_decided]" in again.stderr
    assert "decided by approver-key" in again.stderr


def test_remote_without_a_key_or_server(keyed: Keyed) -> None:
    """No key: the server's 401 code and a hint; nobody at --url: exit 2 within seconds."""
    runner = CliRunner()
    anonymous = runner.invoke(app, ["approvals", "list", "--url", keyed.server.url])
    assert anonymous.exit_code == 2
    assert "[auth.required]" in anonymous.stderr
    assert "--api-key" in anonymous.stderr

    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    nobody = runner.invoke(app, ["threads", "list", "--url", dead])
    assert nobody.exit_code == 2
    assert f"cannot reach the graphwright server at {dead}" in nobody.stderr
    assert time.monotonic() - started < 10


def test_remote_workflow_filter_needs_graph_id(keyed: Keyed) -> None:
    """Over the API --workflow matches metadata graph_id; a thread without it gets a note."""
    marker = f"n-{time.monotonic_ns()}"
    _gated(keyed, {"client_id": marker})
    runner = CliRunner()
    found = runner.invoke(
        app,
        [
            "threads", "list", "--workflow", DRAFT, "--metadata", f"client_id={marker}",
            "--url", keyed.server.url, "--api-key", keyed.approver,
        ],
    )  # fmt: skip
    assert found.exit_code == 0, found.output
    assert "no threads match" in found.stderr
    assert "graph_id" in found.stderr
