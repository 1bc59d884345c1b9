"""Allow-listed node implementations; see :class:`Registry`."""

from graphwright.registry.registry import FunctionEntry, Registry, load_registry_modules

__all__ = ["FunctionEntry", "Registry", "load_registry_modules"]
