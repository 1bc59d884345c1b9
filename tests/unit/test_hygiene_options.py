"""Thread TTL and pruning options: GW_THREAD_TTL_* / GW_PRUNE_* and ``prune --older-than``."""

from __future__ import annotations

import pytest
import typer
from pydantic import ValidationError

from graphwright import Settings
from graphwright.cli_prune import parse_duration
from graphwright.store.pruning import PrunePolicy


def test_hygiene_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without settings no thread expires by default and no pruning job runs."""
    for name in ("GW_THREAD_TTL_MINUTES", "GW_PRUNE_INTERVAL_SECONDS", "GW_PRUNE_KEEP"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.thread_ttl_minutes is None
    assert settings.prune_interval_seconds is None
    assert settings.prune_keep == 1
    assert settings.thread_ttl_sweep_seconds == 60


def test_empty_values_mean_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_THREAD_TTL_MINUTES= and GW_PRUNE_INTERVAL_SECONDS= (empty) turn them off."""
    monkeypatch.setenv("GW_THREAD_TTL_MINUTES", "")
    monkeypatch.setenv("GW_PRUNE_INTERVAL_SECONDS", " ")
    settings = Settings()
    assert (settings.thread_ttl_minutes, settings.prune_interval_seconds) == (None, None)


def test_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set values are read as numbers."""
    monkeypatch.setenv("GW_THREAD_TTL_MINUTES", "43200")
    monkeypatch.setenv("GW_PRUNE_INTERVAL_SECONDS", "3600")
    monkeypatch.setenv("GW_PRUNE_KEEP", "5")
    monkeypatch.setenv("GW_PRUNE_OLDER_THAN_SECONDS", "0")
    settings = Settings()
    assert settings.thread_ttl_minutes == 43200
    assert settings.prune_interval_seconds == 3600
    assert (settings.prune_keep, settings.prune_older_than_seconds) == (5, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GW_THREAD_TTL_MINUTES", "0"),
        ("GW_THREAD_TTL_MINUTES", "-5"),
        ("GW_THREAD_TTL_MINUTES", "1e12"),
        ("GW_THREAD_TTL_SWEEP_SECONDS", "0"),
        ("GW_PRUNE_INTERVAL_SECONDS", "0"),
        ("GW_PRUNE_KEEP", "0"),
        ("GW_PRUNE_OLDER_THAN_SECONDS", "-1"),
    ],
    ids=["ttl-zero", "ttl-negative", "ttl-huge", "sweep-zero", "interval-zero", "keep-0", "age"],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """A TTL, interval or count that makes no sense fails at start-up."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("12h", 43200), ("7d", 604800), ("1.5H", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    """--older-than takes a number with an optional s/m/h/d/w unit."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "5 minutes", "1h30m"])
def test_bad_durations(text: str) -> None:
    """Anything else is a usage error."""
    with pytest.raises(typer.BadParameter):
        parse_duration(text)


def test_policy_refuses_nonsense() -> None:
    """keep below 1, or thread ids without a tenant, are programming errors."""
    with pytest.raises(ValueError, match="keep"):
        PrunePolicy(keep=0)
    with pytest.raises(ValueError, match="tenant"):
        PrunePolicy(thread_ids=["a"])
