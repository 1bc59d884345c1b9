"""graphwright: JSON workflows compiled to LangGraph, run durably on PostgreSQL.

The public API::

    from graphwright import Engine, Registry, WorkflowSpec

    registry = Registry()

    @registry.function("discovery.classify_asset")
    async def classify_asset(item: dict) -> dict: ...

    @registry.crew("discovery.dependency_crew")     # needs graphwright[crew]
    def dependency_crew(inputs: dict) -> "crewai.Crew": ...

    async with Engine.from_settings(registry=registry) as engine:
        await engine.publish(WorkflowSpec.model_validate_json(text))
        result = await engine.run("asset-discovery", input={...})

Importing the package is cheap: each public name is imported from its module on
first access (PEP 562), so ``import graphwright.client`` or the CLI's ``--help`` do
not load LangGraph, the database driver or the checkpointer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphwright.errors import (
        ApprovalError,
        ConfigurationError,
        GraphwrightError,
        InvalidInputError,
        NodeExecutionError,
        NotFoundError,
        Problem,
        RegistryError,
        RunStateError,
        WorkflowConflictError,
        WorkflowValidationError,
    )
    from graphwright.graphs.compiler import CompiledWorkflow, compile_workflow
    from graphwright.graphs.render import render_json, render_mermaid
    from graphwright.graphs.spec import WorkflowSpec
    from graphwright.graphs.validate import check_workflow, validate_workflow
    from graphwright.nodes.context import RunContext
    from graphwright.nodes.progress import progress
    from graphwright.registry import LLMConfig, RateLimit, Registry, load_registry_modules
    from graphwright.runtime.engine import Engine
    from graphwright.runtime.results import (
        CheckpointSummary,
        PendingApproval,
        RunEvent,
        RunResult,
        ThreadState,
    )
    from graphwright.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ApprovalError",
    "CheckpointSummary",
    "CompiledWorkflow",
    "ConfigurationError",
    "Engine",
    "GraphwrightError",
    "InvalidInputError",
    "LLMConfig",
    "NodeExecutionError",
    "NotFoundError",
    "PendingApproval",
    "Problem",
    "RateLimit",
    "Registry",
    "RegistryError",
    "RunContext",
    "RunEvent",
    "RunResult",
    "RunStateError",
    "Settings",
    "ThreadState",
    "WorkflowConflictError",
    "WorkflowSpec",
    "WorkflowValidationError",
    "__version__",
    "check_workflow",
    "compile_workflow",
    "load_registry_modules",
    "progress",
    "render_json",
    "render_mermaid",
    "validate_workflow",
]

# Public name -> the module that defines it (keep in step with the TYPE_CHECKING block).
_SOURCES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ApprovalError",
            "ConfigurationError",
            "GraphwrightError",
            "InvalidInputError",
            "NodeExecutionError",
            "NotFoundError",
            "Problem",
            "RegistryError",
            "RunStateError",
            "WorkflowConflictError",
            "WorkflowValidationError",
        ),
        "graphwright.errors",
    ),
    "CompiledWorkflow": "graphwright.graphs.compiler",
    "compile_workflow": "graphwright.graphs.compiler",
    "render_json": "graphwright.graphs.render",
    "render_mermaid": "graphwright.graphs.render",
    "WorkflowSpec": "graphwright.graphs.spec",
    "check_workflow": "graphwright.graphs.validate",
    "validate_workflow": "graphwright.graphs.validate",
    "progress": "graphwright.nodes.progress",
    "RunContext": "graphwright.nodes.context",
    "LLMConfig": "graphwright.registry",
    "RateLimit": "graphwright.registry",
    "Registry": "graphwright.registry",
    "load_registry_modules": "graphwright.registry",
    "Engine": "graphwright.runtime.engine",
    **dict.fromkeys(
        ("CheckpointSummary", "PendingApproval", "RunEvent", "RunResult", "ThreadState"),
        "graphwright.runtime.results",
    ),
    "Settings": "graphwright.settings",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access, then keep it here."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
