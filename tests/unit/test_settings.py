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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GW_ALLOWED_HOSTS", "example.com:8123"),
        ("GW_ALLOWED_HOSTS", "https://example.com"),
        ("GW_ALLOWED_HOSTS", "ex*ample.com"),
        ("GW_CORS_ORIGINS", "https://app.example.com/"),
        ("GW_CORS_ORIGINS", "app.example.com"),
        ("GW_CORS_ORIGINS", "null"),
        ("GW_MAX_CONNECTIONS", "0"),
        ("GW_HEADER_TIMEOUT_SECONDS", "0"),
        ("GW_BODY_TIMEOUT_SECONDS", "-1"),
        ("GW_LOG_FORMAT", "xml"),
    ],
    ids=[
        "host-with-port",
        "host-with-scheme",
        "host-inner-wildcard",
        "origin-with-path",
        "origin-without-scheme",
        "origin-null",
        "max-connections",
        "header-timeout",
        "body-timeout",
        "log-format",
    ],
)
def test_unsafe_exposure_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A malformed host, origin, connection limit, timeout or log format fails at start-up."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_exposure_lists_are_comma_separated_and_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GW_ALLOWED_HOSTS and GW_CORS_ORIGINS are comma-separated, lower-cased lists."""
    monkeypatch.setenv("GW_ALLOWED_HOSTS", "API.Example.com, *.example.org,[::1]")
    monkeypatch.setenv("GW_CORS_ORIGINS", "https://App.example.com, http://localhost:3000")
    settings = Settings()
    assert settings.allowed_hosts == ["api.example.com", "*.example.org", "::1"]
    assert settings.cors_origins == ["https://app.example.com", "http://localhost:3000"]


def test_empty_allowed_hosts_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty GW_ALLOWED_HOSTS is the default (loopback and GW_HOST), not "no host at all"."""
    monkeypatch.setenv("GW_ALLOWED_HOSTS", "")
    assert Settings().allowed_hosts is None
