"""Per-tenant API request limits (GW_API_RATE_LIMIT), shared by two API processes via Redis."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.service.conftest import Server, server_env, start_server

pytestmark = pytest.mark.integration

LIMIT = 10  # requests per minute and tenant
GRAPHWRIGHT = str(Path(sys.executable).parent / "graphwright")


@dataclass
class Limited:
    """Two API processes with auth and a request limit, and an admin key per tenant."""

    servers: tuple[Server, Server]
    keys: dict[str, str]


@pytest.fixture(scope="module")
def limited(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    """Two `serve` processes (no run slots), GW_AUTH=keys, 10 requests a minute per tenant."""
    folder = tmp_path_factory.mktemp("api-limit")
    env = server_env(
        database_url, GW_AUTH="keys", GW_WORKERS="0", GW_API_RATE_LIMIT=f"{LIMIT}/minute"
    )
    first = start_server(env, folder / "one.log")
    try:
        second = start_server(env, folder / "two.log")
    except BaseException:
        first.stop()
        raise
    keys: dict[str, str] = {}
    try:
        # Tenants of their own: their windows on the shared Redis are this test's alone.
        for role in ("flood", "calm"):
            tenant = f"{role}-{secrets.token_hex(4)}"
            made = subprocess.run(
                [
                    GRAPHWRIGHT,
                    "keys",
                    "create",
                    "--tenant",
                    tenant,
                    "--role",
                    "admin",
                    "--name",
                    "a",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert made.returncode == 0, made.stderr
            keys[role] = json.loads(made.stdout)["key"]
        yield Limited(servers=(first, second), keys=keys)
    finally:
        second.stop()
        first.stop()


def limited_count(metrics: str) -> float:
    """graphwright_api_requests_limited_total summed over tenants."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "graphwright_api_requests_limited_total"
    )


async def test_flooding_tenant_gets_429_while_another_is_served(limited: Limited) -> None:
    """One tenant's 11th request in a minute (over both processes) is 429; the other gets 200."""
    one, two = (server.url for server in limited.servers)
    flood = {"X-Api-Key": limited.keys["flood"]}
    async with httpx.AsyncClient(timeout=30) as http:
        answers = [
            await http.get(f"{(one, two)[i % 2]}/auth/whoami", headers=flood) for i in range(LIMIT)
        ]
        assert [a.status_code for a in answers] == [200] * LIMIT
        refused = await http.get(f"{one}/auth/whoami", headers=flood)
        refused_too = await http.post(f"{two}/threads/search", json={}, headers=flood)

        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["code"] == "rate_limit.exceeded"
        assert body["details"]["limit"] == f"{LIMIT}/minute per tenant"
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert body["details"]["retry_after"] == retry_after
        assert refused_too.status_code == 429  # the other process shares the window

        # Health, readiness, info and metrics are never limited.
        for path in ("/healthz", "/readyz", "/info"):
            assert (await http.get(one + path, headers=flood)).status_code == 200
        metrics = await http.get(one + "/metrics", headers=flood)
        assert metrics.status_code == 200
        assert limited_count(metrics.text) >= 1

    # The other tenant is served, through the official SDK, on both processes.
    for url in (one, two):
        async with get_client(url=url, api_key=limited.keys["calm"]) as client:
            assert await client.threads.search() == []
