"""An embedding program's runs take the one run path: a run row any client can see, events in
the log, and a run that a worker finishes under the same id when the program is killed."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from graphwright.registry import load_registry_modules
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from tests.integration.service.conftest import NODES, Server
from tests.integration.service.sse import read_events

pytestmark = pytest.mark.integration

CHILD = textwrap.dedent(
    """
    import asyncio
    import sys

    from graphwright.registry import load_registry_modules
    from graphwright.runtime.engine import Engine
    from graphwright.settings import Settings


    async def main(url, nodes, thread_id, token, marks):
        settings = Settings(
            database_url=url, lease_seconds=1, pool_min_size=1, pool_max_size=2
        )
        registry = load_registry_modules(["graphwright.examples", nodes])
        async with Engine(settings, registry=registry) as engine:
            await engine.run(
                "svc-chain",
                {"token": token, "marks": marks, "delays": {"one": 0, "two": 3, "three": 0}},
                thread_id=thread_id,
            )


    asyncio.run(main(*sys.argv[1:]))
    """
)


def marks_of(path: Path, token: str) -> Counter[str]:
    """Side effects written by ``svc.step`` for ``token``: label -> count."""
    if not path.exists():
        return Counter()
    return Counter(
        line.split()[1] for line in path.read_text().splitlines() if line.startswith(token)
    )


async def test_embedded_run_is_visible_through_the_api(
    server: Server, client: LangGraphClient, database_url: str
) -> None:
    """``Engine.run`` leaves a run row the SDK reads, and its events replay from the log."""
    settings = Settings(database_url=database_url, pool_min_size=1, pool_max_size=4)
    registry = load_registry_modules(["graphwright.examples", str(NODES)])
    async with Engine(settings, registry=registry) as engine:
        result = await engine.run("svc-chain", {"token": "emb"}, thread_id=f"emb-{uuid.uuid4()}")
    assert result.status == "completed"

    run = await client.runs.get(result.thread_id, result.run_id)
    assert run["status"] == "success"
    assert run["assistant_id"] == "svc-chain"
    listed = await client.runs.list(result.thread_id)
    assert [r["run_id"] for r in listed] == [result.run_id]

    async with httpx.AsyncClient(timeout=10) as http:
        events = await read_events(
            http,
            f"{server.url}/threads/{result.thread_id}/runs/{result.run_id}/stream",
            params={"stream_mode": "progress"},
        )
    progress = [json.loads(e.data)["type"] for e in events if e.event == "progress"]
    assert progress[0] == "run.started"
    assert progress[-1] == "run.finished"
    assert progress.count("node.finished") == 3
    ids = [int(e.id) for e in events if e.id]
    assert ids == list(range(1, len(ids) + 1))


async def test_killed_embedding_program_run_is_finished_by_a_worker(
    server: Server, client: LangGraphClient, database_url: str, tmp_path: Path
) -> None:
    """SIGKILL mid-run: the server's worker finishes it under the same run id; no node ran twice."""
    thread_id = f"kill-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex[:8]
    marks = tmp_path / "marks.txt"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with (tmp_path / "child.log").open("wb") as log:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            database_url,
            str(NODES),
            thread_id,
            token,
            str(marks),
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 60
            while marks_of(marks, token)["one"] == 0:  # node two is now sleeping
                assert time.monotonic() < deadline, "the child never ran node one"
                assert child.returncode is None, (tmp_path / "child.log").read_text()
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
            await child.wait()
    runs = await client.runs.list(thread_id)
    assert len(runs) == 1
    assert runs[0]["status"] == "running"

    async with asyncio.timeout(60):
        values = await client.runs.join(thread_id, runs[0]["run_id"])
    assert values["trail"] == ["one", "two", "three"]
    finished = await client.runs.get(thread_id, runs[0]["run_id"])
    assert finished["status"] == "success"
    assert finished["attempts"] == 2
    assert marks_of(marks, token) == Counter({"one": 1, "two": 1, "three": 1})
