"""A node's ``rate_limit`` must name a declared limit: checked with a pointer and a suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from graphwright.graphs.bindings import check_bindings
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import check_workflow
from graphwright.registry import Registry

from ..factories import apply, demo_registry, resolver, valid_document, workflow


def limited_registry() -> Registry:
    """The demo registry with the limits crm_api and llm declared."""
    registry = demo_registry()
    registry.add_rate_limit("crm_api", "10/second burst 20")
    registry.add_rate_limit("llm", "100/minute per tenant")
    return registry


def problems(doc: dict[str, Any], registry: Registry | None) -> list[tuple[str, str, str | None]]:
    """(code, pointer, suggestion) of every problem of ``doc``."""
    _, found = check_workflow(doc, registry=registry)
    return [(p.code, p.pointer, p.suggestion) for p in found]


def test_declared_limits_validate() -> None:
    """Function and map-item nodes naming declared limits have no problems."""
    doc = apply(
        valid_document(),
        ("/nodes/write/rate_limit", "crm_api"),
        ("/nodes/score/node/rate_limit", "llm"),
    )
    assert problems(doc, limited_registry()) == []
    spec = WorkflowSpec.model_validate(doc)
    assert spec.nodes["write"].rate_limit == "crm_api"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("where", "name", "pointer", "suggestion"),
    [
        ("/nodes/write/rate_limit", "crm_apl", "/nodes/write/rate_limit", "crm_api"),
        ("/nodes/score/node/rate_limit", "lm", "/nodes/score/node/rate_limit", "llm"),
        ("/nodes/write/rate_limit", "billing", "/nodes/write/rate_limit", None),
    ],
    ids=["function-typo", "map-item-typo", "nothing-close"],
)
def test_unknown_limit_is_a_problem(
    where: str, name: str, pointer: str, suggestion: str | None
) -> None:
    """An undeclared name is rate_limit.unknown at the node's /rate_limit, with the nearest name."""
    doc = apply(valid_document(), (where, name))
    assert problems(doc, limited_registry()) == [("rate_limit.unknown", pointer, suggestion)]
    _, found = check_workflow(doc, registry=limited_registry())
    assert "declared: crm_api, llm" in found[0].message


def test_no_limits_declared_says_where_to_declare() -> None:
    """With no limit declared, the message says so and names GW_RATE_LIMITS."""
    doc = apply(valid_document(), ("/nodes/write/rate_limit", "crm_api"))
    _, found = check_workflow(doc, registry=demo_registry())
    assert [p.code for p in found] == ["rate_limit.unknown"]
    assert "none is declared" in found[0].message
    assert "GW_RATE_LIMITS" in found[0].message


def test_without_a_registry_names_are_not_checked() -> None:
    """Validation without a registry (shape only) accepts any well-formed name."""
    doc = apply(valid_document(), ("/nodes/write/rate_limit", "anything"))
    assert problems(doc, None) == []


@pytest.mark.parametrize(
    ("where", "value", "code"),
    [
        ("/nodes/write/rate_limit", "Not A Name", "dsl.invalid_name"),
        ("/nodes/approve/rate_limit", "crm_api", "dsl.unknown_key"),
        ("/nodes/score/rate_limit", "crm_api", "dsl.unknown_key"),
        ("/nodes/write/ratelimit", "crm_api", "dsl.unknown_key"),
    ],
    ids=["malformed-name", "on-approval", "on-map-itself", "misspelt-key"],
)
def test_rate_limit_shape(where: str, value: str, code: str) -> None:
    """rate_limit is a registry-style name on function, crew and subworkflow nodes only."""
    doc = apply(valid_document(), (where, value))
    found = problems(doc, limited_registry())
    assert [(c, p) for c, p, _ in found] == [(code, where)]
    if where.endswith("/ratelimit"):
        assert found[0][2] == "rate_limit"


def test_subworkflow_node_limit_is_checked() -> None:
    """A subworkflow node's rate_limit is checked like a function node's."""
    parent = workflow("parent", "child", inputs={"x": "state.x"}, rate_limit="crm_apl")
    children = resolver({"child": workflow("child")})
    _, found = check_workflow(parent, registry=limited_registry(), resolve=children)
    assert [(p.code, p.pointer, p.suggestion) for p in found] == [
        ("rate_limit.unknown", "/nodes/step/rate_limit", "crm_api")
    ]


def test_loading_a_stored_version_rechecks_the_limit() -> None:
    """A published version whose limit is no longer declared fails the load-time check."""
    doc = apply(valid_document(), ("/nodes/score/node/rate_limit", "llm"))
    spec = WorkflowSpec.model_validate(doc)
    assert check_bindings(spec, registry=limited_registry(), resolve=resolver({})) == []
    found = check_bindings(spec, registry=demo_registry(), resolve=resolver({}))
    assert [(p.code, p.pointer) for p in found] == [
        ("rate_limit.unknown", "/nodes/score/node/rate_limit")
    ]
