"""Node implementations of the ``asset-discovery`` example.

A client's raw inventory is normalised, each asset is classified (one map item
per asset), dependencies between assets are inferred from their subnets, and an
approved plan is published. Everything is deterministic and offline: "external"
systems are simulated with a short ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry

__all__ = [
    "analyse_dependencies",
    "classify_asset",
    "normalise",
    "publish",
    "register_discovery",
]

# Simulated latency of the CMDB lookup (per asset) and of the CRM call.
CLASSIFY_LATENCY = 0.005
PUBLISH_LATENCY = 0.01

_CATEGORIES: dict[str, str] = {
    "database": "data",
    "db": "data",
    "storage": "data",
    "web": "application",
    "app": "application",
    "server": "application",
    "service": "application",
    "firewall": "network",
    "router": "network",
    "switch": "network",
    "load_balancer": "network",
    "lb": "network",
    "workstation": "endpoint",
    "laptop": "endpoint",
    "desktop": "endpoint",
}
_CRITICALITY: dict[str, str] = {
    "data": "high",
    "network": "high",
    "application": "medium",
    "endpoint": "low",
    "other": "low",
}


class DiscoveryState(Protocol):
    """The fields of the ``asset-discovery`` state these functions read."""

    client_id: str
    raw_assets: list[dict[str, Any]]
    classified: list[dict[str, Any]]
    report: str | None
    dependencies: list[dict[str, Any]]
    review: dict[str, Any] | None


def normalise(state: DiscoveryState) -> dict[str, Any]:
    """Clean the raw inventory into ``assets``.

    Names are stripped and lower-cased, types lower-cased (``unknown`` when
    missing), IP addresses checked; a later asset with an already seen name is
    dropped. Input order is kept.

    Raises:
        NodeExecutionError: ``discovery.invalid_asset`` for an asset without a
            name or with an invalid IP address.
    """
    assets: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(state.raw_assets):
        name = str(raw.get("name") or "").strip().lower()
        if not name:
            raise NodeExecutionError(
                f"asset {index} has no name",
                code="discovery.invalid_asset",
                details={"index": index},
            )
        ip = raw.get("ip")
        if ip is not None:
            try:
                ip = str(ipaddress.ip_address(str(ip).strip()))
            except ValueError:
                raise NodeExecutionError(
                    f"asset '{name}' has an invalid IP address {ip!r}",
                    code="discovery.invalid_asset",
                    details={"index": index, "name": name},
                ) from None
        if name in seen:
            continue
        seen.add(name)
        kind = str(raw.get("type") or "unknown").strip().lower().replace(" ", "_")
        assets.append({"name": name, "type": kind, "ip": ip})
    return {"assets": assets}


async def classify_asset(item: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Classify one normalised asset (a map item) into a category and criticality.

    The category follows the asset type; an asset with a public IP address is
    always of high criticality.
    """
    await asyncio.sleep(CLASSIFY_LATENCY)  # the CMDB lookup
    kind = str(item.get("type") or "unknown")
    category = _CATEGORIES.get(kind, "other")
    criticality = _CRITICALITY[category]
    ip = item.get("ip")
    exposed = ip is not None and ipaddress.ip_address(ip).is_global
    if exposed:
        criticality = "high"
    return {
        "index": index,
        "name": item.get("name"),
        "type": kind,
        "ip": ip,
        "category": category,
        "criticality": criticality,
        "exposed": exposed,
    }


def analyse_dependencies(assets: Sequence[Mapping[str, Any]], client_id: str) -> dict[str, Any]:
    """Infer dependencies between classified assets and write a plain-text report.

    Within one /24 subnet, applications read from data assets, and every
    non-network asset routes through the network devices. Returns the
    ``report`` and the sorted ``dependencies``.
    """
    by_subnet: dict[str, list[Mapping[str, Any]]] = {}
    for asset in assets:
        if asset.get("ip"):
            by_subnet.setdefault(_subnet(str(asset["ip"])), []).append(asset)
    dependencies: list[dict[str, Any]] = []
    for subnet, members in sorted(by_subnet.items()):
        for source in members:
            for target in members:
                if source is target:
                    continue
                relation = _relation(str(source["category"]), str(target["category"]))
                if relation is not None:
                    dependencies.append(
                        {
                            "from": source["name"],
                            "to": target["name"],
                            "relation": relation,
                            "subnet": subnet,
                        }
                    )
    dependencies.sort(key=lambda d: (d["from"], d["to"]))
    return {
        "report": _report(client_id, assets, dependencies),
        "dependencies": dependencies,
    }


async def publish(state: DiscoveryState) -> dict[str, Any]:
    """Publish the reviewed plan to the (simulated) CRM and return the receipt.

    The receipt names the report by its SHA-256, so publishing the same plan
    twice gives the same location.

    Raises:
        NodeExecutionError: ``discovery.nothing_to_publish`` when the report is empty.
    """
    report = (state.report or "").strip()
    if not report:
        raise NodeExecutionError(
            "the plan has no report to publish",
            code="discovery.nothing_to_publish",
            details={"client_id": state.client_id},
        )
    await asyncio.sleep(PUBLISH_LATENCY)  # the CRM call
    digest = hashlib.sha256(report.encode()).hexdigest()
    review = state.review or {}
    return {
        "published": {
            "client_id": state.client_id,
            "location": f"crm://clients/{state.client_id}/asset-plans/{digest[:12]}",
            "report_sha256": digest,
            "assets": len(state.classified),
            "dependencies": len(state.dependencies),
            "decision": review.get("decision"),
            "edited": bool(review.get("edits")),
        }
    }


def register_discovery(registry: Registry) -> None:
    """Register the ``discovery.*`` functions."""
    registry.add_function("discovery.normalise", normalise)
    registry.add_function("discovery.classify_asset", classify_asset)
    registry.add_function("discovery.analyse_dependencies", analyse_dependencies)
    registry.add_function("discovery.publish", publish)


def _subnet(ip: str) -> str:
    prefix = 24 if ipaddress.ip_address(ip).version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _relation(source: str, target: str) -> str | None:
    if source == "application" and target == "data":
        return "reads_from"
    if source != "network" and target == "network":
        return "routes_through"
    return None


def _report(
    client_id: str, assets: Sequence[Mapping[str, Any]], dependencies: Sequence[Mapping[str, Any]]
) -> str:
    counts: dict[str, int] = {}
    for asset in assets:
        counts[str(asset.get("criticality"))] = counts.get(str(asset.get("criticality")), 0) + 1
    lines = [
        f"Asset plan for {client_id}",
        f"{len(assets)} assets: "
        + ", ".join(f"{counts.get(level, 0)} {level}" for level in ("high", "medium", "low")),
        f"{len(dependencies)} dependencies:",
        *(f"- {d['from']} {d['relation']} {d['to']} ({d['subnet']})" for d in dependencies),
    ]
    exposed = sorted(str(a.get("name")) for a in assets if a.get("exposed"))
    if exposed:
        lines.append("Exposed to the internet: " + ", ".join(exposed))
    return "\n".join(lines)
