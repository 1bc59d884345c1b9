"""Workflow documents used by the service tests."""

from __future__ import annotations

import itertools
from typing import Any


def chain(
    workflow_id: str, labels: list[str], *, approval: bool = False, ref: str = "svc.step"
) -> dict[str, Any]:
    """A chain of ``ref`` nodes (label, token, marks file, seconds from state)."""
    nodes: dict[str, Any] = {}
    for label in labels:
        nodes[label] = {
            "kind": "function",
            "ref": ref,
            "inputs": {
                "label": f"'{label}'",
                "token": "state.token",
                "marks": "state.marks",
                "seconds": f"state.delays.{label}",
            },
        }
    order = list(labels)
    if approval:
        nodes["gate"] = {
            "kind": "approval",
            "prompt": "Continue ${state.token}?",
            "decisions": ["approve", "reject"],
            "writes": "review",
        }
        order.insert(len(order) // 2 or 1, "gate")
    edges = [{"from": "START", "to": order[0]}]
    edges += [{"from": a, "to": b} for a, b in itertools.pairwise(order)]
    edges.append({"from": order[-1], "to": "END"})
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "token": {"type": "string", "default": ""},
            "marks": {"type": "string", "default": ""},
            "delays": {
                "type": "object",
                "default": {label: 0.0 for label in labels},
            },
            "trail": {"type": "array", "items": {"type": "string"}, "reducer": "extend"},
            "review": {"type": "object", "nullable": True},
        },
        "input": ["token", "marks", "delays"],
        "output": ["trail", "review"],
        "nodes": nodes,
        "edges": edges,
        "limits": {"max_steps": 50},
    }


def options_probe(workflow_id: str = "svc-options") -> dict[str, Any]:
    """One ``svc.options`` node writing what it saw of config and context to ``seen``."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "token": {"type": "string", "default": ""},
            "seen": {"type": "object", "nullable": True},
        },
        "input": ["token"],
        "output": ["seen"],
        "nodes": {"probe": {"kind": "function", "ref": "svc.options"}},
        "edges": [{"from": "START", "to": "probe"}, {"from": "probe", "to": "END"}],
    }
