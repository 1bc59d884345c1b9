"""Allow-listed node implementations; see :class:`Registry`."""

from graphwright.registry.llms import LLMConfig, register_llms
from graphwright.registry.registry import (
    CrewEntry,
    FunctionEntry,
    Registry,
    ToolEntry,
    load_registry_modules,
)

__all__ = [
    "CrewEntry",
    "FunctionEntry",
    "LLMConfig",
    "Registry",
    "ToolEntry",
    "load_registry_modules",
    "register_llms",
]
