"""Checks of what a document needs from outside itself: registered names and subworkflows.

A stored version was validated in full when it was published, and neither its
document nor its pinned subworkflows change afterwards. What can change is the
process that loads it: a function, crew, tool, LLM or rate limit removed from the
registry (or a function's signature changed), crewai no longer installed. These checks
cover exactly that, with the problem codes full validation uses, so loading a
stored version repeats them and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from graphwright.errors import Problem
from graphwright.graphs.crew_checks import crew_binding_problems
from graphwright.graphs.pointers import pointer
from graphwright.graphs.spec import (
    CrewNodeSpec,
    FunctionNodeSpec,
    MapNodeSpec,
    SubworkflowNodeSpec,
    WorkflowSpec,
)
from graphwright.registry import Registry

__all__ = [
    "FUNCTION_CONTEXT",
    "MAP_CONTEXT",
    "WorkflowResolver",
    "check_bindings",
    "function_ref_problems",
    "rate_limit_problems",
    "unknown_subworkflow",
]

WorkflowResolver = Callable[[str, int | None], WorkflowSpec | None]
"""Looks up a published workflow by id and optional version; ``None`` if absent."""

FUNCTION_CONTEXT = frozenset({"state"})
"""Names a node's expressions (and its function's parameters) may use."""
MAP_CONTEXT = frozenset({"state", "item", "index"})
"""Names available to the node a ``map`` runs per item."""


def check_bindings(
    spec: WorkflowSpec, *, registry: Registry, resolve: WorkflowResolver
) -> list[Problem]:
    """Return every problem of ``spec``'s names in ``registry`` and subworkflows in ``resolve``.

    Only the document's own nodes are checked, not its subworkflows' nodes.
    """
    problems: list[Problem] = []
    for name, node in spec.nodes.items():
        where = pointer("nodes", name)
        inner: object
        if isinstance(node, MapNodeSpec):
            inner, where, ctx = node.node, where + "/node", MAP_CONTEXT
        else:
            inner, ctx = node, FUNCTION_CONTEXT
        if isinstance(inner, FunctionNodeSpec | CrewNodeSpec | SubworkflowNodeSpec):
            problems.extend(rate_limit_problems(inner, where, registry))
        if isinstance(inner, FunctionNodeSpec):
            problems.extend(function_ref_problems(inner, where, ctx, registry))
        elif isinstance(inner, CrewNodeSpec):
            problems.extend(crew_binding_problems(inner, where, registry))
        elif (
            isinstance(inner, SubworkflowNodeSpec)
            and resolve(inner.workflow, inner.version) is None
        ):
            problems.append(unknown_subworkflow(inner, where))
    return problems


def function_ref_problems(
    node: FunctionNodeSpec, where: str, ctx: frozenset[str], registry: Registry
) -> list[Problem]:
    """Problems of a function node's ``ref``: not registered, or needs arguments not given.

    Args:
        node: The function node.
        where: JSON pointer of the node.
        ctx: Names the node's context provides (``FUNCTION_CONTEXT`` or ``MAP_CONTEXT``).
        registry: Where ``node.ref`` should be registered.
    """
    from graphwright.graphs.validate import suggest

    if not registry.has_function(node.ref):
        return [
            Problem(
                "registry.unknown_name",
                where + "/ref",
                f"no function is registered as '{node.ref}'",
                suggest(node.ref, registry.function_names()),
            )
        ]
    entry = registry.get_function(node.ref)
    if "secrets" in entry.parameters and "secrets" in (node.inputs or {}):
        # The parameter is always the tenant's secrets; an input of that name would be lost.
        return [
            Problem(
                "registry.signature_mismatch",
                where + "/inputs/secrets",
                f"'{node.ref}' receives the tenant's secrets as 'secrets'; name this input "
                "differently",
            )
        ]
    available = set(node.inputs or ()) if node.inputs is not None else set(ctx)
    available |= {"state", "secrets"} | (ctx & {"item", "index"})
    missing = [p for p in entry.required if p not in available]
    if not missing:
        return []
    return [
        Problem(
            "registry.signature_mismatch",
            where + "/ref",
            f"'{node.ref}' needs argument(s) {', '.join(missing)} that this node does not "
            f"provide (available: {', '.join(sorted(available))})",
        )
    ]


def unknown_subworkflow(node: SubworkflowNodeSpec, where: str) -> Problem:
    """The ``subworkflow.unknown`` problem of a node whose workflow is not published."""
    version = f" version {node.version}" if node.version else ""
    return Problem(
        "subworkflow.unknown",
        where + "/workflow",
        f"workflow '{node.workflow}'{version} is not published",
    )


def rate_limit_problems(
    node: FunctionNodeSpec | CrewNodeSpec | SubworkflowNodeSpec, where: str, registry: Registry
) -> list[Problem]:
    """The ``rate_limit.unknown`` problem of a node naming an undeclared rate limit, if any."""
    from graphwright.graphs.validate import suggest

    name = node.rate_limit
    if name is None or registry.has_rate_limit(name):
        return []
    declared = registry.rate_limit_names()
    known = f"declared: {', '.join(declared)}" if declared else "none is declared"
    return [
        Problem(
            "rate_limit.unknown",
            where + "/rate_limit",
            f"no rate limit is declared as '{name}' ({known}; the operator declares them "
            "in GW_RATE_LIMITS or the registry)",
            suggest(name, declared),
        )
    ]
