"""Example workflows (JSON documents in this directory) and their node implementations.

This is the default entry of ``GW_REGISTRY_MODULES``: :func:`register` adds every
example function (and the asset-discovery crew) to a registry, so
``graphwright run examples/<name>.json`` finds them. Registering the crew does not
import crewai; running it does (``pip install 'graphwright[crew]'``).
:func:`load_examples` and :func:`resolve_example` read the documents, for
tests and for resolving the examples' subworkflows without a database.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from graphwright.examples.discovery import register_discovery
from graphwright.examples.review import register_review
from graphwright.examples.triage import register_triage
from graphwright.graphs.spec import WorkflowSpec
from graphwright.registry import Registry

__all__ = ["example_documents", "load_examples", "register", "resolve_example"]


def register(registry: Registry) -> None:
    """Register the functions and crews of every example workflow in ``registry``.

    Raises:
        RegistryError: ``registry.duplicate_name`` when a name is already taken.
    """
    register_discovery(registry)
    register_triage(registry)
    register_review(registry)


def example_documents() -> dict[str, dict[str, Any]]:
    """Return every example document (parsed JSON) by file name, sorted."""
    return {name: json.loads(text) for name, text in _texts()}


def load_examples() -> dict[str, WorkflowSpec]:
    """Return every example document as a spec (structure only, not validated), by id."""
    return dict(_specs())


def resolve_example(workflow_id: str, version: int | None = None) -> WorkflowSpec | None:
    """A :data:`~graphwright.graphs.validate.WorkflowResolver` over the examples.

    Examples have no versions, so ``version`` is ignored. Returns ``None`` for an
    id that is not an example.
    """
    return dict(_specs()).get(workflow_id)


def _texts() -> list[tuple[str, str]]:
    # Read on every call (a few small files): nothing is cached between callers.
    files = resources.files(__name__)
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in files.iterdir()
        if entry.name.endswith(".json")
    )


def _specs() -> list[tuple[str, WorkflowSpec]]:
    specs = [WorkflowSpec.model_validate_json(text) for _, text in _texts()]
    return sorted(((spec.id, spec) for spec in specs), key=lambda pair: pair[0])
