"""Render a workflow document as a graph: Mermaid text, or plain nodes and edges for a UI.

Both renderings are pure functions of the spec and draw the document as its
author wrote it (a map is one node, a join is one edge per source), not the
LangGraph graph it compiles to. Output is deterministic: nodes in document
order, then edges in document order.
"""

from __future__ import annotations

import re
from typing import Literal, TypedDict

from graphwright.graphs.spec import (
    ApprovalNodeSpec,
    CrewNodeSpec,
    EdgeSpec,
    FunctionNodeSpec,
    MapNodeSpec,
    NodeSpec,
    SubworkflowNodeSpec,
    WorkflowSpec,
)

__all__ = [
    "RenderedEdge",
    "RenderedGraph",
    "RenderedNode",
    "mermaid_id",
    "render_json",
    "render_mermaid",
]

START = "START"
END = "END"

NodeKind = Literal["start", "end", "function", "approval", "subworkflow", "map", "crew"]
EdgeKind = Literal["plain", "fan_out", "join", "conditional", "default"]


class RenderedNode(TypedDict):
    """A node of :func:`render_json`; ``id`` is the document's node name (or START/END)."""

    id: str
    kind: NodeKind
    label: str
    detail: list[str]


class RenderedEdge(TypedDict):
    """An edge of :func:`render_json`; ``label`` is the CEL condition, ``"default"`` or None."""

    source: str
    target: str
    kind: EdgeKind
    label: str | None


class RenderedGraph(TypedDict):
    """The whole graph of :func:`render_json`."""

    id: str
    title: str | None
    nodes: list[RenderedNode]
    edges: list[RenderedEdge]


# Mermaid shapes by node kind: (opening, closing) around a quoted label.
_SHAPES: dict[NodeKind, tuple[str, str]] = {
    "start": ("([", "])"),
    "end": ("([", "])"),
    "function": ("[", "]"),
    "approval": ("{{", "}}"),
    "subworkflow": ("[[", "]]"),
    "map": ("[/", "/]"),
    "crew": ("[(", ")]"),
}
_CLASSES: dict[NodeKind, str] = {
    "start": "fill:#e8f5e9,stroke:#2e7d32",
    "end": "fill:#fbe9e7,stroke:#bf360c",
    "function": "fill:#e3f2fd,stroke:#1565c0",
    "approval": "fill:#fff8e1,stroke:#ff8f00",
    "subworkflow": "fill:#f3e5f5,stroke:#6a1b9a",
    "map": "fill:#e0f7fa,stroke:#00838f",
    "crew": "fill:#fce4ec,stroke:#ad1457",
}
# Characters that end or reshape a quoted Mermaid label, as Mermaid entity codes.
_ESCAPES = {
    "#": "#35;",
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "|": "#124;",
    "`": "#96;",
}
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")


def mermaid_id(name: str) -> str:
    """The Mermaid id of a node: ``START``/``END``, else ``n_`` + the name.

    The prefix keeps Mermaid keywords (``end``, ``graph``, ``style``) and names
    starting with ``o``/``x`` (read as edge heads) from breaking the diagram.
    Characters outside ``[A-Za-z0-9_]`` (impossible in a valid document) become ``_``.
    """
    if name in (START, END):
        return name
    return "n_" + _UNSAFE_ID.sub("_", name)


def render_mermaid(spec: WorkflowSpec) -> str:
    """Render ``spec`` as a Mermaid ``flowchart TD``.

    Terminals are stadiums, functions rectangles, approvals hexagons,
    subworkflows subroutines (``[[...]]``), crews cylinders (``[(...)]``) and maps
    parallelograms labelled ``map: <inner>``. Conditional edges carry their CEL
    condition, the fallback edge the label ``default``. Every label is quoted and
    escaped.
    """
    lines = ["flowchart TD"]
    graph = render_json(spec)
    for node in graph["nodes"]:
        opening, closing = _SHAPES[node["kind"]]
        label = "<br/>".join(_escape(part) for part in [node["label"], *node["detail"]] if part)
        lines.append(f'    {mermaid_id(node["id"])}{opening}"{label}"{closing}')
    for edge in graph["edges"]:
        source, target = mermaid_id(edge["source"]), mermaid_id(edge["target"])
        if edge["label"] is None:
            lines.append(f"    {source} --> {target}")
        else:
            lines.append(f'    {source} -->|"{_escape(edge["label"])}"| {target}')
    used: dict[NodeKind, list[str]] = {}
    for node in graph["nodes"]:
        used.setdefault(node["kind"], []).append(mermaid_id(node["id"]))
    for kind, ids in used.items():
        lines.append(f"    classDef gw_{kind} {_CLASSES[kind]}")
        lines.append(f"    class {','.join(ids)} gw_{kind}")
    return "\n".join(lines) + "\n"


def render_json(spec: WorkflowSpec) -> RenderedGraph:
    """Render ``spec`` as plain data for a UI.

    Returns:
        ``{"id", "title", "nodes", "edges"}``. Each node is ``{"id", "kind",
        "label", "detail"}`` (``kind`` is ``start``, ``end`` or the node kind;
        ``detail`` a list of short lines such as ``"map: discovery.classify_asset"``).
        Each edge is ``{"source", "target", "kind", "label"}`` with ``kind`` one of
        ``plain``, ``fan_out``, ``join``, ``conditional``, ``default``; the label
        is the CEL condition, ``"default"``, or ``None``.
    """
    nodes: list[RenderedNode] = [{"id": START, "kind": "start", "label": START, "detail": []}]
    for name, node in spec.nodes.items():
        nodes.append({"id": name, "kind": node.kind, "label": name, "detail": _detail(node)})
    nodes.append({"id": END, "kind": "end", "label": END, "detail": []})
    edges = [rendered for edge in spec.edges for rendered in _edges(edge)]
    return {"id": spec.id, "title": spec.title, "nodes": nodes, "edges": edges}


def _detail(node: NodeSpec) -> list[str]:
    if isinstance(node, FunctionNodeSpec):
        return [f"fn: {node.ref}"]
    if isinstance(node, SubworkflowNodeSpec):
        return [f"subworkflow: {_workflow(node)}"]
    if isinstance(node, ApprovalNodeSpec):
        return ["approval: " + " / ".join(node.decisions)]
    if isinstance(node, CrewNodeSpec):
        return [_crew(node)]
    if isinstance(node, MapNodeSpec):
        inner = node.node
        if isinstance(inner, FunctionNodeSpec):
            what = inner.ref
        elif isinstance(inner, CrewNodeSpec):
            what = _crew(inner)
        else:
            what = f"subworkflow {_workflow(inner)}"
        detail = [f"map: {what}", f"over {node.over}"]
        if node.max_concurrency is not None:
            detail.append(f"max {node.max_concurrency} at once")
        return detail
    return []  # pragma: no cover - NodeSpec is exhaustive


def _crew(node: CrewNodeSpec) -> str:
    if node.ref is not None:
        return f"crew: {node.ref}"
    crew = node.crew
    assert crew is not None  # the spec has exactly one of ref and crew
    roles = ", ".join(agent.role for agent in crew.agents.values())
    return f"crew: {roles} ({len(crew.tasks)} tasks, {crew.process})"


def _workflow(node: SubworkflowNodeSpec) -> str:
    return node.workflow if node.version is None else f"{node.workflow} v{node.version}"


def _edges(edge: EdgeSpec) -> list[RenderedEdge]:
    sources = edge.sources
    if edge.cases is not None:
        out = [_edge(sources[0], case.to, "conditional", case.when) for case in edge.cases]
        out.append(_edge(sources[0], edge.default or END, "default", "default"))
        return out
    targets = edge.targets
    if len(sources) > 1:
        return [_edge(source, targets[0], "join", None) for source in sources]
    kind: EdgeKind = "fan_out" if len(targets) > 1 else "plain"
    return [_edge(sources[0], target, kind, None) for target in targets]


def _edge(source: str, target: str, kind: EdgeKind, label: str | None) -> RenderedEdge:
    return {"source": source, "target": target, "kind": kind, "label": label}


def _escape(text: str) -> str:
    flat = " ".join(text.split())
    return "".join(_ESCAPES.get(ch, ch) for ch in flat)
