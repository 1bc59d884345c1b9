"""Exposing a live server: Host check, CORS allow-list, refusal of unsafe CORS, access log."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.service.conftest import Server, server_env, start_server

pytestmark = pytest.mark.integration

APP_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def exposed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with JSON logs and one allowed CORS origin."""
    env = server_env(
        database_url,
        tenant=f"t-{secrets.token_hex(4)}",
        GW_WORKERS="0",
        GW_LOG_FORMAT="json",
        GW_CORS_ORIGINS=APP_ORIGIN,
    )
    running = start_server(env, tmp_path_factory.mktemp("exposed") / "server.log")
    yield running
    running.stop()


def _log_lines(server: Server) -> list[dict[str, Any]]:
    """Every line the server logged, each parsed as JSON (a non-JSON line fails the test)."""
    server.handle.flush()
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("rebound.attacker.example", 400),
        ("localhost", 200),
        ("127.0.0.1", 200),
        ("[::1]", 200),
    ],
    ids=["rebinding", "localhost", "ipv4-loopback", "ipv6-loopback"],
)
async def test_only_loopback_names_are_answered_by_default(
    exposed: Server, host: str, status: int
) -> None:
    """A loopback server answers its loopback names and refuses others with 400 http.bad_host."""
    port = urlsplit(exposed.url).port
    async with httpx.AsyncClient(base_url=exposed.url, timeout=10) as http:
        response = await http.get("/healthz", headers={"Host": f"{host}:{port}"})
    assert response.status_code == status
    if status == 400:
        assert response.json()["code"] == "http.bad_host"


async def test_cors_allow_list_on_the_live_server(exposed: Server) -> None:
    """The listed origin gets CORS headers and a preflight; another origin gets neither."""
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key",
    }
    async with httpx.AsyncClient(base_url=exposed.url, timeout=10) as http:
        allowed = await http.options("/threads", headers={"Origin": APP_ORIGIN, **preflight})
        listed = await http.get("/healthz", headers={"Origin": APP_ORIGIN})
        other = await http.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert listed.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-origin" not in other.headers


def test_any_origin_with_credentials_refuses_to_serve(database_url: str, tmp_path: Path) -> None:
    """`serve` with `*` origins and credentials allowed exits 2 with config.unsafe_cors."""
    env = server_env(database_url, GW_CORS_ORIGINS="*", GW_CORS_ALLOW_CREDENTIALS="1")
    script = Path(sys.executable).parent / "graphwright"
    done = subprocess.run(
        [str(script), "serve"], env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert b"config.unsafe_cors" in done.stderr


async def test_one_json_access_line_per_request(exposed: Server) -> None:
    """Each request logs exactly one JSON line with its route template, status and request id,
    and the response echoes the id."""
    request_id = f"test-{secrets.token_hex(8)}"
    async with httpx.AsyncClient(base_url=exposed.url, timeout=10) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        response = await http.get(f"/threads/{thread_id}", headers={"X-Request-Id": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    lines = [line for line in _log_lines(exposed) if line.get("request_id") == request_id]
    assert len(lines) == 1
    [line] = lines
    assert line["logger"] == "graphwright.access"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/threads/{thread_id}", 200)
    assert isinstance(line["duration_ms"], int | float)
    assert line["principal"] == "local"  # no GW_AUTH on loopback: the local principal
    assert line["tenant"] == exposed.env["GW_TENANT"]
    assert not [entry for entry in _log_lines(exposed) if entry["logger"] == "uvicorn.access"]


def test_start_and_drain_are_logged(database_url: str, tmp_path: Path) -> None:
    """`serve` logs where it listens and its settings at start, and its drain on SIGTERM."""
    env = server_env(database_url, GW_WORKERS="0", GW_LOG_FORMAT="json")
    server = start_server(env, tmp_path / "server.log")
    server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    messages = [
        line["message"]
        for line in lines
        if line["logger"] == "graphwright.serve" and line["level"] == "info"
    ]
    assert messages == ["serving", "shutting down", "stopped"]
    serving = next(line for line in lines if line["message"] == "serving")
    assert serving["url"] == server.url
    assert serving["workers"] == 0
    assert serving["allowed_hosts"] == "localhost,127.0.0.1,::1"
    stopped = next(line for line in lines if line["message"] == "stopped")
    assert stopped["requests_served"] >= 1
