"""The ``graphwright`` command as a user runs it, against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphwright.cli import app

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DEMO_INPUT = EXAMPLES / "inputs" / "asset-discovery.json"


@pytest.fixture
def cli(database_url: str, tenant: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points graphwright at the test database and tenant."""
    monkeypatch.setenv("GW_DATABASE_URL", database_url)
    monkeypatch.setenv("GW_TENANT", tenant)
    monkeypatch.delenv("GW_REGISTRY_MODULES", raising=False)
    return CliRunner()


def _json_tail(output: str) -> object:
    """Parse the JSON document at the end of the command's stdout."""
    start = min(i for i in (output.find("{"), output.find("[")) if i >= 0)
    return json.loads(output[start:])


def test_validate_examples_exits_zero(cli: CliRunner) -> None:
    """Every shipped example validates, so `validate examples/*.json` exits 0."""
    files = sorted(str(p) for p in EXAMPLES.glob("*.json"))
    result = cli.invoke(app, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_validate_reports_one_line_per_problem(cli: CliRunner, tmp_path: Path) -> None:
    """A bad document gives FILE:/pointer: [code] message lines with suggestions, exit 1."""
    doc = json.loads((EXAMPLES / "asset-discovery.json").read_text())
    doc["nodes"]["classify"]["node"]["ref"] = "discovery.clasify_asset"
    doc["edges"].append({"from": "analyse", "to": "reveiw"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert f"{path}:/nodes/classify/node/ref: [registry.unknown_name]" in lines[0] or any(
        "[registry.unknown_name]" in line and "did you mean 'discovery.classify_asset'?" in line
        for line in lines
    )
    assert any(
        line.startswith(f"{path}:/edges/")
        and "[edge.unknown_node]" in line
        and "did you mean 'review'?" in line
        for line in lines
    )


def _three_mistakes(folder: Path) -> Path:
    """asset-discovery with an unknown node kind, a CEL typo and an edge to a misspelled node."""
    doc = json.loads((EXAMPLES / "asset-discovery.json").read_text())
    doc["nodes"]["publish"]["kind"] = "functon"
    doc["nodes"]["classify"]["over"] = "state.assets +"
    doc["edges"][3]["to"] = "reveiw"
    path = folder / "three.json"
    path.write_text(json.dumps(doc))
    return path


def test_validate_reports_every_problem_at_once(cli: CliRunner, tmp_path: Path) -> None:
    """An unknown kind does not hide a CEL typo or an edge to a misspelled node."""
    path = _three_mistakes(tmp_path)
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    codes = {line.split(": [", 1)[1].split("]", 1)[0] for line in result.stdout.splitlines()}
    assert {"node.unknown_kind", "expr.syntax", "edge.unknown_node"} <= codes
    assert f"{path}:/edges/3/to: [edge.unknown_node]" in result.stdout


def test_run_and_validate_report_the_same_problems(cli: CliRunner, tmp_path: Path) -> None:
    """`run FILE` refuses a bad document with exactly validate's lines, registry problems too."""
    path = _three_mistakes(tmp_path)
    doc = json.loads(path.read_text())
    doc["nodes"]["import_assets"]["ref"] = "discovery.normalize"
    path.write_text(json.dumps(doc))
    args = ["--registry", "graphwright.examples"]
    checked = cli.invoke(app, ["validate", str(path), *args])
    ran = cli.invoke(app, ["run", str(path), *args])
    assert (checked.exit_code, ran.exit_code) == (1, 1)
    lines = checked.stdout.splitlines()
    assert any("[registry.unknown_name]" in line for line in lines)
    header, *reported = ran.stderr.splitlines()
    assert header == f"error: [workflow.invalid] {path} has {len(lines)} problems"
    assert reported == lines


def test_validate_reports_invalid_json(cli: CliRunner, tmp_path: Path) -> None:
    """Text that is not JSON is one problem with code dsl.invalid_json, exit 1."""
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = cli.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "[dsl.invalid_json]" in result.stdout


def test_schema_prints_json_schema(cli: CliRunner) -> None:
    """`schema` prints the document's JSON Schema, with the node kinds and edge keys."""
    result = cli.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    text = json.dumps(schema)
    for needle in ('"approval"', '"map"', '"subworkflow"', '"function"', '"from"'):
        assert needle in text


def test_graph_prints_mermaid(cli: CliRunner) -> None:
    """`graph` prints a Mermaid flowchart with the join and the conditional label."""
    result = cli.invoke(app, ["graph", str(EXAMPLES / "threat-triage.json")])
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart TD")
    assert "n_malware --> n_score" in result.stdout
    assert "state.score #gt;= 7" in result.stdout


def test_run_resume_state_history(cli: CliRunner) -> None:
    """run stops at the approval gate; resume finishes it; state and history show the thread."""
    result = cli.invoke(
        app,
        ["run", str(EXAMPLES / "asset-discovery.json"), "--input", f"@{DEMO_INPUT}"],
    )
    assert result.exit_code == 0, result.output
    pending = _json_tail(result.stdout)
    assert isinstance(pending, dict)
    thread_id = pending["thread_id"]
    [approval] = pending["approvals"]
    assert approval["node"] == "review"
    assert approval["decisions"] == ["approve", "reject", "edit"]
    assert "interrupted: waiting for approval" in result.stderr
    assert "▶ classify" in result.stderr

    bad = cli.invoke(app, ["resume", "--thread", thread_id, "--decision", '{"decision": "maybe"}'])
    assert bad.exit_code == 2
    assert "[approval.invalid_decision]" in bad.stderr

    state = cli.invoke(app, ["state", "--thread", thread_id])
    assert state.exit_code == 0
    snapshot = _json_tail(state.stdout)
    assert isinstance(snapshot, dict)
    assert snapshot["status"] == "interrupted"
    assert snapshot["next"] == ["review"]

    done = cli.invoke(
        app,
        [
            "resume",
            "--thread",
            thread_id,
            "--decision",
            '{"decision": "edit", "edits": {"report": "Edited plan"}}',
        ],
    )
    assert done.exit_code == 0, done.output
    output = _json_tail(done.stdout)
    assert isinstance(output, dict)
    assert output["report"] == "Edited plan"
    assert output["published"]["edited"] is True
    assert "success thread" in done.stderr
    assert "completed" not in done.stderr

    finished = cli.invoke(app, ["state", "--thread", thread_id])
    assert _json_tail(finished.stdout)["status"] == "idle"  # type: ignore[index]

    history = cli.invoke(app, ["history", "--thread", thread_id, "--limit", "3"])
    assert history.exit_code == 0
    entries = _json_tail(history.stdout)
    assert isinstance(entries, list)
    assert len(entries) == 3
    assert entries[0]["step"] > entries[1]["step"] > entries[2]["step"]


def test_run_with_bad_input_exits_two(cli: CliRunner) -> None:
    """Input of the wrong shape is refused with state.invalid_input and a pointer, exit 2."""
    result = cli.invoke(
        app,
        ["run", str(EXAMPLES / "asset-discovery.json"), "--input", '{"client_id": 5}'],
    )
    assert result.exit_code == 2
    assert "[state.invalid_input]" in result.stderr
    assert "/client_id" in result.stderr


def test_run_threat_triage_publishes_subworkflows(cli: CliRunner) -> None:
    """Running threat-triage publishes its subworkflows first and completes the incident path."""
    result = cli.invoke(
        app,
        [
            "run",
            str(EXAMPLES / "threat-triage.json"),
            "--input",
            '{"target": "web-01", "indicators": ["file:evil.exe", "port:4444", "ip:203.0.113.9"]}',
        ],
    )
    assert result.exit_code == 0, result.output
    assert "incident-response v1" in result.stderr
    output = _json_tail(result.stdout)
    assert isinstance(output, dict)
    assert output["incident"] is not None


def test_unknown_thread_is_a_coded_error(cli: CliRunner) -> None:
    """`state` of a thread that does not exist prints thread.not_found and exits 2."""
    result = cli.invoke(app, ["state", "--thread", "no-such-thread"])
    assert result.exit_code == 2
    assert "[thread.not_found]" in result.stderr


def test_bad_setting_is_reported(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid GW_ setting stops the command with the variable's name."""
    monkeypatch.setenv("GW_DATABASE_URL", "mysql://nope")
    result = cli.invoke(app, ["state", "--thread", "x"])
    assert result.exit_code == 2
    assert "GW_DATABASE_URL" in result.stderr


def test_demo_runs_on_embedded_postgres(tmp_path: Path) -> None:
    """`graphwright demo` with no GW_DATABASE_URL runs end to end on an embedded PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env["GW_DATA_DIR"] = str(tmp_path / "data")
    script = Path(sys.executable).parent / "graphwright"
    try:
        done = subprocess.run(
            [str(script), "demo"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        _stop_embedded(tmp_path / "data" / "pg")
    assert done.returncode == 0, done.stderr
    assert "waiting for approval" in done.stderr
    assert "answering the approval with 'approve'" in done.stderr
    output = json.loads(done.stdout[done.stdout.rindex('{\n  "classified"') :])
    assert output["review"]["decision"] == "approve"
    assert output["published"]["assets"] == 5


def _stop_embedded(pgdata: Path) -> None:
    """Stop the embedded server the demo left running (it is meant to outlive the CLI)."""
    if not (pgdata / "postmaster.pid").exists():
        return
    import warnings

    with warnings.catch_warnings():  # pgserver's import warns about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
