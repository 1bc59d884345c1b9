"""Per-run context handed to nodes through LangGraph's runtime context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from graphwright.redaction import Redactor
from graphwright.state.model import INPUT_CHANNEL

if TYPE_CHECKING:
    from graphwright.nodes.rate_limit import RateLimitGate

__all__ = [
    "RunContext",
    "SecretSource",
    "expression_context",
    "load_secrets",
    "redactor_of",
    "secret_source",
]

_NO_SECRETS: Mapping[str, str] = MappingProxyType({})
_PATTERNS_ONLY = Redactor()


class SecretSource(Protocol):
    """A run's access to its tenant's secrets; the runtime gives each run one.

    Secrets are read on first use, once per run, never per process.
    """

    @property
    def loaded(self) -> bool:
        """Whether this run has read its secrets."""
        ...

    async def load(self) -> Mapping[str, str]:
        """The tenant's secrets by name, read-only (read now if not yet)."""
        ...

    async def redactor(self) -> Redactor:
        """A redactor that knows the tenant's secrets (read now if not yet, when possible)."""
        ...

    def current(self) -> Redactor:
        """A redactor that knows what this run has read so far (no reading)."""
        ...


@dataclass
class RunContext:
    """LangGraph runtime context of one invocation; never checkpointed.

    Node code reads it with LangGraph's ``get_runtime(RunContext).context``.

    Attributes:
        tenant: Tenant the run belongs to (empty outside the engine).
        run_id: The run's id (empty outside the engine).
        values: The runtime ``context`` the run's client sent (the LangGraph Server
            API's ``context``; ``Engine.run(..., context=...)``).
        secrets: The run's tenant secrets (function nodes get them through a
            ``secrets`` parameter); None outside the engine.
        rate_limits: Where nodes with a ``rate_limit`` wait for their turn; None
            outside the engine (no limiting).
    """

    tenant: str = ""
    run_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    secrets: SecretSource | None = field(default=None, repr=False)
    rate_limits: RateLimitGate | None = field(default=None, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        """One value of the client's context (``default`` when absent)."""
        return self.values.get(key, default)


def secret_source(runtime: Any) -> SecretSource | None:
    """The run's secret source from LangGraph's ``runtime`` (None outside the engine)."""
    context = getattr(runtime, "context", None)
    return context.secrets if isinstance(context, RunContext) else None


async def load_secrets(source: SecretSource | None) -> Mapping[str, str]:
    """The run's secrets, read-only; empty without a source (a graph run outside the engine)."""
    return _NO_SECRETS if source is None else await source.load()


async def redactor_of(source: SecretSource | None) -> Redactor:
    """The run's redactor; without a source, one that knows only credential shapes."""
    return _PATTERNS_ONLY if source is None else await source.redactor()


def expression_context(
    state: BaseModel | Mapping[str, Any], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """Build the CEL variables ``state`` and ``input`` from a state model or mapping."""
    if isinstance(state, Mapping):
        values = {name: state.get(name) for name in fields}
        run_input = state.get(INPUT_CHANNEL) or {}
    else:
        values = {name: getattr(state, name, None) for name in fields}
        run_input = getattr(state, INPUT_CHANNEL, None) or {}
    return {"state": values, "input": run_input}
