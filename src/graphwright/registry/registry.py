"""The registry: the only way a workflow document reaches Python code.

A document names entries by dotted name (``discovery.classify_asset``). Only
names registered here resolve; a document can never name an import path.
Besides functions, it holds CrewAI crew factories, the tools inline crews may
give their agents, and the LLMs they may use (named here, never configured in
a document). Registering crews, tools or LLMs never imports ``crewai``. It also
holds the named rate limits nodes may wait on (``"rate_limit": "crm_api"``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from graphwright.errors import ConfigurationError, RegistryError
from graphwright.registry.llms import apply_crewai_privacy_defaults, register_llms
from graphwright.registry.rate_limits import RateLimit, parse_rate_limit

if TYPE_CHECKING:
    from graphwright.registry.llms import LLMConfig

__all__ = ["CrewEntry", "FunctionEntry", "Registry", "ToolEntry", "load_registry_modules"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["function", "crew", "tool", "llm", "rate_limit"]


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


@dataclass(frozen=True)
class CrewEntry:
    """A registered crew factory.

    Attributes:
        name: Dotted registry name.
        factory: Returns a new ``crewai.Crew`` on every call (it is called once per
            node execution, in a worker thread).
        takes_inputs: Whether the factory has an ``inputs`` parameter; then it is
            called with the node's evaluated inputs (a dict).
    """

    name: str
    factory: Callable[..., Any]
    takes_inputs: bool


@dataclass(frozen=True)
class ToolEntry:
    """A tool inline crews may give their agents.

    Attributes:
        name: Dotted registry name (what documents write).
        tool: A documented function (made a crewai tool named ``tool_name`` when a
            crew is built) or a ready ``crewai.tools.BaseTool`` instance (copied per crew).
        tool_name: The name the LLM sees: the registry name with ``.`` as ``_``, or
            the ``BaseTool``'s own name.
    """

    name: str
    tool: Any
    tool_name: str

    @property
    def is_function(self) -> bool:
        """Whether ``tool`` is a plain function (else a ``BaseTool`` instance)."""
        return inspect.isfunction(self.tool) or inspect.ismethod(self.tool)


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
        self._crews: dict[str, CrewEntry] = {}
        self._tools: dict[str, ToolEntry] = {}
        self._llms: dict[str, Callable[[], Any]] = {}
        self._rate_limits: dict[str, RateLimit] = {}

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

    # -- crews, tools, LLMs ---------------------------------------------------------------

    def crew(self, name: str) -> Callable[[F], F]:
        """Decorator registering a crew factory under ``name``.

        The factory returns a new ``crewai.Crew`` each time it is called: once per
        execution of a ``crew`` node, in a worker thread. With a parameter named
        ``inputs`` it receives the node's evaluated ``inputs``; the crew is also
        kicked off with them (crewai fills ``{name}`` placeholders of tasks and agents).

        Raises:
            RegistryError: ``registry.invalid_name``, ``registry.duplicate_name``,
                ``registry.not_callable`` or ``registry.bad_signature``.
        """

        def decorator(factory: F) -> F:
            self.add_crew(name, factory)
            return factory

        return decorator

    def add_crew(self, name: str, factory: Callable[..., Any]) -> CrewEntry:
        """Register a crew factory (see :meth:`crew`) and return its entry.

        Raises:
            RegistryError: as :meth:`crew`.
        """
        self._check_name(name, "crew")
        if not callable(factory):
            raise RegistryError(f"'{name}' is not callable", code="registry.not_callable")
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError) as exc:
            raise RegistryError(
                f"'{name}': cannot read the factory's signature ({exc})",
                code="registry.bad_signature",
            ) from exc
        required = [
            p.name
            for p in parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if [p for p in required if p != "inputs"]:
            raise RegistryError(
                f"'{name}': a crew factory takes no arguments or only 'inputs' (it takes "
                f"{', '.join(required)})",
                code="registry.bad_signature",
            )
        entry = CrewEntry(name=name, factory=factory, takes_inputs="inputs" in parameters)
        self._crews[name] = entry
        return entry

    def has_crew(self, name: str) -> bool:
        """Whether ``name`` is a registered crew factory."""
        return name in self._crews

    def get_crew(self, name: str) -> CrewEntry:
        """Return the crew factory registered as ``name``.

        Raises:
            RegistryError: ``registry.unknown_name``.
        """
        try:
            return self._crews[name]
        except KeyError:
            raise RegistryError(
                f"no crew is registered as '{name}'", code="registry.unknown_name"
            ) from None

    def crew_names(self) -> list[str]:
        """Registered crew names, sorted."""
        return sorted(self._crews)

    def tool(self, name: str) -> Callable[[F], F]:
        """Decorator registering a documented function as a tool for inline crews.

        The docstring is the description the LLM reads; parameters need type hints.

        Raises:
            RegistryError: ``registry.invalid_name``, ``registry.duplicate_name`` or
                ``registry.invalid_tool``.
        """

        def decorator(func: F) -> F:
            self.add_tool(name, func)
            return func

        return decorator

    def add_tool(self, name: str, tool: Any) -> ToolEntry:
        """Register a documented function or a ``crewai.tools.BaseTool`` instance.

        Raises:
            RegistryError: as :meth:`tool`.
        """
        self._check_name(name, "tool")
        if inspect.isfunction(tool) or inspect.ismethod(tool):
            if not (tool.__doc__ or "").strip():
                raise RegistryError(
                    f"tool '{name}' needs a docstring: it is the description the LLM reads",
                    code="registry.invalid_tool",
                )
            entry = ToolEntry(name=name, tool=tool, tool_name=name.replace(".", "_"))
        elif callable(getattr(tool, "run", None)) and isinstance(getattr(tool, "name", None), str):
            entry = ToolEntry(name=name, tool=tool, tool_name=tool.name)
        else:
            raise RegistryError(
                f"tool '{name}' must be a documented function or a crewai BaseTool",
                code="registry.invalid_tool",
            )
        self._tools[name] = entry
        return entry

    def has_tool(self, name: str) -> bool:
        """Whether ``name`` is a registered tool."""
        return name in self._tools

    def get_tool(self, name: str) -> ToolEntry:
        """Return the tool registered as ``name``.

        Raises:
            RegistryError: ``registry.unknown_name``.
        """
        try:
            return self._tools[name]
        except KeyError:
            raise RegistryError(
                f"no tool is registered as '{name}'", code="registry.unknown_name"
            ) from None

    def tool_names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    def llm(self, name: str) -> Callable[[F], F]:
        """Decorator registering an LLM factory for inline crews.

        The factory takes no arguments and returns what ``crewai.Agent(llm=...)``
        accepts (a ``crewai.LLM``/``BaseLLM``). It is called once per crew run for
        each LLM name the crew uses, so token counts are per run.

        Raises:
            RegistryError: ``registry.invalid_name``, ``registry.duplicate_name`` or
                ``registry.not_callable``.
        """

        def decorator(factory: F) -> F:
            self.add_llm(name, factory)
            return factory

        return decorator

    def add_llm(self, name: str, factory: Callable[[], Any]) -> None:
        """Register an LLM factory (see :meth:`llm`).

        Raises:
            RegistryError: as :meth:`llm`.
        """
        self._check_name(name, "llm")
        if not callable(factory):
            raise RegistryError(f"'{name}' is not callable", code="registry.not_callable")
        self._llms[name] = factory

    def has_llm(self, name: str) -> bool:
        """Whether ``name`` is a registered LLM."""
        return name in self._llms

    def get_llm(self, name: str) -> Callable[[], Any]:
        """Return the LLM factory registered as ``name``.

        Raises:
            RegistryError: ``registry.unknown_name``.
        """
        try:
            return self._llms[name]
        except KeyError:
            raise RegistryError(
                f"no LLM is registered as '{name}'", code="registry.unknown_name"
            ) from None

    def llm_names(self) -> list[str]:
        """Registered LLM names, sorted."""
        return sorted(self._llms)

    def add_rate_limit(self, name: str, limit: str | RateLimit) -> RateLimit:
        """Declare the rate limit ``name`` that nodes may name in ``"rate_limit"``.

        ``limit`` is the text form (``"10/second burst 20"``, ``"100/minute per tenant"``;
        see :mod:`graphwright.registry.rate_limits`) or a :class:`RateLimit`. Declaring
        a name again with the same limit does nothing.

        Raises:
            RegistryError: ``registry.invalid_rate_limit`` for a malformed limit,
                ``registry.duplicate_name`` for a name declared with another limit.
        """
        try:
            parsed = parse_rate_limit(name, limit) if isinstance(limit, str) else limit
        except ValueError as exc:
            raise RegistryError(str(exc), code="registry.invalid_rate_limit") from None
        if not isinstance(parsed, RateLimit) or parsed.name != name:
            raise RegistryError(
                f"rate limit '{name}': give the limit as text or a RateLimit named '{name}'",
                code="registry.invalid_rate_limit",
            )
        if self._rate_limits.get(name) == parsed:
            return parsed
        self._check_name(name, "rate_limit")
        self._rate_limits[name] = parsed
        return parsed

    def declare_rate_limits(self, limits: Iterable[RateLimit]) -> None:
        """Declare every limit (from ``GW_RATE_LIMITS``); see :meth:`add_rate_limit`.

        Raises:
            RegistryError: ``registry.duplicate_name`` when a name is already
                declared with another limit.
        """
        for limit in limits:
            self.add_rate_limit(limit.name, limit)

    def has_rate_limit(self, name: str) -> bool:
        """Whether ``name`` is a declared rate limit."""
        return name in self._rate_limits

    def get_rate_limit(self, name: str) -> RateLimit:
        """Return the rate limit declared as ``name``.

        Raises:
            RegistryError: ``registry.unknown_name``.
        """
        try:
            return self._rate_limits[name]
        except KeyError:
            raise RegistryError(
                f"no rate limit is declared as '{name}'", code="registry.unknown_name"
            ) from None

    def rate_limit_names(self) -> list[str]:
        """Declared rate limit names, sorted."""
        return sorted(self._rate_limits)

    def rate_limits(self) -> dict[str, RateLimit]:
        """Every declared rate limit by name (a copy)."""
        return dict(self._rate_limits)

    def _table(self, kind: Kind) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "function": self._functions,
            "crew": self._crews,
            "tool": self._tools,
            "llm": self._llms,
            "rate_limit": self._rate_limits,
        }
        return tables[kind]

    def _check_name(self, name: str, kind: Kind = "function") -> None:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise RegistryError(
                f"invalid registry name {name!r}: use dotted lower-case names like 'team.task'",
                code="registry.invalid_name",
            )
        if name in self._table(kind):
            raise RegistryError(
                f"{kind} '{name}' is already registered", code="registry.duplicate_name"
            )

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
        """Add every entry (functions, crews, tools, LLMs, rate limits) of ``other``.

        A rate limit both declare alike is no clash.

        Raises:
            RegistryError: ``registry.duplicate_name`` on a clash.
        """
        kinds: tuple[Kind, ...] = ("function", "crew", "tool", "llm", "rate_limit")
        for kind in kinds:
            for name, entry in other._table(kind).items():
                if kind != "rate_limit" or self._rate_limits.get(name) != entry:
                    self._check_name(name, kind)
        for kind in kinds:
            self._table(kind).update(other._table(kind))

    def __len__(self) -> int:
        return len(self._functions) + len(self._crews) + len(self._tools) + len(self._llms)


def load_registry_modules(
    modules: Iterable[str],
    registry: Registry | None = None,
    *,
    llms: Mapping[str, LLMConfig | Mapping[str, Any]] | None = None,
    rate_limits: Iterable[RateLimit] = (),
) -> Registry:
    """Fill a registry from operator-configured modules (LLMs and rate limits from settings).

    Each item is a module name (``myteam.nodes``) or a path to a ``.py`` file. The
    module must define ``register(registry: Registry) -> None``. These names come
    from settings or the command line, never from a workflow document. crewai's
    telemetry defaults (:func:`apply_crewai_privacy_defaults`) are set first, as
    modules defining crews often import crewai at their top.

    Raises:
        ConfigurationError: ``config.registry_module`` when a module cannot be
            imported or has no ``register`` function; ``config.invalid_llm``.
        RegistryError: ``registry.duplicate_name`` when two modules register one name.
    """
    registry = registry if registry is not None else Registry()
    apply_crewai_privacy_defaults()
    if llms:
        register_llms(registry, llms)
    registry.declare_rate_limits(rate_limits)
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
