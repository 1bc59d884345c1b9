"""Node implementations of the ``threat-triage`` example and its two child workflows.

Three analyzers look at a case's indicators in parallel, each standing in for
an external scanner (a short ``asyncio.sleep``) and recording when it started
and finished, so a test can see that the branches overlapped. Their scores add
up to a triage score that picks ``incident-response`` or ``monitoring``.

Indicators are ``kind:value`` strings: ``file:mimikatz.exe``, ``port:4444``,
``ip:203.0.113.7``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry

__all__ = [
    "add_watch",
    "check_reputation",
    "contain_host",
    "intake",
    "open_incident",
    "register_triage",
    "scan_malware",
    "scan_network",
    "schedule_rescan",
    "score",
]

SCANNER_LATENCY = 0.05
MAX_SCORE = 10
INDICATOR_KINDS = ("file", "port", "ip")

# Made-up threat intelligence; the networks are documentation ranges (RFC 5737).
MALWARE_SIGNATURES: dict[str, int] = {"mimikatz": 5, "cobaltstrike": 5, "emotet": 4, "eicar": 1}
SUSPICIOUS_PORTS: dict[int, int] = {4444: 3, 6667: 3, 23: 2, 3389: 2}
BAD_NETWORKS: dict[str, int] = {"203.0.113.0/24": 4, "198.51.100.0/24": 2}
ANALYZER_CAP = 5


class TriageState(Protocol):
    """The fields of the ``threat-triage`` state these functions read."""

    target: str
    indicators: list[str]
    case_id: str | None
    analyses: list[dict[str, Any]]


class ResponseState(Protocol):
    """The fields of the ``incident-response`` and ``monitoring`` states read here."""

    target: str
    case_id: str
    score: int
    findings: list[dict[str, Any]]
    incident: dict[str, Any] | None
    watch: dict[str, Any] | None


def intake(state: TriageState) -> dict[str, Any]:
    """Normalise the indicators (trimmed, lower-case, unique, sorted) and name the case.

    The case id is derived from the target and indicators, so the same input
    always opens the same case.

    Raises:
        NodeExecutionError: ``triage.invalid_indicator`` for an indicator that is
            not ``kind:value`` with a known kind.
    """
    indicators: set[str] = set()
    for raw in state.indicators:
        text = raw.strip().lower()
        kind, _, value = text.partition(":")
        if kind not in INDICATOR_KINDS or not value:
            raise NodeExecutionError(
                f"indicator {raw!r} is not one of {', '.join(k + ':...' for k in INDICATOR_KINDS)}",
                code="triage.invalid_indicator",
                details={"indicator": raw},
            )
        indicators.add(text)
    ordered = sorted(indicators)
    digest = hashlib.sha256("\n".join([state.target, *ordered]).encode()).hexdigest()
    return {"indicators": ordered, "case_id": f"case-{digest[:10]}"}


async def scan_malware(state: TriageState) -> dict[str, Any]:
    """Match ``file:`` indicators against known malware signatures (simulated sandbox)."""

    def match(value: str) -> int:
        return max((s for name, s in MALWARE_SIGNATURES.items() if name in value), default=0)

    return await _analyse("malware", "file", state.indicators, match)


async def scan_network(state: TriageState) -> dict[str, Any]:
    """Match ``port:`` indicators against suspicious ports (simulated network scanner)."""

    def match(value: str) -> int:
        return SUSPICIOUS_PORTS.get(int(value), 0) if value.isdigit() else 0

    return await _analyse("network", "port", state.indicators, match)


async def check_reputation(state: TriageState) -> dict[str, Any]:
    """Look ``ip:`` indicators up in a reputation feed (simulated threat-intel API)."""

    def match(value: str) -> int:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return 0
        return max(
            (s for net, s in BAD_NETWORKS.items() if address in ipaddress.ip_network(net)),
            default=0,
        )

    return await _analyse("reputation", "ip", state.indicators, match)


def score(state: TriageState) -> dict[str, Any]:
    """Add the analyzers' scores into ``score`` (0-10) and name the ``severity``."""
    total = min(MAX_SCORE, sum(int(a["score"]) for a in state.analyses))
    if total >= 9:
        severity = "critical"
    elif total >= 7:
        severity = "high"
    elif total >= 4:
        severity = "medium"
    else:
        severity = "low"
    return {"score": total, "severity": severity}


def open_incident(state: ResponseState) -> dict[str, Any]:
    """Open an incident for the case (``incident-response``); its priority follows the score."""
    return {
        "id": f"inc-{state.case_id.removeprefix('case-')}",
        "target": state.target,
        "priority": "p1" if state.score >= 9 else "p2",
        "analyzers": sorted(str(f["analyzer"]) for f in state.findings if f.get("score")),
    }


def contain_host(state: ResponseState) -> dict[str, Any]:
    """List the containment actions for the incident (``incident-response``)."""
    actions = [f"isolate host {state.target}"]
    for finding in state.findings:
        for match in finding.get("matches", []):
            if finding.get("analyzer") == "reputation":
                actions.append(f"block ip {match}")
            elif finding.get("analyzer") == "network":
                actions.append(f"close port {match}")
            elif finding.get("analyzer") == "malware":
                actions.append(f"quarantine file {match}")
    return {"actions": actions}


def add_watch(state: ResponseState) -> dict[str, Any]:
    """Put the target on the watch list (``monitoring``); a higher score watches closer."""
    level = "elevated" if state.score >= 4 else "baseline"
    return {
        "target": state.target,
        "case_id": state.case_id,
        "level": level,
        "interval_hours": 6 if level == "elevated" else 24,
    }


def schedule_rescan(state: ResponseState) -> dict[str, Any]:
    """Schedule the next scan of the target (``monitoring``)."""
    watch = state.watch or {}
    return {"rescan": {"target": state.target, "after_hours": watch.get("interval_hours", 24)}}


def register_triage(registry: Registry) -> None:
    """Register the ``triage.*`` functions."""
    registry.add_function("triage.intake", intake)
    registry.add_function("triage.scan_malware", scan_malware)
    registry.add_function("triage.scan_network", scan_network)
    registry.add_function("triage.check_reputation", check_reputation)
    registry.add_function("triage.score", score)
    registry.add_function("triage.open_incident", open_incident)
    registry.add_function("triage.contain_host", contain_host)
    registry.add_function("triage.add_watch", add_watch)
    registry.add_function("triage.schedule_rescan", schedule_rescan)


async def _analyse(
    analyzer: str, kind: str, indicators: Sequence[str], match: Callable[[str], int]
) -> dict[str, Any]:
    started_at = time.monotonic()
    await asyncio.sleep(SCANNER_LATENCY)  # the external scanner
    scores: dict[str, int] = {}
    for indicator in indicators:
        prefix, _, value = indicator.partition(":")
        if prefix == kind and (points := match(value)) > 0:
            scores[value] = points
    finished_at = time.monotonic()
    return {
        "analyzer": analyzer,
        "score": min(ANALYZER_CAP, sum(scores.values())),
        "matches": sorted(scores),
        "started_at": started_at,
        "finished_at": finished_at,
    }
