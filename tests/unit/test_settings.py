"""Settings come from GW_* variables, are validated, and reach the registry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graphwright import Settings, load_registry_modules


def test_llms_from_environment_reach_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_LLMS names LLMs that the registry built from settings can hand to inline crews."""
    monkeypatch.setenv("GW_LLMS", '{"fast": {"provider": "scripted", "model": "demo"}}')
    monkeypatch.setenv("GW_REGISTRY_MODULES", "")
    settings = Settings()
    assert settings.llms["fast"].provider == "scripted"
    registry = load_registry_modules(settings.registry_modules, llms=settings.llms)
    assert registry.has_llm("fast")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GW_DATABASE_URL", "mysql://x"),
        ("GW_REDIS_URL", "http://x"),
        ("GW_PORT", "70000"),
        ("GW_WORKERS", "-1"),
        ("GW_DURABILITY", "sometimes"),
        ("GW_TENANT", "Bad Tenant"),
    ],
    ids=["database-url", "redis-url", "port", "workers", "durability", "tenant"],
)
def test_unsafe_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """An invalid GW_ value fails at start-up with a validation error."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_run_time_limit_defaults_to_an_hour_and_can_be_lifted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs have a one-hour limit by default; an empty GW_RUN_TIMEOUT_SECONDS lifts it."""
    monkeypatch.delenv("GW_RUN_TIMEOUT_SECONDS", raising=False)
    assert Settings().run_timeout_seconds == 3600.0
    monkeypatch.setenv("GW_RUN_TIMEOUT_SECONDS", "")
    assert Settings().run_timeout_seconds is None
