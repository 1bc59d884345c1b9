"""Crew nodes through the live service and the official ``langgraph-sdk`` client: crew
progress in the ``progress`` stream, outputs in state, tokens and durations in /metrics."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.service.conftest import EXAMPLES, Server

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")
pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())


async def progress_of(
    client: LangGraphClient, workflow_id: str, data: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    """Run ``workflow_id`` on a new thread; return the thread id and its progress events."""
    thread = await client.threads.create()
    modes: Any = ["progress"]  # graphwright's own mode, unknown to the SDK's types
    events = [
        part.data
        async for part in client.runs.stream(
            thread["thread_id"], workflow_id, input=data, stream_mode=modes
        )
        if part.event == "progress"
    ]
    return thread["thread_id"], events


async def test_asset_discovery_crew_progress_reaches_the_sdk(
    crew_server: Server, crew_client: LangGraphClient
) -> None:
    """The example's crew events arrive in the progress stream, in order, for node analyse;
    the crew's outputs are in the thread's state at the approval gate."""
    thread_id, events = await progress_of(crew_client, "asset-discovery", DISCOVERY_INPUT)

    crew = [e for e in events if e["type"].startswith("crew.")]
    kinds = [e["type"] for e in crew]
    assert kinds[0] == "crew.started"
    assert kinds[-1] == "crew.usage"
    assert kinds.count("crew.tool_used") == 2
    assert kinds.count("crew.task_completed") == 2
    assert {e["node"] for e in crew} == {"analyse"}
    assert {e["thread_id"] for e in crew} == {thread_id}
    started = crew[0]["data"]
    assert started["agents"] == ["Dependency analyst", "Report writer"]
    usage = crew[-1]["data"]
    assert usage["tokens"] > 0
    assert usage["duration_ms"] > 0
    nodes = [e["node"] for e in events if e["type"] == "node.finished"]
    assert nodes.index("analyse") > nodes.index("classify")

    state = await crew_client.threads.get_state(thread_id)
    values: Any = state["values"]
    assert values["report"].startswith("Asset plan for acme")
    assert len(values["dependencies"]) == 2
    assert state["next"] == ["review"]


async def test_inline_crew_runs_through_the_service(
    crew_server: Server, crew_client: LangGraphClient
) -> None:
    """A published inline crew runs by the SDK's wait; outputs are mapped and validated."""
    thread = await crew_client.threads.create()
    result = await crew_client.runs.wait(
        thread["thread_id"], "crew-inline", input={"topic": "web-1"}
    )

    assert isinstance(result, dict)
    assert result["facts"] == "web-1 is a web server"
    assert result["summary"] == {"title": "Web tier", "assets": 1}
    assert result["usage"]["successful_requests"] == 3


async def test_crew_tokens_and_durations_are_metrics(
    crew_server: Server, crew_client: LangGraphClient
) -> None:
    """After a crew run, /metrics has its tenant's tokens by kind and duration by status."""
    await progress_of(crew_client, "crew-inline", {"topic": "web-1"})

    async with httpx.AsyncClient(base_url=crew_server.url) as http:
        text = (await http.get("/metrics")).text

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    node = (("node", "analyse"), ("tenant", "default"), ("workflow_id", "crew-inline"))
    for kind in ("completion", "prompt"):
        key = tuple(sorted((*node, ("kind", kind))))
        assert samples[("graphwright_crew_tokens_total", key)] > 0
    key = tuple(sorted((*node, ("status", "completed"))))
    assert samples[("graphwright_crew_duration_seconds_count", key)] >= 1
