"""A live graphwright server (subprocess on loopback) for tests of the HTTP API.

The server runs ``graphwright serve`` against the session's throw-away database
with Redis, so tests exercise the real process, sockets and SSE framing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.integration.service.workflows import chain, options_probe

REDIS_URL = os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NODES = Path(__file__).resolve().parent / "_service_nodes.py"
TEST_WORKFLOWS = {
    "svc-chain": chain("svc-chain", ["one", "two", "three"]),
    "svc-gated": chain("svc-gated", ["first", "last"], approval=True),
    "svc-options": options_probe(),
}


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
    handle: BinaryIO

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.handle.close()


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
            "GW_REGISTRY_MODULES": f"graphwright.examples,{NODES}",
            # Small pools: two test processes run several servers at once against a
            # PostgreSQL with the default max_connections (100).
            "GW_POOL_MIN_SIZE": "1",
            "GW_POOL_MAX_SIZE": "6",
        }
    )
    env.update(extra)
    return env


def start_server(
    env: dict[str, str], log: Path, *, command: str = "serve", args: tuple[str, ...] = ()
) -> Server:
    """Start ``graphwright serve`` (or ``worker``, with ``args``) and wait until it answers."""
    port = free_port()
    env = {**env, "GW_PORT": str(port)}
    script = Path(sys.executable).parent / "graphwright"
    handle = log.open("wb")
    process = subprocess.Popen([str(script), command, *args], env=env, stdout=handle, stderr=handle)
    url = f"http://127.0.0.1:{port}"
    server = Server(url=url, process=process, env=env, log=log, handle=handle)
    if command != "serve":
        return server
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            handle.close()
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-4000:]}")


def publish_examples(env: dict[str, str], folder: Path) -> None:
    """Publish every example workflow and the test workflows with the CLI."""
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
    for workflow_id, doc in TEST_WORKFLOWS.items():
        path = folder / f"{workflow_id}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
    done = subprocess.run(
        [str(script), "publish", *map(str, files)], env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"publishing failed: {done.stderr.decode()[-4000:]}")


@pytest.fixture(scope="session")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One live server for the session, examples published, 4 run slots, Redis fan-out."""
    env = server_env(database_url, GW_WORKERS="4")
    folder = tmp_path_factory.mktemp("server")
    publish_examples(env, folder)
    log = folder / "server.log"
    running = start_server(env, log)
    yield running
    running.stop()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[LangGraphClient]:
    """The official LangGraph SDK client on the live server (closed after the test)."""
    async with get_client(url=server.url) as sdk:
        yield sdk
