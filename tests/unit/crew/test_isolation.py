"""crewai stays optional and quiet: never imported unless a crew runs, clear error when absent,
telemetry off by default. Each test runs a fresh interpreter (imports are process-wide)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "src" / "graphwright" / "examples"

HIDE_CREWAI = '''
import sys


class _HideCrewai:
    """Pretend crewai is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "crewai" or name.startswith(("crewai.", "crewai_")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _HideCrewai())
'''


def python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter of this venv; return its stdout (fail on error)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env if env is not None else _clean_env(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "GW_"))}
    env.update(extra)
    return env


def test_importing_graphwright_never_imports_crewai() -> None:
    """graphwright, its testing helpers, the example registry and compiling a crew workflow
    leave crewai unimported; so does running a workflow without crew nodes."""
    out = python(
        f"""
        import asyncio, json, sys
        import graphwright, graphwright.testing
        from graphwright import compile_workflow, load_registry_modules
        from graphwright.nodes.context import RunContext
        from langgraph.checkpoint.memory import InMemorySaver

        registry = load_registry_modules(["graphwright.examples"])
        compile_workflow(open({str(EXAMPLES / "asset-discovery.json")!r}).read(), registry=registry)
        monitoring = compile_workflow(
            open({str(EXAMPLES / "monitoring.json")!r}).read(), registry=registry
        )
        graph = monitoring.graph(InMemorySaver())
        data = monitoring.make_input({{"target": "host-1", "case_id": "c-1", "score": 2}})
        config = {{"configurable": {{"thread_id": "t"}}}}
        state = asyncio.run(graph.ainvoke(data, config, context=RunContext()))
        assert state["rescan"] is not None
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("crewai"))))
        """
    )
    assert json.loads(out) == []


def test_missing_crewai_is_a_validation_error_with_the_install_hint(tmp_path: Path) -> None:
    """Without crewai, a document with a crew node fails validation with crew.not_installed
    at the node's kind, the message giving the install command; the CLI says the same."""
    (tmp_path / "sitecustomize.py").write_text(HIDE_CREWAI)
    env = _clean_env(PYTHONPATH=str(tmp_path))
    out = python(
        f"""
        import json
        from graphwright import WorkflowValidationError, load_registry_modules, validate_workflow

        registry = load_registry_modules(["graphwright.examples"])
        try:
            validate_workflow(open({str(EXAMPLES / "asset-discovery.json")!r}).read(),
                              registry=registry)
        except WorkflowValidationError as exc:
            print(json.dumps([p.to_dict() for p in exc.problems]))
        try:
            from graphwright.testing import scripted_llm
            scripted_llm([])
        except ModuleNotFoundError as exc:
            print(json.dumps({{"testing": exc.name}}))
        """,
        env=env,
    )
    first, second = out.strip().splitlines()
    assert json.loads(first) == [
        {
            "code": "crew.not_installed",
            "pointer": "/nodes/analyse/kind",
            "message": "crew nodes need the crewai package, which is not installed: "
            "pip install 'graphwright[crew]'",
        }
    ]
    assert json.loads(second) == {"testing": "crewai"}

    cli = Path(sys.executable).parent / "graphwright"
    done = subprocess.run(
        [str(cli), "validate", str(EXAMPLES / "asset-discovery.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "/nodes/analyse/kind: [crew.not_installed]" in done.stdout
    assert "pip install 'graphwright[crew]'" in done.stdout


def test_crewai_telemetry_is_off_unless_the_user_turns_it_on() -> None:
    """Running a crew leaves crewai's telemetry and tracing off and its signal handlers
    uninstalled, unless the user set the variables themselves."""
    pytest.importorskip("crewai", reason="needs graphwright[crew]")
    code = """
        import asyncio, json, os, signal
        from graphwright import Registry, compile_workflow
        from graphwright.nodes.context import RunContext
        from graphwright.testing import final_answer, scripted_llms
        from langgraph.checkpoint.memory import InMemorySaver

        registry = Registry()
        registry.add_llm("scripted", scripted_llms([final_answer("ok")]))
        doc = {
            "dsl": "graphwright/v1", "id": "t",
            "state": {"out": {"type": "string", "nullable": True}},
            "nodes": {"c": {"kind": "crew", "outputs": {"out": "raw"}, "crew": {
                "agents": {"a": {"role": "R", "goal": "G", "backstory": "B", "llm": "scripted"}},
                "tasks": [{"description": "D", "expected_output": "E", "agent": "a"}]}}},
            "edges": [{"from": "START", "to": "c"}, {"from": "c", "to": "END"}],
        }
        workflow = compile_workflow(doc, registry=registry)
        graph = workflow.graph(InMemorySaver())
        state = asyncio.run(graph.ainvoke(
            workflow.make_input({}), {"configurable": {"thread_id": "t"}}, context=RunContext()
        ))
        from crewai.telemetry import Telemetry
        telemetry = Telemetry()
        print(json.dumps({
            "out": state["out"],
            "env": {k: os.environ.get(k) for k in
                    ("CREWAI_DISABLE_TELEMETRY", "CREWAI_TRACING_ENABLED", "OTEL_SDK_DISABLED")},
            "disabled": telemetry._is_telemetry_disabled(),
            "ready": telemetry.ready,
            "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
        }))
    """
    seen = json.loads(python(code).strip().splitlines()[-1])
    assert seen == {
        "out": "ok",
        "env": {
            "CREWAI_DISABLE_TELEMETRY": "true",
            "CREWAI_TRACING_ENABLED": "false",
            "OTEL_SDK_DISABLED": None,
        },
        "disabled": True,
        "ready": False,
        "sigterm_default": True,
    }
    opted_in = python(
        "import os; from graphwright.registry.llms import apply_crewai_privacy_defaults\n"
        "apply_crewai_privacy_defaults(); print(os.environ['CREWAI_DISABLE_TELEMETRY'])",
        env=_clean_env(CREWAI_DISABLE_TELEMETRY="false"),
    )
    assert opted_in.strip() == "false"
