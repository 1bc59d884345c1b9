"""Allow-listed node implementations; see :class:`Registry`."""

from graphwright.registry.llms import LLMConfig, register_llms
from graphwright.registry.rate_limits import RateLimit, parse_rate_limit, parse_rate_limits
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
    "RateLimit",
    "Registry",
    "ToolEntry",
    "load_registry_modules",
    "parse_rate_limit",
    "parse_rate_limits",
    "register_llms",
]
