"""Named rate limits: the text form, the registry's declarations and the GW_ settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graphwright.errors import RegistryError
from graphwright.registry import (
    RateLimit,
    Registry,
    load_registry_modules,
    parse_rate_limit,
    parse_rate_limits,
)
from graphwright.settings import Settings


@pytest.mark.parametrize(
    ("text", "amount", "period", "burst", "per", "window"),
    [
        ("10/second", 10, 1, 10, "global", 1),
        ("10/second burst 20", 10, 1, 20, "global", 2),
        ("100/minute per tenant", 100, 60, 100, "tenant", 60),
        ("3/5 seconds global", 3, 5, 3, "global", 5),
        ("10 per second burst 20 per tenant", 10, 1, 20, "tenant", 2),
        ("7/s per tenant burst 14", 7, 1, 14, "tenant", 2),
        ("100/minute burst 10", 100, 60, 10, "global", 6),
        ("  2/3 MIN  ", 2, 180, 2, "global", 180),
        ("1/hr", 1, 3600, 1, "global", 3600),
        ("5/d", 5, 86_400, 5, "global", 86_400),
    ],
    ids=[
        "plain",
        "burst",
        "per-tenant",
        "multiple-period",
        "words",
        "options-any-order",
        "burst-below-rate",
        "case-and-space",
        "hour-abbreviation",
        "day-abbreviation",
    ],
)
def test_limits_parse(
    text: str, amount: int, period: int, burst: int, per: str, window: int
) -> None:
    """Each accepted form gives the amount, period, burst, scope and moving-window length."""
    limit = parse_rate_limit("crm_api", text)
    assert (limit.amount, limit.period, limit.burst, limit.per) == (amount, period, burst, per)
    assert limit.window == window
    assert parse_rate_limit("crm_api", limit.describe()) == limit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5/ss", "cannot read"),
        ("ten/second", "cannot read"),
        ("0/second", "at least 1"),
        ("10/second burst 15", "multiple of 10"),
        ("10/second burst x", "whole-number burst"),
        ("10/second burst 2 burst 3", "whole-number burst"),
        ("10/second global per tenant", "once"),
        ("1/8 days", "at most 7 days"),
        ("200000/day", "at most 100000 calls"),
        ("", "cannot read"),
    ],
    ids=[
        "bad-unit",
        "words-for-numbers",
        "zero",
        "fractional-window",
        "bad-burst",
        "two-bursts",
        "two-scopes",
        "too-long",
        "too-many-calls",
        "empty",
    ],
)
def test_bad_limits_say_what_is_wrong(text: str, message: str) -> None:
    """A limit that cannot be kept is refused with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_rate_limit("crm_api", text)


def test_setting_form_has_named_entries() -> None:
    """GW_RATE_LIMITS holds name=limit entries separated by ';' or new lines."""
    limits = parse_rate_limits("crm_api=10/second burst 20; llm = 100/minute per tenant\n\n")
    assert list(limits) == ["crm_api", "llm"]
    assert limits["llm"].per == "tenant"
    with pytest.raises(ValueError, match="declared twice"):
        parse_rate_limits("a=1/s; a=2/s")
    with pytest.raises(ValueError, match="name="):
        parse_rate_limits("crm_api 10/s")
    with pytest.raises(ValueError, match="lower-case"):
        parse_rate_limits("CRM=10/s")


def test_registry_declares_limits() -> None:
    """add_rate_limit takes text or a RateLimit; the same declaration twice is a no-op."""
    registry = Registry()
    limit = registry.add_rate_limit("crm_api", "10/second burst 20")
    assert registry.add_rate_limit("crm_api", limit) is limit
    registry.add_rate_limit("crm_api", "10/second burst 20")
    assert registry.has_rate_limit("crm_api")
    assert registry.get_rate_limit("crm_api") == limit
    assert registry.rate_limit_names() == ["crm_api"]
    assert registry.rate_limits() == {"crm_api": limit}
    assert len(registry) == 0  # limits are not node implementations


@pytest.mark.parametrize(
    ("name", "limit", "code"),
    [
        ("crm_api", "10/second burst 15", "registry.invalid_rate_limit"),
        ("crm_api", RateLimit("other", 1, 1, 1), "registry.invalid_rate_limit"),
        ("Crm", "1/s", "registry.invalid_rate_limit"),
        ("crm_api", "11/second", "registry.duplicate_name"),
    ],
    ids=["malformed", "misnamed", "bad-name", "declared-differently"],
)
def test_registry_refuses_bad_declarations(name: str, limit: str | RateLimit, code: str) -> None:
    """Malformed limits and a name declared with another limit are refused, coded."""
    registry = Registry()
    registry.add_rate_limit("crm_api", "10/second")
    with pytest.raises(RegistryError) as info:
        registry.add_rate_limit(name, limit)
    assert info.value.code == code


def test_merge_accepts_identical_limits_only() -> None:
    """Merging registries that declare a limit alike works; differently is a clash."""
    one, same, other = Registry(), Registry(), Registry()
    one.add_rate_limit("crm_api", "10/second")
    same.add_rate_limit("crm_api", "10/second")
    same.add_rate_limit("llm", "1/minute")
    other.add_rate_limit("crm_api", "20/second")
    one.merge(same)
    assert one.rate_limit_names() == ["crm_api", "llm"]
    with pytest.raises(RegistryError) as info:
        one.merge(other)
    assert info.value.code == "registry.duplicate_name"


def test_settings_read_and_check_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_RATE_LIMITS and GW_API_RATE_LIMIT are parsed at start; the latter is per tenant."""
    monkeypatch.setenv("GW_RATE_LIMITS", "crm_api=10/second burst 20; llm=100/minute")
    monkeypatch.setenv("GW_API_RATE_LIMIT", "50/second burst 100")
    settings = Settings()
    assert settings.rate_limits["crm_api"] == RateLimit("crm_api", 10, 1, 20)
    assert settings.api_rate_limit == RateLimit("api", 50, 1, 100, "tenant")
    registry = load_registry_modules([], rate_limits=settings.rate_limits.values())
    assert registry.rate_limit_names() == ["crm_api", "llm"]
    monkeypatch.setenv("GW_API_RATE_LIMIT", "")
    assert Settings().api_rate_limit is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GW_RATE_LIMITS", "crm_api=10/second burst 15", "GW_RATE_LIMITS: rate limit 'crm_api'"),
        ("GW_RATE_LIMITS", "crm_api", "write name="),
        ("GW_API_RATE_LIMIT", "5/second global", "per tenant"),
        ("GW_API_RATE_LIMIT", "fast", "GW_API_RATE_LIMIT: rate limit 'api'"),
    ],
    ids=["bad-burst", "no-limit", "global-api-limit", "unreadable-api-limit"],
)
def test_bad_settings_fail_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    """A malformed limit setting stops the process at start with a clear message."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()
