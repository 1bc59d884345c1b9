"""Cron schedules: checked expressions and zones, next fire times, and the misfire policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graphwright.errors import InvalidInputError
from graphwright.runtime.cron_schedule import (
    Schedule,
    check_schedule,
    check_timezone,
    plan_firing,
)

NOW = datetime(2025, 6, 2, 10, 0, 30, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * *", datetime(2025, 6, 2, 10, 5, tzinfo=UTC)),
        ("0 * * * *", datetime(2025, 6, 2, 11, 0, tzinfo=UTC)),
        ("@daily", datetime(2025, 6, 3, 0, 0, tzinfo=UTC)),
        ("* * * * * */10", datetime(2025, 6, 2, 10, 0, 40, tzinfo=UTC)),
        ("* * * * * *", datetime(2025, 6, 2, 10, 0, 31, tzinfo=UTC)),
    ],
    ids=["every-5-minutes", "hourly", "alias", "seconds-field", "every-second"],
)
def test_next_fire_time_is_the_first_match_after_now(expression: str, expected: datetime) -> None:
    """A checked schedule's next time is its first match strictly after the moment, in UTC."""
    schedule = check_schedule(expression, None, now=NOW)
    assert schedule.timezone == "UTC"
    assert schedule.next_after(NOW) == expected
    assert schedule.next_after(expected) > expected


def test_schedule_is_read_in_its_time_zone_across_daylight_saving() -> None:
    """09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer."""
    schedule = check_schedule("0 9 * * *", "America/New_York", now=NOW)
    winter = schedule.next_after(datetime(2025, 3, 8, 15, 0, tzinfo=UTC))
    summer = schedule.next_after(winter or NOW)
    assert winter == datetime(2025, 3, 9, 13, 0, tzinfo=UTC)  # DST began that night
    assert schedule.next_after(datetime(2025, 1, 10, 15, 0, tzinfo=UTC)) == datetime(
        2025, 1, 11, 14, 0, tzinfo=UTC
    )
    assert summer == datetime(2025, 3, 10, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["61 * * * *", "every monday", "* * *", "", "0 0 30 2 *", "H * * * *", "* " * 150],
    ids=["out-of-range", "words", "too-few-fields", "empty", "never-fires", "hashed", "too-long"],
)
def test_bad_schedules_are_refused_with_a_pointer(expression: str) -> None:
    """An expression croniter cannot read, or that never fires, is cron.invalid_schedule."""
    with pytest.raises(InvalidInputError) as caught:
        check_schedule(expression, "UTC", now=NOW)
    assert caught.value.code == "cron.invalid_schedule"
    assert caught.value.details["problems"][0]["pointer"] == "/schedule"


@pytest.mark.parametrize(
    "name",
    ["Europe/Pariss", "Mars/Olympus", "localtime", "", "../../etc/passwd", "UTC+05:00"],
    ids=["typo", "unknown", "host-zone", "empty", "path", "offset"],
)
def test_bad_time_zones_are_refused(name: str) -> None:
    """Only IANA zone names are accepted (cron.invalid_timezone), not the host's or paths."""
    with pytest.raises(InvalidInputError) as caught:
        check_schedule("* * * * *", name, now=NOW)
    assert caught.value.code == "cron.invalid_timezone"
    assert caught.value.details["problems"][0]["pointer"] == "/timezone"


def test_a_misspelt_zone_gets_the_nearest_name() -> None:
    """A near miss suggests the zone it resembles."""
    with pytest.raises(InvalidInputError) as caught:
        check_timezone("Europe/Pariss")
    assert caught.value.details["problems"][0]["suggestion"] == "Europe/Paris"
    assert check_timezone(None) == "UTC"
    assert check_timezone("Asia/Tokyo") == "Asia/Tokyo"


EVERY_MINUTE = Schedule("* * * * *")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def test_an_on_time_firing_runs_and_the_next_follows_it() -> None:
    """A firing within the grace runs; the next time is the schedule's next after it."""
    plan = plan_firing(
        EVERY_MINUTE,
        scheduled=T0,
        now=T0 + timedelta(seconds=2),
        end_time=None,
        grace_seconds=60,
        policy="once",
    )
    assert (plan.fire, plan.misfire, plan.next_run_at) == (True, False, T0 + timedelta(minutes=1))


def test_late_firings_within_the_grace_each_run() -> None:
    """Behind by less than the grace, each firing still runs, one after the other."""
    plan = plan_firing(
        EVERY_MINUTE,
        scheduled=T0,
        now=T0 + timedelta(seconds=75),
        end_time=None,
        grace_seconds=90,
        policy="skip",
    )
    assert plan.fire
    assert not plan.misfire
    assert plan.next_run_at == T0 + timedelta(minutes=1)  # due too: it runs next


@pytest.mark.parametrize(
    ("policy", "fires"), [("once", True), ("skip", False)], ids=["once", "skip"]
)
def test_missed_firings_run_once_or_not_and_the_schedule_resumes_from_now(
    policy: str, fires: bool
) -> None:
    """After an hour down, an every-minute cron runs once (or skips) and continues from now."""
    now = T0 + timedelta(hours=1, seconds=30)
    plan = plan_firing(
        EVERY_MINUTE,
        scheduled=T0,
        now=now,
        end_time=None,
        grace_seconds=60,
        policy=policy,  # type: ignore[arg-type]
    )
    assert plan.misfire
    assert plan.fire is fires
    assert plan.next_run_at == T0 + timedelta(hours=1, minutes=1)


def test_nothing_fires_after_the_end_time() -> None:
    """A firing past the end time does not run, and the cron has no next time."""
    plan = plan_firing(
        EVERY_MINUTE,
        scheduled=T0,
        now=T0,
        end_time=T0 - timedelta(seconds=1),
        grace_seconds=60,
        policy="once",
    )
    assert (plan.fire, plan.next_run_at) == (False, None)
    last = plan_firing(
        EVERY_MINUTE,
        scheduled=T0,
        now=T0,
        end_time=T0 + timedelta(seconds=30),
        grace_seconds=60,
        policy="once",
    )
    assert (last.fire, last.next_run_at) == (True, None)
