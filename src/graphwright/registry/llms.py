"""LLMs for inline crews, named in settings, and crewai's privacy defaults.

A workflow document names an LLM (``"llm": "fast"``); what ``fast`` is (provider,
model, where its API key comes from) is the operator's business: settings
(``GW_LLMS``) or Python (:meth:`Registry.llm`). Nothing here imports crewai
until an LLM is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphwright.errors import ConfigurationError

if TYPE_CHECKING:
    from graphwright.registry.registry import Registry

__all__ = [
    "CREWAI_PRIVACY_DEFAULTS",
    "LLMConfig",
    "apply_crewai_privacy_defaults",
    "register_llms",
]

CREWAI_PRIVACY_DEFAULTS: Mapping[str, str] = {
    # crewai's anonymous usage telemetry (OpenTelemetry spans to crewai.com), which
    # also installs SIGTERM/SIGINT handlers when it starts in the main thread.
    "CREWAI_DISABLE_TELEMETRY": "true",
    # crewai's execution tracing (first-run prompt, uploads to its platform).
    "CREWAI_TRACING_ENABLED": "false",
    # The PyPI "new version available" lookup of verbose crews.
    "CREWAI_DISABLE_VERSION_CHECK": "true",
}
"""Environment defaults that keep crewai from phoning home unless the user opts in."""


def apply_crewai_privacy_defaults() -> None:
    """Set :data:`CREWAI_PRIVACY_DEFAULTS` in ``os.environ`` where the user set nothing.

    Called before crewai is first imported by graphwright (and before registry
    modules are imported, since they may import crewai at their top). A value the
    user set, such as ``CREWAI_DISABLE_TELEMETRY=false``, is kept.
    """
    for key, value in CREWAI_PRIVACY_DEFAULTS.items():
        os.environ.setdefault(key, value)


class LLMConfig(BaseModel):
    """An LLM named in settings (``GW_LLMS``): provider and model, key from the environment.

    Example (``GW_LLMS``)::

        {"fast": {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"},
         "offline": {"provider": "scripted", "answers": ["Final Answer: done"]}}

    Attributes:
        provider: A crewai provider (``openai``, ``anthropic``, ``gemini``, ``azure``,
            ``bedrock``, ``ollama``, ...) or ``scripted`` (graphwright's offline LLM).
        model: Model name at the provider (``gpt-4o-mini``).
        api_key_env: Name of the environment variable holding the API key, read
            when a crew is built. The key itself never appears in settings.
        base_url: Endpoint override (proxies, self-hosted models).
        temperature: Sampling temperature.
        max_tokens: Completion token limit.
        timeout: Seconds one LLM request may take.
        answers: ``scripted`` only: the answers, in order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    model: str = Field(default="scripted", min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    base_url: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    answers: list[str] = Field(default_factory=list)

    def factory(self) -> Callable[[], Any]:
        """A factory building this LLM (imports crewai when called, not before).

        Raises (when called):
            ConfigurationError: ``config.llm_key_missing`` when ``api_key_env`` is
                set but the variable is not.
        """
        config = self

        def build() -> Any:
            if config.provider == "scripted":
                from graphwright.testing import scripted_llm

                return scripted_llm(config.answers, model=config.model)
            from crewai import LLM

            options: dict[str, Any] = {
                key: value
                for key, value in (
                    ("base_url", config.base_url),
                    ("temperature", config.temperature),
                    ("max_tokens", config.max_tokens),
                    ("timeout", config.timeout),
                )
                if value is not None
            }
            if config.api_key_env is not None:
                key = os.environ.get(config.api_key_env)
                if not key:
                    raise ConfigurationError(
                        f"environment variable {config.api_key_env} (the API key of an LLM "
                        f"of provider '{config.provider}') is not set",
                        code="config.llm_key_missing",
                        details={"variable": config.api_key_env},
                    )
                options["api_key"] = key
            return LLM(model=f"{config.provider}/{config.model}", **options)

        return build


def register_llms(
    registry: Registry, llms: Mapping[str, LLMConfig | Mapping[str, Any]]
) -> Registry:
    """Register LLMs configured in settings (``GW_LLMS``) by name.

    Returns:
        ``registry``.

    Raises:
        RegistryError: ``registry.invalid_name`` or ``registry.duplicate_name``.
        ConfigurationError: ``config.invalid_llm`` for a configuration that does not validate.
    """
    for name, raw in llms.items():
        try:
            config = raw if isinstance(raw, LLMConfig) else LLMConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigurationError(
                f"LLM '{name}': {where}: {first['msg']}",
                code="config.invalid_llm",
                details={"llm": name},
            ) from None
        registry.add_llm(name, config.factory())
    return registry
