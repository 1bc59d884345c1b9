"""Node implementations of the ``asset-discovery`` example.

A client's raw inventory is normalised, each asset is classified (one map item
per asset), a CrewAI crew infers the dependencies between assets and writes the
plan, and an approved plan is published. Everything is deterministic and
offline: "external" systems are simulated with a short ``asyncio.sleep``, and
the crew's agents run on :mod:`graphwright.testing`'s scripted LLM.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry

__all__ = [
    "analyse_dependencies",
    "classify_asset",
    "dependency_crew",
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


def dependency_crew(inputs: Mapping[str, Any]) -> Any:
    """Build the dependency-analysis crew (``discovery.dependency_crew``; needs crewai).

    Two agents, two tasks, in sequence: a dependency analyst maps which assets
    depend on which (its answer is JSON ``{"dependencies": [...]}``), then a
    report writer writes the plan for the account manager. Each agent has one
    tool bound to this run's assets, and runs on a scripted offline LLM that
    decides to call that tool and answers with its result (``result_as_answer``).
    Swap :func:`~graphwright.testing.scripted_llm` for a real LLM and the same
    crew reasons over the assets itself.
    """
    from crewai import Agent, Crew, Process, Task
    from crewai.tools import tool

    from graphwright.testing import scripted_llm, tool_call

    assets = [dict(asset) for asset in inputs.get("assets") or []]
    client_id = str(inputs.get("client_id") or "")

    @tool("infer_dependencies", result_as_answer=True)
    def infer_dependencies() -> str:
        """Infer the dependencies between the client's classified assets, as JSON."""
        analysis = analyse_dependencies(assets, client_id)
        return json.dumps({"dependencies": analysis["dependencies"]})

    @tool("write_asset_plan", result_as_answer=True)
    def write_asset_plan() -> str:
        """Write the asset plan (counts, dependencies, exposed assets) as plain text."""
        return str(analyse_dependencies(assets, client_id)["report"])

    analyst = Agent(
        role="Dependency analyst",
        goal=f"Map which of {client_id}'s assets depend on which",
        backstory="You read network inventories and know how applications reach their data.",
        llm=scripted_llm([tool_call("infer_dependencies")]),
        tools=[infer_dependencies],
    )
    writer = Agent(
        role="Report writer",
        goal=f"Write {client_id}'s asset plan for the account manager",
        backstory="You turn inventories into short plans a person can approve.",
        llm=scripted_llm([tool_call("write_asset_plan")]),
        tools=[write_asset_plan],
    )
    return Crew(
        name="dependency-analysis",
        agents=[analyst, writer],
        tasks=[
            Task(
                name="dependencies",
                description="List the dependencies between the classified assets of {client_id}.",
                expected_output='JSON: {"dependencies": [{"from", "to", "relation", "subnet"}]}',
                agent=analyst,
            ),
            Task(
                name="plan",
                description="Write the asset plan of {client_id} from the dependencies found.",
                expected_output="A plain-text plan: asset counts, dependencies, exposed assets.",
                agent=writer,
            ),
        ],
        process=Process.sequential,
        verbose=False,
    )


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
    """Register the ``discovery.*`` functions and the ``discovery.dependency_crew`` crew."""
    registry.add_function("discovery.normalise", normalise)
    registry.add_function("discovery.classify_asset", classify_asset)
    registry.add_function("discovery.publish", publish)
    registry.add_crew("discovery.dependency_crew", dependency_crew)


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
