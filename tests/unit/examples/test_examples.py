"""The example workflows: they validate, and they run end to end with an in-memory saver."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

import graphwright.examples
from graphwright.errors import NodeExecutionError
from graphwright.examples import example_documents, register, resolve_example
from graphwright.examples.discovery import publish
from graphwright.graphs.compiler import CompiledWorkflow, compile_workflow
from graphwright.graphs.spec import CrewNodeSpec, FunctionNodeSpec, MapNodeSpec
from graphwright.graphs.validate import validate_workflow
from graphwright.nodes.context import RunContext
from graphwright.registry import Registry, load_registry_modules

EXAMPLE_FILES = sorted(example_documents())
Graph = CompiledStateGraph[Any, Any, Any, Any]

RAW_ASSETS: list[dict[str, Any]] = [
    {"name": " Web-1 ", "type": "Web", "ip": "10.0.1.10"},
    {"name": "db-1", "type": "database", "ip": "10.0.1.20"},
    {"name": "fw-1", "type": "firewall", "ip": "10.0.1.1"},
    {"name": "edge-lb", "type": "lb", "ip": "8.8.8.8"},
    {"name": "laptop-7", "type": "laptop"},
    {"name": "web-1", "type": "web", "ip": "10.0.9.9"},
]


@pytest.fixture
def registry() -> Registry:
    """A registry holding every example function."""
    reg = Registry()
    register(reg)
    return reg


def compiled(registry: Registry, workflow_id: str) -> CompiledWorkflow:
    """Compile the example ``workflow_id`` with subworkflows resolved from the examples."""
    spec = resolve_example(workflow_id)
    assert spec is not None
    return compile_workflow(spec, registry=registry, resolve=resolve_example)


def run_config(workflow: CompiledWorkflow, thread: str) -> RunnableConfig:
    """A thread config whose step limit is the document's ``limits.max_steps``."""
    return {
        "configurable": {"thread_id": thread},
        "recursion_limit": workflow.spec.limits.max_steps,
    }


async def invoke(graph: Graph, value: Any, config: RunnableConfig) -> dict[str, Any]:
    """Run ``graph`` with a fresh run context and return its result."""
    result: dict[str, Any] = await graph.ainvoke(value, config, context=RunContext())
    return result


async def pending(graph: Graph, config: RunnableConfig) -> Mapping[str, Any]:
    """Return the payload of the one pending approval of the thread."""
    snapshot = await graph.aget_state(config)
    assert snapshot.next == ("review",)
    assert len(snapshot.interrupts) == 1
    payload: Mapping[str, Any] = snapshot.interrupts[0].value
    return payload


# --- every example ---------------------------------------------------------------------


@pytest.mark.parametrize("file_name", EXAMPLE_FILES, ids=EXAMPLE_FILES)
def test_example_validates(registry: Registry, file_name: str) -> None:
    """Each example document validates against the example registry and resolver."""
    document = example_documents()[file_name]
    spec = validate_workflow(document, registry=registry, resolve=resolve_example)
    assert f"{spec.id}.json" == file_name


@pytest.mark.parametrize("file_name", EXAMPLE_FILES, ids=EXAMPLE_FILES)
def test_example_compiles(registry: Registry, file_name: str) -> None:
    """Each example compiles to a LangGraph graph bound to an in-memory saver."""
    workflow = compiled(registry, example_documents()[file_name]["id"])
    assert workflow.graph(InMemorySaver()).name == workflow.spec.id


def test_examples_use_exactly_the_registered_functions(registry: Registry) -> None:
    """Every function and crew the examples name is registered, and every registered one is
    used."""
    refs: set[str] = set()
    crews: set[str] = set()
    for document in example_documents().values():
        spec = validate_workflow(document)
        for node in spec.nodes.values():
            inner = node.node if isinstance(node, MapNodeSpec) else node
            if isinstance(inner, FunctionNodeSpec):
                refs.add(inner.ref)
            elif isinstance(inner, CrewNodeSpec) and inner.ref is not None:
                crews.add(inner.ref)
    assert refs == set(registry.function_names())
    assert crews == set(registry.crew_names()) == {"discovery.dependency_crew"}


def test_examples_load_as_the_default_registry_module() -> None:
    """``graphwright.examples`` (the default GW_REGISTRY_MODULES) fills a registry."""
    reg = load_registry_modules(["graphwright.examples"])
    assert reg.has_function("discovery.classify_asset")
    assert reg.has_function("triage.scan_malware")
    assert reg.has_function("review.revise")


def test_repository_examples_link_points_at_the_package() -> None:
    """The repository's ``examples`` directory is the package directory with the documents."""
    root = Path(graphwright.examples.__file__).resolve().parents[3]
    link = root / "examples"
    if not link.exists():
        pytest.skip("not running from a source checkout")
    assert link.resolve() == Path(graphwright.examples.__file__).resolve().parent
    assert json.loads((link / "threat-triage.json").read_text())["id"] == "threat-triage"


def test_resolve_example_returns_none_for_unknown_ids() -> None:
    """The example resolver knows only the examples."""
    assert resolve_example("no-such-workflow") is None
    resolved = resolve_example("monitoring", 3)
    assert resolved is not None
    assert resolved.id == "monitoring"


# --- asset-discovery -------------------------------------------------------------------


async def test_asset_discovery_pauses_for_review_then_publishes(registry: Registry) -> None:
    """The run stops at the review gate; approving publishes the reviewed report."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-approve")

    await invoke(
        graph, workflow.make_input({"client_id": "acme", "raw_assets": RAW_ASSETS}), config
    )
    payload = await pending(graph, config)
    assert payload["prompt"] == (
        "Publish the asset plan for acme? 5 assets classified, 3 dependencies found."
    )
    assert payload["decisions"] == ["approve", "reject", "edit"]
    assert payload["editable"] == ["report"]
    assert (await graph.aget_state(config)).values.get("published") is None

    result = workflow.output(await invoke(graph, Command(resume={"decision": "approve"}), config))

    report = result["report"]
    assert report == payload["show"]["report"]
    assert result["published"] == {
        "client_id": "acme",
        "location": f"crm://clients/acme/asset-plans/{_sha256(report)[:12]}",
        "report_sha256": _sha256(report),
        "assets": 5,
        "dependencies": 3,
        "decision": "approve",
        "edited": False,
    }
    assert (await graph.aget_state(config)).next == ()


async def test_asset_discovery_classifies_every_asset_in_input_order(registry: Registry) -> None:
    """The map classifies each normalised asset once, gathered in input order."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-classify")

    state = await invoke(
        graph, workflow.make_input({"client_id": "acme", "raw_assets": RAW_ASSETS}), config
    )

    summary = [
        (a["index"], a["name"], a["category"], a["criticality"]) for a in state["classified"]
    ]
    assert summary == [
        (0, "web-1", "application", "medium"),
        (1, "db-1", "data", "high"),
        (2, "fw-1", "network", "high"),
        (3, "edge-lb", "network", "high"),
        (4, "laptop-7", "endpoint", "low"),
    ]
    assert state["dependencies"] == [
        {"from": "db-1", "to": "fw-1", "relation": "routes_through", "subnet": "10.0.1.0/24"},
        {"from": "web-1", "to": "db-1", "relation": "reads_from", "subnet": "10.0.1.0/24"},
        {"from": "web-1", "to": "fw-1", "relation": "routes_through", "subnet": "10.0.1.0/24"},
    ]


async def test_asset_discovery_analysis_is_a_two_agent_crew(registry: Registry) -> None:
    """The analysis is a CrewAI crew: two agents each use their tool, two tasks complete, and
    the run records the crew's token usage."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-crew")
    events: list[dict[str, Any]] = []

    async for chunk in graph.astream(
        workflow.make_input({"client_id": "acme", "raw_assets": RAW_ASSETS}),
        config,
        context=RunContext(),
        stream_mode="custom",
    ):
        if chunk.get("gw_event", "").startswith("crew."):
            events.append(chunk)

    assert {e["node"] for e in events} == {"analyse"}
    assert events[0]["gw_event"] == "crew.started"
    assert events[0]["agents"] == ["Dependency analyst", "Report writer"]
    tools = [(e["agent"], e["tool"]) for e in events if e["gw_event"] == "crew.tool_used"]
    assert tools == [
        ("Dependency analyst", "infer_dependencies"),
        ("Report writer", "write_asset_plan"),
    ]
    tasks = [e for e in events if e["gw_event"] == "crew.task_completed"]
    assert [(t["task"], t["tasks_done"], t["tasks_total"]) for t in tasks] == [
        ("dependencies", 1, 2),
        ("plan", 2, 2),
    ]
    usage = events[-1]
    assert usage["gw_event"] == "crew.usage"
    assert (usage["status"], usage["successful_requests"]) == ("completed", 2)
    assert usage["tokens"] > 0


async def test_asset_discovery_publishes_an_edited_report(registry: Registry) -> None:
    """An 'edit' decision replaces the report, and the edited report is what gets published."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-edit")
    await invoke(
        graph, workflow.make_input({"client_id": "acme", "raw_assets": RAW_ASSETS}), config
    )

    edited = "Asset plan for acme, trimmed by the account manager."
    decision = {"decision": "edit", "edits": {"report": edited}, "comment": "shorter"}
    result = workflow.output(await invoke(graph, Command(resume=decision), config))

    assert result["report"] == edited
    assert result["published"]["report_sha256"] == _sha256(edited)
    assert result["published"]["edited"] is True
    assert result["published"]["decision"] == "edit"


async def test_asset_discovery_reject_ends_without_publishing(registry: Registry) -> None:
    """A 'reject' decision ends the run and nothing is published."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-reject")
    await invoke(
        graph, workflow.make_input({"client_id": "acme", "raw_assets": RAW_ASSETS}), config
    )

    result = workflow.output(await invoke(graph, Command(resume={"decision": "reject"}), config))

    assert result["review"]["decision"] == "reject"
    assert result["published"] is None
    assert (await graph.aget_state(config)).next == ()


@pytest.mark.parametrize(
    "raw_asset",
    [{"type": "web", "ip": "10.0.0.1"}, {"name": "x", "ip": "10.0.0.300"}],
    ids=["no-name", "bad-ip"],
)
async def test_asset_discovery_rejects_invalid_assets(
    registry: Registry, raw_asset: dict[str, Any]
) -> None:
    """An asset without a name or with a bad IP fails the import with a coded error."""
    workflow = compiled(registry, "asset-discovery")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "discovery-invalid")

    with pytest.raises(NodeExecutionError) as caught:
        await invoke(
            graph, workflow.make_input({"client_id": "acme", "raw_assets": [raw_asset]}), config
        )

    assert caught.value.code == "discovery.invalid_asset"
    assert caught.value.details["node"] == "import_assets"


async def test_publish_refuses_an_empty_report() -> None:
    """Publishing a blank report fails with ``discovery.nothing_to_publish``."""
    state = SimpleNamespace(
        client_id="acme", report="  ", review=None, classified=[], dependencies=[]
    )

    with pytest.raises(NodeExecutionError) as caught:
        await publish(state)

    assert caught.value.code == "discovery.nothing_to_publish"


# --- threat-triage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicators", "score", "severity", "child", "child_nodes"),
    [
        (
            ["file:Mimikatz.exe", "port:4444", "ip:203.0.113.7", "port:4444"],
            10,
            "critical",
            "respond",
            {"open_incident", "contain"},
        ),
        (["port:3389", "ip:192.0.2.1"], 2, "low", "monitor", {"add_watch", "schedule_rescan"}),
    ],
    ids=["high-score-incident-response", "low-score-monitoring"],
)
async def test_threat_triage_routes_by_score(
    registry: Registry,
    indicators: list[str],
    score: int,
    severity: str,
    child: str,
    child_nodes: set[str],
) -> None:
    """The score picks the subworkflow, and only that subworkflow's nodes run."""
    workflow = compiled(registry, "threat-triage")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, f"triage-{child}")
    ran: set[tuple[str, str]] = set()

    async for namespace, update in graph.astream(
        workflow.make_input({"target": "host-7", "indicators": indicators}),
        config,
        context=RunContext(),
        subgraphs=True,
        stream_mode="updates",
    ):
        parent = namespace[0].split(":")[0] if namespace else ""
        ran.update((parent, node) for node in update)

    result = workflow.output((await graph.aget_state(config)).values)
    assert result["score"] == score
    assert result["severity"] == severity
    assert {node for parent, node in ran if parent} == child_nodes
    assert {parent for parent, _ in ran if parent} == {child}
    assert {"respond", "monitor"} & {node for parent, node in ran if not parent} == {child}
    if child == "respond":
        assert result["incident"]["priority"] == "p1"
        assert result["actions"] == [
            "isolate host host-7",
            "quarantine file mimikatz.exe",
            "close port 4444",
            "block ip 203.0.113.7",
        ]
        assert result["watch"] is None
    else:
        assert result["incident"] is None
        assert result["watch"]["level"] == "baseline"
        assert result["rescan"] == {"target": "host-7", "after_hours": 24}


async def test_threat_triage_analyzers_overlap(registry: Registry) -> None:
    """The three analyzers run in one step: each starts before every sibling finishes."""
    workflow = compiled(registry, "threat-triage")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "triage-overlap")

    state = await invoke(
        graph, workflow.make_input({"target": "host-7", "indicators": ["port:23"]}), config
    )

    analyses = state["analyses"]
    assert sorted(a["analyzer"] for a in analyses) == ["malware", "network", "reputation"]
    for first, second in itertools.permutations(analyses, 2):
        assert first["started_at"] < second["finished_at"], (first, second)


async def test_threat_triage_rejects_unknown_indicator_kinds(registry: Registry) -> None:
    """An indicator that is not ``file:``/``port:``/``ip:`` fails intake with a coded error."""
    workflow = compiled(registry, "threat-triage")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "triage-invalid")

    with pytest.raises(NodeExecutionError) as caught:
        await invoke(
            graph, workflow.make_input({"target": "h", "indicators": ["url:x.test"]}), config
        )

    assert caught.value.code == "triage.invalid_indicator"


# --- draft-review-loop -----------------------------------------------------------------


async def test_draft_review_loop_revises_until_approved(registry: Registry) -> None:
    """A reject and an edit each lead to a revision and a new review; approve ends the loop."""
    workflow = compiled(registry, "draft-review-loop")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "review-loop")

    await invoke(graph, workflow.make_input({"topic": "Backups"}), config)
    first = await pending(graph, config)
    assert first["prompt"] == "Round 1 of 3: publish this draft about Backups?"
    assert first["show"]["draft"] == "# Backups\n\nA first draft about Backups."

    await invoke(
        graph, Command(resume={"decision": "reject", "comment": "Add a schedule."}), config
    )
    second = await pending(graph, config)
    assert second["prompt"] == "Round 2 of 3: publish this draft about Backups?"
    assert second["show"]["draft"] == (
        "# Backups\n\nA first draft about Backups.\n\nRevision 2: Add a schedule."
    )

    edit = {"decision": "edit", "edits": {"draft": "# Backups\n\nNightly."}, "comment": "Cite RPO."}
    await invoke(graph, Command(resume=edit), config)
    third = await pending(graph, config)
    assert third["prompt"] == "Round 3 of 3: publish this draft about Backups?"
    assert third["show"]["draft"] == "# Backups\n\nNightly.\n\nRevision 3: Cite RPO."

    result = workflow.output(await invoke(graph, Command(resume="approve"), config))
    assert result["draft"] == "# Backups\n\nNightly.\n\nRevision 3: Cite RPO."
    assert result["round"] == 3
    assert result["review"]["decision"] == "approve"
    assert result["feedback"] == [
        {"round": 1, "decision": "reject", "comment": "Add a schedule."},
        {"round": 2, "decision": "edit", "comment": "Cite RPO."},
    ]
    assert (await graph.aget_state(config)).next == ()


async def test_draft_review_loop_stops_after_the_last_round(registry: Registry) -> None:
    """Rejecting in the last round ends the run without another revision."""
    workflow = compiled(registry, "draft-review-loop")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, "review-last-round")
    await invoke(graph, workflow.make_input({"topic": "Backups", "max_rounds": 1}), config)

    result = workflow.output(await invoke(graph, Command(resume="reject"), config))

    assert result["round"] == 1
    assert result["review"]["decision"] == "reject"
    assert result["draft"] == "# Backups\n\nA first draft about Backups."
    assert (await graph.aget_state(config)).next == ()


@pytest.mark.parametrize("max_rounds", [0, 21], ids=["zero", "above-limit"])
async def test_draft_review_loop_rejects_bad_round_limits(
    registry: Registry, max_rounds: int
) -> None:
    """A max_rounds outside 1-20 fails the first node with ``review.invalid_rounds``."""
    workflow = compiled(registry, "draft-review-loop")
    graph = workflow.graph(InMemorySaver())
    config = run_config(workflow, f"review-bad-{max_rounds}")

    with pytest.raises(NodeExecutionError) as caught:
        await invoke(graph, workflow.make_input({"topic": "T", "max_rounds": max_rounds}), config)

    assert caught.value.code == "review.invalid_rounds"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
