"""A process killed mid-run: its thread is resumed elsewhere without re-running done nodes."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

import pytest

from graphwright.errors import WorkflowConflictError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunResult

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

NODES_PATH = Path(__file__).with_name("_kill_nodes.py")
HANG_GUARD = 60.0  # seconds before a stuck wait fails the test instead of hanging it

CHILD_SCRIPT = textwrap.dedent(
    """
    import asyncio
    import sys

    from graphwright.registry import load_registry_modules
    from graphwright.runtime.engine import Engine
    from graphwright.settings import Settings


    async def main(url, tenant, thread_id, nodes_path, workdir):
        registry = load_registry_modules([nodes_path])
        settings = Settings(
            database_url=url, tenant=tenant, lease_seconds=1, pool_min_size=1, pool_max_size=2
        )
        async with Engine(settings, registry=registry) as engine:
            await engine.run("kill-chain", {"workdir": workdir}, thread_id=thread_id)


    asyncio.run(main(*sys.argv[1:]))
    """
)


def load_nodes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gw_test_kill_nodes", NODES_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def wait_for_line(
    nodes: ModuleType, workdir: Path, line: str, child: asyncio.subprocess.Process
) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while line not in nodes.effects(workdir):
            if child.returncode is not None:
                pytest.fail(f"child exited ({child.returncode}) before logging {line!r}")
            await asyncio.sleep(0.02)


async def resume_when_lease_expires(engine: Engine, thread_id: str) -> tuple[RunResult, list[str]]:
    """Resume, retrying while the dead process's lease holds; return the result and refusals."""
    refused: list[str] = []
    async with asyncio.timeout(HANG_GUARD):
        while True:
            try:
                return await engine.resume(thread_id), refused
            except WorkflowConflictError as exc:
                refused.append(exc.code)
                await asyncio.sleep(0.1)


async def test_sigkilled_run_resumes_from_last_checkpoint(
    open_engine: OpenEngine, database_url: str, tenant: str, tmp_path: Path
) -> None:
    """After SIGKILL during node 3, resume completes the run; nodes 1 and 2 ran exactly once."""
    nodes = load_nodes()
    registry = Registry()
    nodes.register(registry)
    engine = await open_engine(registry, lease_seconds=1)
    await engine.publish(nodes.workflow())
    thread_id = f"kill-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / nodes.HOLD).touch()
    script = tmp_path / "child.py"
    script.write_text(CHILD_SCRIPT)

    with (tmp_path / "child.err").open("wb") as stderr:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            database_url,
            tenant,
            thread_id,
            str(NODES_PATH),
            str(workdir),
            stdout=stderr,
            stderr=stderr,
        )
        try:
            # Node 3 starting means node 2's checkpoint is saved (durability "sync").
            await wait_for_line(nodes, workdir, "three:started", child)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
            await child.wait()
    stranded = await engine.threads.get(tenant, thread_id)
    (workdir / nodes.HOLD).unlink()

    result, refused = await resume_when_lease_expires(engine, thread_id)

    assert child.returncode == -signal.SIGKILL
    assert stranded.status == "running"
    assert refused, "the dead process's lease should hold the thread for a moment"
    assert set(refused) == {"thread.busy"}
    assert (result.status, result.run_id) == ("completed", stranded.run_id)
    assert result.values["trail"] == ["one", "two", "three"]
    assert Counter(nodes.effects(workdir)) == Counter(
        {"one": 1, "two": 1, "three:started": 2, "three": 1}
    )
    assert (await engine.get_state(thread_id)).status == "completed"
