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
"""

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
from graphwright.nodes.progress import progress
from graphwright.registry import LLMConfig, Registry, load_registry_modules
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
    "Registry",
    "RegistryError",
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
