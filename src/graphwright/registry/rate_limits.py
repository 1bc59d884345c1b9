"""Named rate limits: what a node's ``"rate_limit"`` names, declared by the operator.

A workflow document says ``"rate_limit": "crm_api"``; what ``crm_api`` allows is
the operator's business: settings (``GW_RATE_LIMITS``) or Python
(:meth:`Registry.add_rate_limit`). The text form is::

    10/second                 10 calls in any one second
    10/second burst 20        20 at once, then 10 a second on average (20 in any 2 s)
    100/minute per tenant     each tenant has its own 100 a minute
    3/5 seconds global        3 in any 5 seconds, all tenants together (the default)

A limit is kept as a moving window: at most ``burst`` calls in any window of
``burst / amount * period`` seconds (without ``burst``: ``amount`` calls in any
``period``). Windows are whole seconds, so a burst must make one (``10/second
burst 15`` would be 1.5 s and is refused). Nothing here measures time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_WINDOW_CALLS", "RateLimit", "parse_rate_limit", "parse_rate_limits"]

Scope = Literal["global", "tenant"]

MAX_WINDOW_CALLS = 100_000
"""Most calls one window may hold (each is remembered until it leaves the window)."""
MAX_PERIOD_SECONDS = 7 * 86_400
"""Longest period and window: a week."""

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
_SPELLINGS = {
    spelling: unit
    for unit, spellings in (
        ("second", "s sec secs second seconds"),
        ("minute", "m min mins minute minutes"),
        ("hour", "h hr hrs hour hours"),
        ("day", "d day days"),
    )
    for spelling in spellings.split()
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_RATE = re.compile(
    r"^(?P<amount>\d+)\s*(?:/|\s+per\s+)\s*(?:(?P<multiple>\d+)\s*)?"
    r"(?P<unit>[a-z]+)$"
)
_SYNTAX = "AMOUNT/[N ]UNIT [burst B] [per tenant | global], e.g. '10/second burst 20'"


@dataclass(frozen=True)
class RateLimit:
    """One named limit.

    Attributes:
        name: What documents write (``crm_api``).
        amount: Calls allowed per ``period`` on average.
        period: Seconds of the period (``minute``: 60).
        burst: Most calls at once; ``amount`` unless given.
        per: ``global`` (all tenants share the limit) or ``tenant`` (each its own).
    """

    name: str
    amount: int
    period: int
    burst: int
    per: Scope = "global"

    @property
    def window(self) -> int:
        """Seconds of the moving window holding at most :attr:`burst` calls."""
        return self.burst * self.period // self.amount

    def describe(self) -> str:
        """The limit in the text form it is declared in (``10/second burst 20 per tenant``)."""
        unit, multiple = _unit_of(self.period)
        text = f"{self.amount}/{multiple} {unit}s" if multiple > 1 else f"{self.amount}/{unit}"
        if self.burst != self.amount:
            text += f" burst {self.burst}"
        return text + (" per tenant" if self.per == "tenant" else "")


def parse_rate_limit(name: str, text: str) -> RateLimit:
    """Parse one limit (``10/second burst 20 per tenant``) named ``name``.

    Raises:
        ValueError: a message saying what is wrong and what is accepted.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"rate limit name {name!r}: use dotted lower-case names like 'crm_api'")
    words = text.strip().lower().split()
    per: Scope | None = None
    burst: int | None = None
    # Options follow the rate, in any order.
    while words:
        if words[-1] == "global" or words[-2:] == ["per", "tenant"]:
            if per is not None:
                raise ValueError(f"rate limit '{name}': say 'per tenant' or 'global' once")
            per = "global" if words[-1] == "global" else "tenant"
            words = words[:-1] if per == "global" else words[:-2]
        elif len(words) >= 2 and words[-2] == "burst":
            if burst is not None or not words[-1].isdigit():
                raise ValueError(f"rate limit '{name}': one whole-number burst ({_SYNTAX})")
            burst, words = int(words[-1]), words[:-2]
        else:
            break
    match = _RATE.fullmatch(" ".join(words))
    if match is None or match["unit"] not in _SPELLINGS:
        raise ValueError(f"rate limit '{name}': cannot read {text.strip()!r}; write {_SYNTAX}")
    amount = int(match["amount"])
    period = int(match["multiple"] or 1) * _UNITS[_SPELLINGS[match["unit"]]]
    burst = amount if burst is None else burst
    if amount < 1 or burst < 1:
        raise ValueError(f"rate limit '{name}': the amount and burst must be at least 1")
    if period > MAX_PERIOD_SECONDS:
        raise ValueError(f"rate limit '{name}': the period may be at most 7 days")
    if burst > MAX_WINDOW_CALLS:
        raise ValueError(
            f"rate limit '{name}': at most {MAX_WINDOW_CALLS} calls per window "
            "(use a shorter period or a smaller burst)"
        )
    window, rest = divmod(burst * period, amount)
    if rest or window < 1:
        rate = RateLimit(name, amount, period, amount).describe()
        raise ValueError(
            f"rate limit '{name}': burst {burst} at {rate} spans "
            f"{burst * period / amount:g} s, and windows are whole seconds; pick a burst that "
            f"is a multiple of {amount // math.gcd(amount, period)}"
        )
    if window > MAX_PERIOD_SECONDS:
        raise ValueError(f"rate limit '{name}': burst {burst} spans more than 7 days")
    return RateLimit(name=name, amount=amount, period=period, burst=burst, per=per or "global")


def parse_rate_limits(text: str) -> dict[str, RateLimit]:
    """Parse ``GW_RATE_LIMITS``: ``name=limit`` entries separated by ``;`` or new lines.

    Raises:
        ValueError: a malformed entry, or a name given twice.
    """
    limits: dict[str, RateLimit] = {}
    for entry in re.split(r"[;\n]", text):
        if not entry.strip():
            continue
        name, sep, limit = entry.partition("=")
        if not sep:
            raise ValueError(f"rate limit {entry.strip()!r}: write name={_SYNTAX}")
        name = name.strip()
        if name in limits:
            raise ValueError(f"rate limit '{name}' is declared twice")
        limits[name] = parse_rate_limit(name, limit)
    return limits


def _unit_of(seconds: int) -> tuple[str, int]:
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            return unit, seconds // size
    return "second", seconds  # pragma: no cover - every period is whole seconds
