"""A live graphwright server (subprocess on loopback) for tests of the HTTP API.

The server runs ``graphwright serve`` against the session's throw-away database
with Redis, so tests exercise the real process, sockets and SSE framing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REDIS_URL = os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server process."""

    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def server_env(database_url: str, tenant: str = "default", **extra: str) -> dict[str, str]:
    """Environment for a graphwright process on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env.update(
        {
            "GW_DATABASE_URL": database_url,
            "GW_REDIS_URL": REDIS_URL,
            "GW_TENANT": tenant,
            "GW_LEASE_SECONDS": "3",
            "GW_HEARTBEAT_SECONDS": "2",
            "GW_DRAIN_SECONDS": "5",
        }
    )
    env.update(extra)
    return env


def start_server(env: dict[str, str], log: Path, *, command: str = "serve") -> Server:
    """Start ``graphwright serve`` (or ``worker``) and wait until it answers."""
    port = free_port()
    env = {**env, "GW_PORT": str(port)}
    script = Path(sys.executable).parent / "graphwright"
    handle = log.open("wb")
    process = subprocess.Popen([str(script), command], env=env, stdout=handle, stderr=handle)
    url = f"http://127.0.0.1:{port}"
    server = Server(url=url, process=process, env=env, log=log)
    if command != "serve":
        return server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-4000:]}")


def publish_examples(env: dict[str, str]) -> None:
    """Publish every example workflow with the CLI (subworkflows first)."""
    script = Path(sys.executable).parent / "graphwright"
    files = [
        EXAMPLES / name
        for name in (
            "incident-response.json",
            "monitoring.json",
            "threat-triage.json",
            "asset-discovery.json",
            "draft-review-loop.json",
        )
    ]
    subprocess.run(
        [str(script), "publish", *map(str, files)], env=env, check=True, capture_output=True
    )


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One live server for the session, examples published, 4 run slots, Redis fan-out."""
    env = server_env(database_url, GW_WORKERS="4")
    publish_examples(env)
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(env, log)
    yield running
    running.stop()
