"""Pin subworkflow versions so a published workflow never changes underneath a thread."""

from __future__ import annotations

from collections.abc import Mapping

from graphwright.graphs.spec import MapNodeSpec, SubworkflowNodeSpec, WorkflowSpec

__all__ = ["pin_subworkflows", "subworkflow_refs"]


def subworkflow_refs(spec: WorkflowSpec) -> list[tuple[str, int | None]]:
    """Every ``(workflow id, version or None)`` the document's nodes run."""
    refs: list[tuple[str, int | None]] = []
    for node in spec.nodes.values():
        inner = node.node if isinstance(node, MapNodeSpec) else node
        if isinstance(inner, SubworkflowNodeSpec):
            refs.append((inner.workflow, inner.version))
    return refs


def pin_subworkflows(spec: WorkflowSpec, latest: Mapping[str, int]) -> WorkflowSpec:
    """Return ``spec`` with each unpinned subworkflow pinned to ``latest[id]``.

    Publishing stores the pinned document, so a version always runs the same
    children, whatever is published later.
    """
    nodes = dict(spec.nodes)
    changed = False
    for name, node in spec.nodes.items():
        if isinstance(node, SubworkflowNodeSpec) and node.version is None:
            if node.workflow in latest:
                nodes[name] = node.model_copy(update={"version": latest[node.workflow]})
                changed = True
        elif isinstance(node, MapNodeSpec):
            inner = node.node
            if (
                isinstance(inner, SubworkflowNodeSpec)
                and inner.version is None
                and inner.workflow in latest
            ):
                pinned = inner.model_copy(update={"version": latest[inner.workflow]})
                nodes[name] = node.model_copy(update={"node": pinned})
                changed = True
    if not changed:
        return spec
    # Rebuild through validation so `model_fields_set` (and so the hash) includes the pins.
    data = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["nodes"] = {
        name: node.model_dump(mode="json", by_alias=True, exclude_unset=True)
        for name, node in nodes.items()
    }
    for name, node in nodes.items():
        pinned_inner = node.node if isinstance(node, MapNodeSpec) else node
        if isinstance(pinned_inner, SubworkflowNodeSpec) and pinned_inner.version is not None:
            target = data["nodes"][name]
            target = target["node"] if isinstance(node, MapNodeSpec) else target
            target["version"] = pinned_inner.version
    return WorkflowSpec.model_validate(data)
