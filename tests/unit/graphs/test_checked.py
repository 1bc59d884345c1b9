"""CheckedWorkflow: validated once, compiled without validating again; stored versions rechecked
only for what may have changed since they were published."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphwright.errors import WorkflowValidationError
from graphwright.graphs import validate
from graphwright.graphs.checked import CheckedWorkflow, check_document, check_published
from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.spec import SubworkflowNodeSpec, WorkflowSpec
from graphwright.nodes.context import RunContext
from graphwright.registry import Registry

from ..crew.helpers import crew_document, crew_registry
from ..factories import apply

CHILD: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "child",
    "state": {"x": {"type": "integer"}, "y": {"type": "integer", "nullable": True}},
    "input": ["x"],
    "output": ["y"],
    "nodes": {
        "double": {"kind": "function", "ref": "t.double", "inputs": {"x": "state.x"}, "writes": "y"}
    },
    "edges": [{"from": "START", "to": "double"}, {"from": "double", "to": "END"}],
}

PARENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "parent",
    "state": {"n": {"type": "integer"}, "doubled": {"type": "integer", "nullable": True}},
    "input": ["n"],
    "nodes": {
        "prep": {"kind": "function", "ref": "t.inc", "inputs": {"n": "state.n"}, "writes": "n"},
        "call": {
            "kind": "subworkflow",
            "workflow": "child",
            "inputs": {"x": "state.n"},
            "outputs": {"doubled": "y"},
        },
    },
    "edges": [
        {"from": "START", "to": "prep"},
        {"from": "prep", "to": "call"},
        {"from": "call", "to": "END"},
    ],
}

CHILD_SPEC = WorkflowSpec.model_validate(CHILD)
SUBWORKFLOWS = {("child", None): CHILD_SPEC}


class SpyRegistry(Registry):
    """A registry recording every function name looked up with ``has_function``."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[str] = []

    def has_function(self, name: str) -> bool:
        self.looked_up.append(name)
        return super().has_function(name)


def registry_of(**functions: Callable[..., Any]) -> SpyRegistry:
    """A spy registry with ``t.<name>`` for each keyword."""
    registry = SpyRegistry()
    for name, func in functions.items():
        registry.add_function(f"t.{name}", func)
    return registry


def changed(document: dict[str, Any], *changes: tuple[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with ``(pointer, value)`` changes applied."""
    return apply(copy.deepcopy(document), *changes)


def full_registry() -> SpyRegistry:
    """The functions ``PARENT`` and ``CHILD`` run."""
    return registry_of(inc=lambda n: n + 1, double=lambda x: x * 2)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the documents ``check_workflow`` (every full validation) runs on, in order."""
    calls: list[str] = []
    real = validate.check_workflow

    def counting(data: Any, **options: Any) -> Any:
        calls.append(data.id if isinstance(data, WorkflowSpec) else str(data.get("id")))
        return real(data, **options)

    monkeypatch.setattr(validate, "check_workflow", counting)
    return calls


def checked_parent(registry: Registry) -> CheckedWorkflow:
    """``PARENT`` checked against ``registry`` and ``CHILD``."""
    checked, problems = check_document(PARENT, registry=registry, subworkflows=SUBWORKFLOWS)
    assert checked is not None, problems
    return checked


async def test_compile_of_checked_workflow_does_not_validate_again(
    validations: list[str],
) -> None:
    """Compiling a CheckedWorkflow runs no validation; only the child's names are looked up."""
    registry = full_registry()
    checked = checked_parent(registry)
    assert validations == ["parent"]
    registry.looked_up.clear()

    compiled = compile_workflow(checked, registry=registry)

    assert validations == ["parent"]
    assert registry.looked_up == ["t.double"]
    result = await compiled.graph(InMemorySaver()).ainvoke(
        compiled.make_input({"n": 4}), {"configurable": {"thread_id": "t"}}, context=RunContext()
    )
    assert compiled.output(result) == {"n": 5, "doubled": 10}


def test_compile_of_raw_document_validates_it_and_its_subworkflows(
    validations: list[str],
) -> None:
    """compile_workflow(document, resolve=...) validates the document and each subworkflow."""
    compile_workflow(
        PARENT, registry=full_registry(), resolve=lambda wid, v: SUBWORKFLOWS.get((wid, v))
    )

    assert validations == ["parent", "child"]


def test_checked_workflow_only_comes_from_checking() -> None:
    """Making a CheckedWorkflow directly raises TypeError."""
    with pytest.raises(TypeError):
        CheckedWorkflow(object(), CHILD_SPEC, full_registry(), {})


def test_invalid_document_gives_no_checked_workflow() -> None:
    """check_document returns None and every problem for an invalid document."""
    checked, problems = check_document(
        changed(PARENT, ("/nodes/call/workflow", "nope")), registry=full_registry(), subworkflows={}
    )

    assert checked is None
    assert [(p.code, p.pointer) for p in problems] == [
        ("subworkflow.unknown", "/nodes/call/workflow")
    ]


def test_compile_refuses_resolve_with_checked_workflow() -> None:
    """A CheckedWorkflow carries its subworkflows, so passing resolve too is a TypeError."""
    registry = full_registry()
    with pytest.raises(TypeError):
        compile_workflow(checked_parent(registry), registry=registry, resolve=lambda w, v: None)


def test_compile_checks_subworkflow_names() -> None:
    """A subworkflow whose function is not registered fails compile with its workflow id."""
    registry = registry_of(inc=lambda n: n + 1)
    checked = checked_parent(registry)

    with pytest.raises(WorkflowValidationError) as info:
        compile_workflow(checked, registry=registry)

    assert [(p.code, p.pointer) for p in info.value.problems] == [
        ("registry.unknown_name", "/nodes/double/ref")
    ]
    assert info.value.details["workflow_id"] == "child"


def test_compile_with_another_registry_checks_names_again() -> None:
    """Compiling with a registry other than the one checked against rechecks the names."""
    checked = checked_parent(full_registry())

    with pytest.raises(WorkflowValidationError) as info:
        compile_workflow(checked, registry=registry_of(double=lambda x: x * 2))

    assert [(p.code, p.pointer) for p in info.value.problems] == [
        ("registry.unknown_name", "/nodes/prep/ref")
    ]


def test_pinned_keeps_resolving_the_checked_subworkflow() -> None:
    """pinned() pins unpinned children to the given versions and still compiles them."""
    registry = full_registry()

    pinned = checked_parent(registry).pinned({"child": 3})
    compiled = compile_workflow(pinned, registry=registry)

    node = pinned.spec.nodes["call"]
    assert isinstance(node, SubworkflowNodeSpec)
    assert node.version == 3
    assert set(compiled.subworkflows) == {("child", 3)}


def _needs_extra(x: int, extra: int) -> int:
    return x + extra


@pytest.mark.parametrize(
    ("document", "registry"),
    [
        pytest.param(PARENT, registry_of(double=lambda x: x), id="function-removed"),
        pytest.param(
            PARENT,
            registry_of(inc=_needs_extra, double=lambda x: x),
            id="signature-changed",
        ),
        pytest.param(
            changed(PARENT, ("/nodes/call/workflow", "gone")),
            full_registry(),
            id="subworkflow-missing",
        ),
        pytest.param(
            {
                **CHILD,
                "state": {**CHILD["state"], "ys": {"type": "array", "reducer": "append"}},
                "nodes": {
                    "double": {
                        "kind": "map",
                        "over": "[state.x]",
                        "node": {"kind": "function", "ref": "t.double", "writes": "ys"},
                    }
                },
            },
            registry_of(inc=lambda n: n),
            id="map-function-removed",
        ),
        pytest.param(
            crew_document({"kind": "crew", "ref": "demo.gone", "inputs": {"topic": "state.topic"}}),
            crew_registry(),
            id="crew-removed",
        ),
        pytest.param(
            apply(crew_document(), ("/nodes/analyse/crew/agents/researcher/llm", "gone")),
            crew_registry(),
            id="llm-removed",
        ),
        pytest.param(
            apply(crew_document(), ("/nodes/analyse/crew/agents/researcher/tools/0", "demo.gone")),
            crew_registry(),
            id="tool-removed",
        ),
        pytest.param(
            apply(
                crew_document(),
                ("/nodes/analyse/crew/process", "hierarchical"),
                ("/nodes/analyse/crew/manager_llm", "gone"),
            ),
            crew_registry(),
            id="manager-llm-removed",
        ),
    ],
)
def test_check_published_reports_what_full_validation_reports(
    document: dict[str, Any], registry: Registry
) -> None:
    """For a change outside the document, check_published gives check_workflow's exact problems."""
    spec = WorkflowSpec.model_validate(document)
    subworkflows = {**SUBWORKFLOWS, ("child", 1): CHILD_SPEC}
    expected = validate.check_workflow(
        spec, registry=registry, resolve=lambda wid, v: subworkflows.get((wid, v))
    )[1]

    checked, problems = check_published(spec, registry=registry, subworkflows=subworkflows)

    assert checked is None
    assert expected
    assert problems == expected


def test_check_published_accepts_an_unchanged_version() -> None:
    """A stored version whose names are all registered checks clean and compiles."""
    registry = full_registry()
    spec = checked_parent(registry).pinned({"child": 1}).spec

    checked, problems = check_published(
        spec, registry=registry, subworkflows={("child", 1): CHILD_SPEC}
    )

    assert problems == []
    assert checked is not None
    assert set(compile_workflow(checked, registry=registry).subworkflows) == {("child", 1)}
