"""Rendering workflow documents as Mermaid flowcharts and as plain graph data."""

from __future__ import annotations

import re
from typing import Any

import pytest

from graphwright.examples import load_examples
from graphwright.graphs.render import mermaid_id, render_json, render_mermaid
from graphwright.graphs.spec import WorkflowSpec

EXAMPLES = load_examples()

# Every line of the output is one of these (labels hold no raw quote or pipe).
_ID = r"(?:START|END|n_[a-z0-9_]+)"
_LABEL = r'"[^"|]*"'
_SHAPES = (
    rf"\(\[{_LABEL}\]\)|\[{_LABEL}\]|\{{\{{{_LABEL}\}}\}}|\[\[{_LABEL}\]\]|\[/{_LABEL}/\]"
    rf"|\[\({_LABEL}\)\]"
)
_LINE_PATTERNS = [
    re.compile(rf"    {_ID}(?:{_SHAPES})"),
    re.compile(rf"    {_ID} --> {_ID}"),
    re.compile(rf"    {_ID} -->\|{_LABEL}\| {_ID}"),
    re.compile(r"    classDef gw_[a-z]+ [a-z:#0-9,]+"),
    re.compile(rf"    class {_ID}(?:,{_ID})* gw_[a-z]+"),
]


def small_document() -> dict[str, Any]:
    """A document with every node kind and every edge shape."""
    return {
        "dsl": "graphwright/v1",
        "id": "small",
        "title": "Small",
        "state": {
            "topic": {"type": "string"},
            "items": {"type": "array", "items": {"type": "integer"}, "default": []},
            "results": {"type": "array", "items": {"type": "integer"}, "reducer": "append"},
            "review": {"type": "object", "nullable": True},
            "n": {"type": "integer", "default": 0},
        },
        "input": ["topic"],
        "nodes": {
            "write": {"kind": "function", "ref": "demo.write"},
            "left": {"kind": "function", "ref": "demo.left"},
            "right": {"kind": "subworkflow", "workflow": "kid", "version": 2},
            "score": {
                "kind": "map",
                "over": "state.items",
                "max_concurrency": 2,
                "node": {"kind": "function", "ref": "demo.double", "writes": "results"},
            },
            "approve": {
                "kind": "approval",
                "prompt": "Publish ${state.topic}?",
                "decisions": ["approve", "reject", "edit"],
                "editable": ["topic"],
                "writes": "review",
            },
        },
        "edges": [
            {"from": "START", "to": "write"},
            {"from": "write", "to": ["left", "right"]},
            {"from": ["left", "right"], "to": "score"},
            {"from": "score", "to": "approve"},
            {
                "from": "approve",
                "cases": [
                    {"when": "state.review.decision == 'approve'", "to": "END"},
                    {"when": "state.n < 3", "to": "write"},
                ],
                "default": "END",
            },
        ],
    }


def small_spec() -> WorkflowSpec:
    """The small document as a spec."""
    return WorkflowSpec.model_validate(small_document())


def with_condition(condition: str) -> WorkflowSpec:
    """The small document with ``condition`` as the approval's first case."""
    document = small_document()
    document["edges"][-1]["cases"][0]["when"] = condition
    return WorkflowSpec.model_validate(document)


def test_mermaid_draws_each_node_kind_with_its_shape() -> None:
    """Terminals are stadiums, functions rectangles, approvals hexagons, subworkflows
    subroutines and maps parallelograms labelled with the mapped function."""
    lines = render_mermaid(small_spec()).splitlines()

    assert lines[0] == "flowchart TD"
    assert '    START(["START"])' in lines
    assert '    END(["END"])' in lines
    assert '    n_write["write<br/>fn: demo.write"]' in lines
    assert '    n_right[["right<br/>subworkflow: kid v2"]]' in lines
    assert (
        '    n_score[/"score<br/>map: demo.double<br/>over state.items<br/>max 2 at once"/]'
        in lines
    )
    assert '    n_approve{{"approve<br/>approval: approve / reject / edit"}}' in lines


def test_mermaid_draws_plain_fan_out_join_and_conditional_edges() -> None:
    """Fan-outs and joins become one edge per target/source; cases carry their condition."""
    lines = render_mermaid(small_spec()).splitlines()
    edges = [line.strip() for line in lines if "-->" in line]

    assert edges == [
        "START --> n_write",
        "n_write --> n_left",
        "n_write --> n_right",
        "n_left --> n_score",
        "n_right --> n_score",
        "n_score --> n_approve",
        "n_approve -->|\"state.review.decision == 'approve'\"| END",
        'n_approve -->|"state.n #lt; 3"| n_write',
        'n_approve -->|"default"| END',
    ]


@pytest.mark.parametrize(
    ("condition", "label"),
    [
        ('state.topic == "a"', "state.topic == #quot;a#quot;"),
        ("state.n > 1 && state.n < 9", "state.n #gt; 1 #amp;#amp; state.n #lt; 9"),
        ("state.n == 1 || state.n == 2", "state.n == 1 #124;#124; state.n == 2"),
        ("state.topic == '#quot;'", "state.topic == '#35;quot;'"),
        ("state.topic == '`x`'", "state.topic == '#96;x#96;'"),
        ("state.n == 1\n  && true", "state.n == 1 #amp;#amp; true"),
    ],
    ids=["double-quotes", "angle-brackets-and-ampersands", "pipes", "hash", "backticks", "newline"],
)
def test_mermaid_escapes_conditions(condition: str, label: str) -> None:
    """Characters that would end or reshape a Mermaid label become entity codes."""
    mermaid = render_mermaid(with_condition(condition))

    assert f'    n_approve -->|"{label}"| END\n' in mermaid


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("START", "START"),
        ("END", "END"),
        ("end", "n_end"),
        ("graph", "n_graph"),
        ("o_node", "n_o_node"),
        ("x1", "n_x1"),
        ("bad-name.x", "n_bad_name_x"),
    ],
    ids=["start", "end", "keyword-end", "keyword-graph", "leading-o", "leading-x", "unsafe-chars"],
)
def test_mermaid_id_is_safe(name: str, expected: str) -> None:
    """Node ids are prefixed (so keywords and o/x edge heads cannot clash) and sanitised."""
    assert mermaid_id(name) == expected


def test_mermaid_keyword_node_names_are_prefixed() -> None:
    """A node named ``end`` is drawn as ``n_end``, never as Mermaid's ``end`` keyword."""
    document = small_document()
    document["nodes"]["end"] = document["nodes"].pop("left")
    document["edges"][1]["to"] = ["end", "right"]
    document["edges"][2]["from"] = ["end", "right"]

    lines = render_mermaid(WorkflowSpec.model_validate(document)).splitlines()

    assert '    n_end["end<br/>fn: demo.left"]' in lines
    assert "    n_end --> n_score" in lines
    assert not any(re.search(r"(^|\s)end(\s|$)", line) for line in lines)


def test_render_json_lists_nodes_and_edges() -> None:
    """The UI rendering lists START, the nodes in order, END, and typed edges."""
    graph = render_json(small_spec())

    assert graph["id"] == "small"
    assert graph["title"] == "Small"
    assert [(n["id"], n["kind"]) for n in graph["nodes"]] == [
        ("START", "start"),
        ("write", "function"),
        ("left", "function"),
        ("right", "subworkflow"),
        ("score", "map"),
        ("approve", "approval"),
        ("END", "end"),
    ]
    assert graph["nodes"][4]["detail"] == [
        "map: demo.double",
        "over state.items",
        "max 2 at once",
    ]
    assert [(e["source"], e["target"], e["kind"], e["label"]) for e in graph["edges"]] == [
        ("START", "write", "plain", None),
        ("write", "left", "fan_out", None),
        ("write", "right", "fan_out", None),
        ("left", "score", "join", None),
        ("right", "score", "join", None),
        ("score", "approve", "plain", None),
        ("approve", "END", "conditional", "state.review.decision == 'approve'"),
        ("approve", "write", "conditional", "state.n < 3"),
        ("approve", "END", "default", "default"),
    ]


def test_map_over_a_subworkflow_is_labelled_with_the_workflow() -> None:
    """A map whose inner node is a subworkflow names the child workflow."""
    document = small_document()
    document["nodes"]["score"]["node"] = {"kind": "subworkflow", "workflow": "kid", "writes": "x"}

    mermaid = render_mermaid(WorkflowSpec.model_validate(document))

    assert "map: subworkflow kid<br/>over state.items" in mermaid


@pytest.mark.parametrize("workflow_id", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_example_mermaid_is_well_formed(workflow_id: str) -> None:
    """Every line of an example's Mermaid is a node, an edge or a style line, and every
    node and edge of the document appears."""
    spec = EXAMPLES[workflow_id]
    lines = render_mermaid(spec).splitlines()

    assert lines[0] == "flowchart TD"
    for line in lines[1:]:
        assert any(p.fullmatch(line) for p in _LINE_PATTERNS), line
    declared = {line.split("[")[0].split("(")[0].split("{")[0].strip() for line in lines[1:]}
    assert {mermaid_id(name) for name in spec.nodes} <= declared
    edge_count = sum(len(e.sources) * len(e.targets) for e in spec.edges)
    assert sum("-->" in line for line in lines) == edge_count


@pytest.mark.parametrize(
    ("workflow_id", "expected"),
    [
        (
            "asset-discovery",
            [
                '    n_classify[/"classify<br/>map: discovery.classify_asset<br/>'
                'over state.assets<br/>max 4 at once"/]',
                '    n_analyse[("analyse<br/>crew: discovery.dependency_crew")]',
                '    n_review{{"review<br/>approval: approve / reject / edit"}}',
                "    n_analyse --> n_review",
                "    n_review -->|\"state.review.decision in ['approve', 'edit']\"| n_publish",
                '    n_review -->|"default"| END',
                "    n_publish --> END",
            ],
        ),
        (
            "threat-triage",
            [
                "    n_intake --> n_malware",
                "    n_intake --> n_network",
                "    n_intake --> n_reputation",
                "    n_malware --> n_score",
                "    n_network --> n_score",
                "    n_reputation --> n_score",
                '    n_score -->|"state.score #gt;= 7"| n_respond',
                '    n_score -->|"default"| n_monitor',
                '    n_respond[["respond<br/>subworkflow: incident-response"]]',
                '    n_monitor[["monitor<br/>subworkflow: monitoring"]]',
            ],
        ),
        (
            "draft-review-loop",
            [
                "    n_review -->|\"state.review.decision == 'approve'\"| END",
                '    n_review -->|"state.round #lt; state.max_rounds"| n_revise',
                '    n_review -->|"default"| END',
                "    n_revise --> n_review",
            ],
        ),
        (
            "incident-response",
            ["    START --> n_open_incident", "    n_open_incident --> n_contain"],
        ),
        ("monitoring", ["    n_add_watch --> n_schedule_rescan", "    n_schedule_rescan --> END"]),
    ],
    ids=[
        "asset-discovery",
        "threat-triage",
        "draft-review-loop",
        "incident-response",
        "monitoring",
    ],
)
def test_example_mermaid_shows_its_flow(workflow_id: str, expected: list[str]) -> None:
    """Each example's Mermaid holds its characteristic nodes, edges and labels."""
    lines = render_mermaid(EXAMPLES[workflow_id]).splitlines()

    for line in expected:
        assert line in lines


def test_rendering_is_deterministic() -> None:
    """Rendering the same spec twice gives the same text."""
    spec = EXAMPLES["threat-triage"]

    assert render_mermaid(spec) == render_mermaid(load_examples()["threat-triage"])
    assert render_json(spec) == render_json(spec)
