"""The registry: the only way a workflow document reaches Python code.

A document names entries by dotted name (``discovery.classify_asset``). Only
names registered here resolve; a document can never name an import path.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from graphwright.errors import ConfigurationError, RegistryError

__all__ = ["FunctionEntry", "Registry", "load_registry_modules"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class FunctionEntry:
    """A registered function.

    Attributes:
        name: Dotted registry name.
        func: The callable (sync or async).
        is_async: Whether calling it returns an awaitable.
        parameters: Names of its parameters; graphwright passes the ones it knows
            (``state``, ``item``, ``index`` and the node's ``inputs``).
        accepts_any: Whether it takes ``**kwargs``.
        required: Parameters without a default value.
    """

    name: str
    func: Callable[..., Any]
    is_async: bool
    parameters: tuple[str, ...]
    accepts_any: bool
    required: tuple[str, ...]


class Registry:
    """Allow-list of node implementations, passed by value (there is no global one).

    Example:
        >>> registry = Registry()
        >>> @registry.function("demo.double")
        ... def double(item: int) -> int:
        ...     return item * 2
    """

    def __init__(self) -> None:
        self._functions: dict[str, FunctionEntry] = {}

    def function(self, name: str) -> Callable[[F], F]:
        """Decorator registering a sync or async function under ``name``.

        Raises:
            RegistryError: ``registry.invalid_name`` or ``registry.duplicate_name``.
        """

        def decorator(func: F) -> F:
            self.add_function(name, func)
            return func

        return decorator

    def add_function(self, name: str, func: Callable[..., Any]) -> FunctionEntry:
        """Register ``func`` under ``name`` and return its entry.

        Raises:
            RegistryError: ``registry.invalid_name`` for a name outside
                ``^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$``, ``registry.duplicate_name``
                when the name is taken, ``registry.not_callable`` for a non-callable.
        """
        self._check_name(name)
        if not callable(func):
            raise RegistryError(f"'{name}' is not callable", code="registry.not_callable")
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError) as exc:
            raise RegistryError(
                f"'{name}': cannot read the function's signature ({exc})",
                code="registry.bad_signature",
            ) from exc
        params = signature.parameters.values()
        positional_only = [p.name for p in params if p.kind is p.POSITIONAL_ONLY]
        if positional_only:
            raise RegistryError(
                f"'{name}': positional-only parameters are not supported ({positional_only})",
                code="registry.bad_signature",
            )
        entry = FunctionEntry(
            name=name,
            func=func,
            is_async=inspect.iscoroutinefunction(func)
            or inspect.iscoroutinefunction(getattr(func, "__call__", None)),  # noqa: B004
            parameters=tuple(
                p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ),
            accepts_any=any(p.kind is p.VAR_KEYWORD for p in params),
            required=tuple(
                p.name
                for p in params
                if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ),
        )
        self._functions[name] = entry
        return entry

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise RegistryError(
                f"invalid registry name {name!r}: use dotted lower-case names like 'team.task'",
                code="registry.invalid_name",
            )
        if name in self._functions:
            raise RegistryError(f"'{name}' is already registered", code="registry.duplicate_name")

    def get_function(self, name: str) -> FunctionEntry:
        """Return the entry registered as ``name``.

        Raises:
            RegistryError: ``registry.unknown_name``.
        """
        try:
            return self._functions[name]
        except KeyError:
            raise RegistryError(
                f"no function is registered as '{name}'", code="registry.unknown_name"
            ) from None

    def has_function(self, name: str) -> bool:
        """Whether ``name`` is a registered function."""
        return name in self._functions

    def function_names(self) -> list[str]:
        """Registered function names, sorted."""
        return sorted(self._functions)

    def merge(self, other: Registry) -> None:
        """Add every entry of ``other``.

        Raises:
            RegistryError: ``registry.duplicate_name`` on a clash.
        """
        for name, entry in other._functions.items():
            self._check_name(name)
            self._functions[name] = entry

    def __len__(self) -> int:
        return len(self._functions)


def load_registry_modules(modules: Iterable[str], registry: Registry | None = None) -> Registry:
    """Fill a registry from operator-configured modules.

    Each item is a module name (``myteam.nodes``) or a path to a ``.py`` file. The
    module must define ``register(registry: Registry) -> None``. These names come
    from settings or the command line, never from a workflow document.

    Raises:
        ConfigurationError: ``config.registry_module`` when a module cannot be
            imported or has no ``register`` function.
    """
    registry = registry if registry is not None else Registry()
    for item in modules:
        module = _import(item)
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigurationError(
                f"registry module '{item}' has no register(registry) function",
                code="config.registry_module",
            )
        register(registry)
    return registry


def _import(item: str) -> Any:
    try:
        if item.endswith(".py"):
            path = Path(item).resolve()
            name = f"graphwright_registry_{path.stem}_{abs(hash(str(path)))}"
            if name in sys.modules:
                return sys.modules[name]
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]  # a failed load must not be served from the cache
                raise
            return module
        return importlib.import_module(item)
    except Exception as exc:  # the module's own code may raise anything: report it coded
        raise ConfigurationError(
            f"cannot import registry module '{item}': {exc}", code="config.registry_module"
        ) from exc
