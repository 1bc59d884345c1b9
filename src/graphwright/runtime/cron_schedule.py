"""Cron schedules: checking them, their next fire times, and what a late firing does.

Expressions are read by croniter (5 fields; a 6th is seconds, croniter's
convention; a 7th is the year; ``@hourly``-style aliases), in an IANA time zone
(default UTC). No clock is read here: every function takes the moment it works from.

The misfire policy (:func:`plan_firing`): a firing at most ``grace_seconds`` late
runs as usual, and so does each later one that is due, one by one. A firing later
than that was missed (every process was down, or PostgreSQL was): with ``once`` the
missed firings run once, as the first of them, with ``skip`` not at all; either way
the schedule continues with its first time after now, so a cron never runs N times
to catch up.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from croniter import CroniterBadDateError, CroniterError, croniter

from graphwright.errors import InvalidInputError

__all__ = [
    "MISFIRE_POLICIES",
    "FiringPlan",
    "MisfirePolicy",
    "Schedule",
    "check_schedule",
    "check_timezone",
    "plan_firing",
]

MisfirePolicy = Literal["once", "skip"]
MISFIRE_POLICIES: tuple[MisfirePolicy, ...] = ("once", "skip")
MAX_EXPRESSION_LENGTH = 200
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Names in the zone database that are not places (``localtime`` is the host's zone)."""


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES) | {"UTC"}


def check_timezone(name: str | None, *, pointer: str = "/timezone") -> str:
    """The IANA zone ``name`` (``UTC`` for None).

    Raises:
        InvalidInputError: ``cron.invalid_timezone`` (with the nearest names).
    """
    if name is None:
        return "UTC"
    if name in _zones():
        return name
    close = difflib.get_close_matches(name, sorted(_zones()), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    problem: dict[str, str] = {
        "pointer": pointer,
        "message": f"{name!r} is not an IANA time zone name such as Europe/Paris{hint}",
    }
    if close:
        problem["suggestion"] = close[0]
    raise InvalidInputError(
        f"invalid time zone at {pointer}: {problem['message']}",
        code="cron.invalid_timezone",
        details={"problems": [problem]},
    )


@dataclass(frozen=True)
class Schedule:
    """A checked cron expression in a time zone."""

    expression: str
    timezone: str = "UTC"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after ``moment`` (aware, in UTC), None if never."""
        start = moment.astimezone(zoneinfo.ZoneInfo(self.timezone))
        try:
            found = croniter(self.expression, start).get_next(datetime)
        except CroniterBadDateError:  # such as 30 February: no date matches
            return None
        return found.astimezone(UTC)


def check_schedule(
    expression: str,
    timezone: str | None = None,
    *,
    now: datetime,
    pointer: str = "/schedule",
) -> Schedule:
    """The schedule of ``expression`` in ``timezone`` (UTC for None), once it is known to fire.

    Raises:
        InvalidInputError: ``cron.invalid_schedule`` (not an expression croniter reads,
            or one that never fires after ``now``), ``cron.invalid_timezone``.
    """
    zone = check_timezone(timezone)
    text = expression.strip()
    message = None
    if not text or len(text) > MAX_EXPRESSION_LENGTH:
        message = f"a cron expression of 1 to {MAX_EXPRESSION_LENGTH} characters"
    else:
        try:
            croniter(text, now)
        except (CroniterError, ValueError, KeyError, IndexError) as exc:
            message = f"{text!r} is not a cron expression ({exc})"
    schedule = Schedule(text, zone)
    if message is None and schedule.next_after(now) is None:
        message = f"{text!r} never fires (no date matches)"
    if message is not None:
        raise InvalidInputError(
            f"invalid schedule at {pointer}: {message}",
            code="cron.invalid_schedule",
            details={"problems": [{"pointer": pointer, "message": message}]},
        )
    return schedule


@dataclass(frozen=True)
class FiringPlan:
    """What to do with a due firing.

    Attributes:
        fire: Start the run of the scheduled time.
        misfire: The scheduled time is more than the grace late (missed firings).
        next_run_at: The cron's next fire time; None when it has no more (end time).
    """

    fire: bool
    misfire: bool
    next_run_at: datetime | None


def plan_firing(
    schedule: Schedule,
    *,
    scheduled: datetime,
    now: datetime,
    end_time: datetime | None,
    grace_seconds: float,
    policy: MisfirePolicy,
) -> FiringPlan:
    """Decide the firing of ``scheduled`` at ``now`` (see the module's misfire policy).

    A firing after ``end_time`` does not run, and the cron then has no next time.
    """
    if end_time is not None and scheduled > end_time:
        return FiringPlan(fire=False, misfire=False, next_run_at=None)
    misfire = (now - scheduled).total_seconds() > grace_seconds
    following = schedule.next_after(now if misfire else scheduled)
    if following is not None and end_time is not None and following > end_time:
        following = None
    return FiringPlan(fire=policy == "once" or not misfire, misfire=misfire, next_run_at=following)
