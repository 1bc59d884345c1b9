"""Fixtures for the crew integration tests: engines (see ``runtime/conftest.py``) and a live
server of its own, on its own database, whose registry adds ``_crew_nodes.py``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.integration.conftest import CreateDatabase
from tests.integration.runtime.conftest import open_engine
from tests.integration.service.conftest import EXAMPLES, Server, server_env, start_server

__all__ = ["INLINE_DOC", "crew_client", "crew_server", "open_engine"]

NODES = Path(__file__).resolve().parent / "_crew_nodes.py"

INLINE_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "crew-inline",
    "state": {
        "topic": {"type": "string"},
        "facts": {"type": "string", "nullable": True},
        "summary": {"type": "object", "nullable": True},
        "usage": {"type": "object", "nullable": True},
    },
    "input": ["topic"],
    "output": ["facts", "summary", "usage"],
    "nodes": {
        "analyse": {
            "kind": "crew",
            "inputs": {"topic": "state.topic"},
            "crew": {
                "agents": {
                    "researcher": {
                        "role": "Researcher",
                        "goal": "Find facts about ${inputs.topic}",
                        "backstory": "A careful analyst.",
                        "llm": "scripted",
                        "tools": ["crewtest.lookup"],
                    },
                    "writer": {
                        "role": "Writer",
                        "goal": "Summarise the facts",
                        "backstory": "Writes short reports.",
                        "llm": "scripted",
                    },
                },
                "tasks": [
                    {
                        "name": "research",
                        "description": "Research ${inputs.topic}.",
                        "expected_output": "Facts.",
                        "agent": "researcher",
                    },
                    {
                        "name": "summary",
                        "description": "Summarise the facts.",
                        "expected_output": "A summary object.",
                        "agent": "writer",
                        "output_schema": "summary",
                    },
                ],
            },
            "outputs": {"facts": "tasks[0].raw", "summary": "json.summary", "usage": "usage"},
        }
    },
    "edges": [{"from": "START", "to": "analyse"}, {"from": "analyse", "to": "END"}],
}


@pytest.fixture(scope="session")
async def crew_server(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    """A live server on a database of its own (its workers claim runs of any tenant), with
    the examples and ``crew-inline`` published."""
    env = server_env(
        await create_database(),
        GW_WORKERS="4",
        GW_REGISTRY_MODULES=f"graphwright.examples,{NODES}",
    )
    folder = tmp_path_factory.mktemp("crew-server")
    inline = folder / "crew-inline.json"
    inline.write_text(json.dumps(INLINE_DOC))
    script = Path(sys.executable).parent / "graphwright"
    done = await asyncio.to_thread(
        subprocess.run,
        [str(script), "publish", str(EXAMPLES / "asset-discovery.json"), str(inline)],
        env=env,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"publishing failed: {done.stderr.decode()[-4000:]}")
    running = await asyncio.to_thread(start_server, env, folder / "server.log")
    yield running
    await asyncio.to_thread(running.stop)


@pytest.fixture
async def crew_client(crew_server: Server) -> AsyncIterator[LangGraphClient]:
    """The official LangGraph SDK client on the crew server."""
    async with get_client(url=crew_server.url) as sdk:
        yield sdk
