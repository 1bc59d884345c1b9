"""``GET /ops/summary`` and the clients' ``ops.summary()`` against a live server of its own tenant.

The server has a tenant nobody else uses, so its figures are exactly those of the
runs made here, and equal to what ``/metrics`` exports for that tenant.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphwright.client import AsyncClient, Client, OpsSummary
from tests.integration.service.conftest import Server, server_env, start_server
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

GATED, SLOW, FAILING = "ops-gated", "ops-slow", "ops-failing"


@dataclass
class Scene:
    """The server and the runs made on it: what each workflow's figures must be."""

    server: Server
    tenant: str
    expected: dict[str, dict[str, int]]


def start(server: Server, workflow_id: str, run_input: dict[str, Any], **options: Any) -> str:
    """Start a background run of ``workflow_id`` on a new thread; returns the thread id."""
    thread = httpx.post(server.url + "/threads", json={}, timeout=10)
    thread.raise_for_status()
    thread_id = str(thread.json()["thread_id"])
    run = httpx.post(
        f"{server.url}/threads/{thread_id}/runs",
        json={"assistant_id": workflow_id, "input": run_input, **options},
        timeout=10,
    )
    run.raise_for_status()
    return thread_id


def wait_for(server: Server, thread_id: str, statuses: set[str]) -> None:
    """Wait until the thread's newest run has one of ``statuses``."""
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        [run] = httpx.get(f"{server.url}/threads/{thread_id}/runs", params={"limit": 1}).json()
        status = run["status"]
        if status in statuses:
            return
        time.sleep(0.1)
    raise AssertionError(f"run on {thread_id} is {status}, not one of {statuses}")


@pytest.fixture(scope="module")
def scene(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """A server of a fresh tenant with 2 gated, 1 running, 2 queued and 1 failed run."""
    tenant = f"ops-{secrets.token_hex(4)}"
    env = server_env(database_url, tenant, GW_WORKERS="2")
    server = start_server(env, tmp_path_factory.mktemp("ops") / "server.log")
    try:
        for document in (
            chain(GATED, ["first", "last"], approval=True),
            chain(SLOW, ["one"]),
            chain(FAILING, ["one"]),
        ):
            httpx.post(server.url + "/workflows", json=document, timeout=30).raise_for_status()
        for _ in range(2):
            wait_for(server, start(server, GATED, {"token": "g"}), {"interrupted"})
        running = start(server, SLOW, {"token": "s", "delays": {"one": 60.0}})
        wait_for(server, running, {"running"})
        for _ in range(2):
            start(server, SLOW, {"token": "q"}, after_seconds=600)
        # asyncio.sleep("never") raises TypeError in the node: the run ends as error.
        wait_for(server, start(server, FAILING, {"delays": {"one": "never"}}), {"error"})
        expected = {
            GATED: {"queued": 0, "running": 0, "failed_last_hour": 0, "approvals_pending": 2},
            SLOW: {"queued": 2, "running": 1, "failed_last_hour": 0, "approvals_pending": 0},
            FAILING: {"queued": 0, "running": 0, "failed_last_hour": 1, "approvals_pending": 0},
        }
        yield Scene(server=server, tenant=tenant, expected=expected)
    finally:
        server.stop()


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus exposition (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_summary_counts_each_workflow_and_the_total(scene: Scene) -> None:
    """Gated, running, queued and failed runs are counted per workflow and in total."""
    answer = httpx.get(scene.server.url + "/ops/summary", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["tenant"] == scene.tenant
    assert body["failed_window_seconds"] == 3600
    per = {w.pop("workflow_id"): w for w in body["workflows"]}
    assert per == scene.expected
    assert body["total"] == {
        "queued": 2,
        "running": 1,
        "failed_last_hour": 1,
        "approvals_pending": 2,
    }


def test_summary_equals_what_metrics_export_for_the_tenant(scene: Scene) -> None:
    """Each total is the tenant's /metrics figure: queue, running, failed last hour, approvals."""
    total = httpx.get(scene.server.url + "/ops/summary", timeout=10).json()["total"]
    text = httpx.get(scene.server.url + "/metrics", timeout=10).text
    tenant = scene.tenant
    assert total == {
        "queued": metric(text, "graphwright_queue_depth", tenant=tenant),
        "running": metric(text, "graphwright_runs", tenant=tenant, status="running"),
        "failed_last_hour": metric(text, "graphwright_runs_failed_last_hour", tenant=tenant),
        "approvals_pending": metric(text, "graphwright_approvals_pending", tenant=tenant),
    }


def test_sync_client_reads_the_summary(scene: Scene) -> None:
    """Client.ops.summary() gives the same figures, typed."""
    with Client(scene.server.url) as gw:
        summary = gw.ops.summary()
    assert isinstance(summary, OpsSummary)
    assert summary.tenant == scene.tenant
    assert (summary.total.queued, summary.total.running) == (2, 1)
    assert (summary.total.failed_last_hour, summary.total.approvals_pending) == (1, 2)
    per = {w.workflow_id: w.model_dump(exclude={"workflow_id"}) for w in summary.workflows}
    assert per == scene.expected


async def test_async_client_reads_the_summary(scene: Scene) -> None:
    """AsyncClient.ops.summary() gives the same figures as the sync client."""
    async with AsyncClient(scene.server.url) as gw:
        summary = await gw.ops.summary()
    with Client(scene.server.url) as sync:
        assert summary == sync.ops.summary()
    assert [w.workflow_id for w in summary.workflows] == sorted(scene.expected)
