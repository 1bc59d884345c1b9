"""Liveness, readiness and Prometheus metrics of a live server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.service.conftest import (
    EXAMPLES,
    Server,
    free_port,
    server_env,
    start_server,
)

pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())
TENANT = "default"  # the tenant of the `server` fixture
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def redisless_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server (API only) whose Redis URL points at a port where nothing listens."""
    env = server_env(
        database_url,
        GW_WORKERS="0",
        GW_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    running = start_server(env, tmp_path_factory.mktemp("redisless") / "server.log")
    yield running
    running.stop()


async def scrape(http: httpx.AsyncClient) -> Samples:
    """GET /metrics parsed into {(sample name, sorted labels): value}."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_info_answers_like_langgraph_server(http: httpx.AsyncClient) -> None:
    """GET /info names the version and the optional APIs it serves (assistants, the store)."""
    from graphwright import __version__

    answer = await http.get("/info")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == __version__
    assert body["langgraph_py_version"]
    assert body["flags"]["assistants"] is True
    assert body["flags"]["store"] is True


async def test_healthz_says_ok(http: httpx.AsyncClient) -> None:
    """/healthz answers 200 {"status": "ok"}."""
    response = await http.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_checks_postgres_redis_and_migrations(http: httpx.AsyncClient) -> None:
    """/readyz is 200 with every check ok on a healthy server."""
    response = await http.get("/readyz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "postgres": True,
        "redis": True,
        "migrations": True,
    }


async def test_readyz_is_503_naming_redis_when_redis_is_down(redisless_server: Server) -> None:
    """/readyz is a 503 problem listing redis when Redis cannot be reached; /healthz stays 200."""
    async with httpx.AsyncClient(base_url=redisless_server.url, timeout=30) as http:
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")

    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    body = ready.json()
    assert (body["code"], body["failed"]) == ("service.not_ready", ["redis"])
    assert body["checks"]["postgres"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert alive.status_code == 200


async def test_metrics_count_runs_and_observe_durations(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """After a finished run, the tenant's runs by status and run duration histogram count it."""
    before = await scrape(http)
    thread = await client.threads.create()

    await client.runs.wait(thread["thread_id"], "svc-chain", input={"token": "m"})

    after = await scrape(http)
    runs, success = "graphwright_runs", {"tenant": TENANT, "status": "success"}
    assert value(after, runs, **success) >= value(before, runs, **success) + 1
    duration = "graphwright_run_duration_seconds_count"
    labels = {"tenant": TENANT, "workflow_id": "svc-chain", "status": "success"}
    assert value(after, duration, **labels) >= value(before, duration, **labels) + 1
    assert all("tenant" in dict(found) for name, found in after if name in (runs, duration))
    assert not any(name.startswith("python_gc") for name, _ in after), "own registry only"


async def test_metrics_gauge_pending_approvals_and_queue_depth(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """A gate adds to the tenant's pending approvals; a delayed run, to its queue depth."""
    before = await scrape(http)
    gated = await client.threads.create()
    await client.runs.wait(gated["thread_id"], "asset-discovery", input=DISCOVERY_INPUT)
    queued_thread = await client.threads.create()
    queued = await client.runs.create(
        queued_thread["thread_id"], "svc-chain", input={"token": "q"}, after_seconds=600
    )

    during = await scrape(http)
    await client.runs.cancel(queued_thread["thread_id"], queued["run_id"])

    pending = "graphwright_approvals_pending"
    assert value(during, pending, tenant=TENANT) >= value(before, pending, tenant=TENANT) + 1
    queue = "graphwright_queue_depth"
    assert value(during, queue, tenant=TENANT) >= value(before, queue, tenant=TENANT) + 1
    assert value(during, "graphwright_runs", tenant=TENANT, status="pending") >= 1


async def test_metrics_show_active_streams_and_runs(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """While a slow run streams, active SSE streams and worker active runs are at least 1."""
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "svc-chain",
        input={"token": "s", "delays": {"one": 0.0, "two": 3.0, "three": 0.0}},
    )
    started = asyncio.Event()

    async def follow() -> None:
        async for _ in client.runs.join_stream(thread["thread_id"], run["run_id"]):
            started.set()

    streaming = asyncio.create_task(follow())
    await asyncio.wait_for(started.wait(), 10)

    during = await scrape(http)
    await streaming

    assert value(during, "graphwright_sse_streams_active") >= 1
    assert value(during, "graphwright_worker_active_runs") >= 1
    assert value(during, "graphwright_runs", tenant=TENANT, status="running") >= 1


async def test_metrics_observe_node_durations(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """Node durations of finished runs are observed per tenant, workflow and node."""
    thread = await client.threads.create()

    await client.runs.wait(thread["thread_id"], "svc-chain", input={"token": "n"})

    after = await scrape(http)
    name = "graphwright_node_duration_seconds_count"
    labels = {"tenant": TENANT, "workflow_id": "svc-chain", "node": "two", "outcome": "finished"}
    assert value(after, name, **labels) >= 1
