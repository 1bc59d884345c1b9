"""Checks of a workflow's edges as a graph: names, reachability, paths to END."""

from __future__ import annotations

from collections import defaultdict, deque

from graphwright.errors import Problem
from graphwright.expressions import ExpressionError, compile_expression
from graphwright.graphs.pointers import pointer
from graphwright.graphs.spec import WorkflowSpec

__all__ = ["END", "START", "check_graph", "successors"]

START = "START"
END = "END"


def successors(spec: WorkflowSpec) -> dict[str, set[str]]:
    """Map each node (and START) to every node an edge may lead to."""
    out: dict[str, set[str]] = defaultdict(set)
    for edge in spec.edges:
        for source in edge.sources:
            out[source].update(edge.targets)
    return out


def check_graph(spec: WorkflowSpec) -> list[Problem]:
    """Check edge endpoints, conditions, reachability from START and paths to END."""
    from graphwright.graphs.validate import suggest

    problems: list[Problem] = []
    names = list(spec.nodes)
    known = set(names)
    valid_edges: list[int] = []
    for index, edge in enumerate(spec.edges):
        where = pointer("edges", index)
        ok = True
        sources = edge.sources
        for pos, source in enumerate(sources):
            at = where + ("/from" if isinstance(edge.source, str) else pointer("from", pos))
            if source == END:
                problems.append(Problem("edge.from_end", at, "END has no outgoing edges"))
                ok = False
            elif source == START and len(sources) > 1:
                problems.append(Problem("edge.invalid", at, "START cannot be part of a join"))
                ok = False
            elif source != START and source not in known:
                problems.append(
                    Problem(
                        "edge.unknown_node",
                        at,
                        f"edge from unknown node '{source}'",
                        suggest(source, [*names, START]),
                    )
                )
                ok = False
        if len(sources) > 1 and edge.cases is not None:
            problems.append(
                Problem("edge.invalid", where, "a join ('from' list) cannot have 'cases'")
            )
            ok = False
        if len(sources) > 1 and isinstance(edge.to, list):
            problems.append(Problem("edge.invalid", where + "/to", "a join has one target"))
            ok = False
        for at, target in _targets_with_pointers(edge, where):
            if target == START:
                problems.append(Problem("edge.to_start", at, "no edge may lead to START"))
                ok = False
            elif target != END and target not in known:
                problems.append(
                    Problem(
                        "edge.unknown_node",
                        at,
                        f"edge to unknown node '{target}'",
                        suggest(target, [*names, END]),
                    )
                )
                ok = False
        for case_index, case in enumerate(edge.cases or []):
            at = where + pointer("cases", case_index, "when")
            try:
                compiled = compile_expression(case.when)
            except ExpressionError as exc:
                problems.append(Problem(exc.code, at, exc.message))
                continue
            for root, field in sorted(compiled.fields):
                declared = spec.state if root == "state" else spec.input
                if field not in declared:
                    code = "state.unknown_field" if root == "state" else "io.unknown_field"
                    problems.append(
                        Problem(
                            code,
                            at,
                            f"condition reads {root}.{field}, which is not declared",
                            suggest(field, list(declared)),
                        )
                    )
        if ok:
            valid_edges.append(index)
    problems.extend(_reachability(spec, valid_edges))
    return problems


def _targets_with_pointers(edge: object, where: str) -> list[tuple[str, str]]:
    from graphwright.graphs.spec import EdgeSpec

    assert isinstance(edge, EdgeSpec)
    if edge.cases is not None:
        pairs = [(where + pointer("cases", i, "to"), c.to) for i, c in enumerate(edge.cases)]
        return [*pairs, (where + "/default", edge.default or END)]
    if isinstance(edge.to, list):
        return [(where + pointer("to", i), t) for i, t in enumerate(edge.to)]
    return [(where + "/to", edge.to or END)]


def _reachability(spec: WorkflowSpec, valid_edges: list[int]) -> list[Problem]:
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)
    for index in valid_edges:
        edge = spec.edges[index]
        for source in edge.sources:
            for target in edge.targets:
                forward[source].add(target)
                backward[target].add(source)
    problems: list[Problem] = []
    if not forward.get(START):
        problems.append(Problem("graph.no_start", "/edges", "no edge leaves START"))
        return problems
    reached = _walk(START, forward)
    finishing = _walk(END, backward)
    for name in spec.nodes:
        where = pointer("nodes", name)
        if name not in reached:
            problems.append(
                Problem("graph.unreachable_node", where, f"node '{name}' is unreachable from START")
            )
        elif name not in finishing:
            problems.append(
                Problem("graph.no_path_to_end", where, f"node '{name}' has no path to END")
            )
    return problems


def _walk(start: str, adjacency: dict[str, set[str]]) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in adjacency.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
