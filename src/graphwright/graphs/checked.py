"""CheckedWorkflow: a workflow validated once, which compile accepts without validating again.

A document is validated once. Publishing checks the whole document
(:func:`check_document`); loading a stored version, which was checked when it
was published and never changes, checks only what may have changed since
(:func:`check_published`: registered names and installed packages). Only
these two functions make a :class:`CheckedWorkflow`, so holding one means its
document passed one of them against its registry and the subworkflows it carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from graphwright.errors import Problem
from graphwright.graphs import validate
from graphwright.graphs.bindings import WorkflowResolver, check_bindings
from graphwright.graphs.pins import pin_subworkflows
from graphwright.graphs.spec import WorkflowSpec
from graphwright.registry import Registry

__all__ = ["CheckedWorkflow", "SubworkflowSpecs", "check_document", "check_published"]

SubworkflowSpecs = Mapping[tuple[str, int | None], WorkflowSpec]
"""Published workflows by ``(workflow id, version)``; version ``None`` is the latest."""

_SEAL = object()


class CheckedWorkflow:
    """A workflow document checked against a registry and the subworkflows it runs.

    Made only by :func:`check_document` and :func:`check_published`;
    :func:`~graphwright.graphs.compiler.compile_workflow` compiles it without
    validating it again.
    """

    __slots__ = ("_registry", "_spec", "_subworkflows")

    def __init__(
        self, seal: object, spec: WorkflowSpec, registry: Registry, subworkflows: SubworkflowSpecs
    ) -> None:
        """Not for callers: use :func:`check_document` or :func:`check_published`."""
        if seal is not _SEAL:
            raise TypeError("a CheckedWorkflow comes from check_document or check_published")
        self._spec = spec
        self._registry = registry
        self._subworkflows: SubworkflowSpecs = MappingProxyType(dict(subworkflows))

    # Read-only, so a checked value cannot be given another document after the check.
    @property
    def spec(self) -> WorkflowSpec:
        """The checked document."""
        return self._spec

    @property
    def registry(self) -> Registry:
        """The registry its function, crew, tool and LLM names were checked in."""
        return self._registry

    @property
    def subworkflows(self) -> SubworkflowSpecs:
        """The published workflows it was checked against, by ``(id, version)``.

        Every one it runs, directly or through other subworkflows. They were
        validated when published; compiling checks only their registry names.
        """
        return self._subworkflows

    def __repr__(self) -> str:
        keys = sorted(self.subworkflows, key=str)
        return f"CheckedWorkflow({self.spec.id!r}, subworkflows={keys})"

    def resolve(self, workflow_id: str, version: int | None) -> WorkflowSpec | None:
        """The subworkflow ``workflow_id`` at ``version`` it was checked against, if any."""
        return self.subworkflows.get((workflow_id, version))

    def pinned(self, latest: Mapping[str, int]) -> CheckedWorkflow:
        """This workflow with each unpinned subworkflow pinned to ``latest[id]``.

        Still checked: ``latest`` names the versions the unpinned references
        resolved to when it was checked, so each pinned reference resolves to
        the same document (see :func:`~graphwright.graphs.pins.pin_subworkflows`).
        """
        specs = dict(self.subworkflows)
        for (workflow_id, version), child in self.subworkflows.items():
            if version is None and workflow_id in latest:
                specs.setdefault((workflow_id, latest[workflow_id]), child)
        return CheckedWorkflow(_SEAL, pin_subworkflows(self.spec, latest), self.registry, specs)


def check_document(
    data: Any, *, registry: Registry, subworkflows: SubworkflowSpecs | None = None
) -> tuple[CheckedWorkflow | None, list[Problem]]:
    """Validate a whole document once and return ``(checked or None, problems)``.

    Never raises for a bad document.

    Args:
        data: The document: JSON text, mapping, or a spec from
            :func:`~graphwright.graphs.validate.parse_workflow` (not parsed again).
        registry: Function, crew, tool and LLM names are checked in it.
        subworkflows: Published workflows the document may run, by ``(id,
            version)`` (``None`` for the latest), including their own subworkflows.
            ``None`` skips subworkflow checks (compiling then refuses subworkflow nodes).
    """
    specs = dict(subworkflows or {})
    resolve = None if subworkflows is None else _resolver(specs)
    # Through the module: validation has one entry point, which tests can count.
    spec, problems = validate.check_workflow(data, registry=registry, resolve=resolve)
    if spec is None:
        return None, problems
    return CheckedWorkflow(_SEAL, spec, registry, specs), problems


def check_published(
    spec: WorkflowSpec, *, registry: Registry, subworkflows: SubworkflowSpecs
) -> tuple[CheckedWorkflow | None, list[Problem]]:
    """Check a stored version for what may have changed since it was published.

    A published version was validated in full by :func:`check_document`, and
    neither it nor its pinned subworkflows change. The registry and the
    installed packages may: this checks only the document's registered names
    (and function signatures), crewai for crew nodes, and that its subworkflows
    are among ``subworkflows``, with the codes full validation uses
    (``registry.unknown_name``, ``crew.not_installed``, ``subworkflow.unknown``, ...).

    Args:
        spec: A document that passed :func:`check_document` (a stored version).
        registry: The registry it will run with.
        subworkflows: Its published subworkflows (and theirs), by ``(id, version)``.

    Returns:
        ``(checked, [])``, or ``(None, problems)``.
    """
    specs = dict(subworkflows)
    problems = check_bindings(spec, registry=registry, resolve=_resolver(specs))
    if problems:
        return None, problems
    return CheckedWorkflow(_SEAL, spec, registry, specs), []


def _resolver(specs: SubworkflowSpecs) -> WorkflowResolver:
    def resolve(workflow_id: str, version: int | None) -> WorkflowSpec | None:
        return specs.get((workflow_id, version))

    return resolve
