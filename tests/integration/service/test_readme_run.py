"""The README's examples run as written: Python on a live server and in-process, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient

from tests.readme_snippets import README, Snippet, marked

from .conftest import Server

pytestmark = pytest.mark.integration

DOCUMENTED_URL = "http://127.0.0.1:8123"


async def run_python(snippet: Snippet, namespace: dict[str, Any]) -> None:
    """Execute a block as ``python -m asyncio`` would (top-level await)."""
    result = eval(snippet.compiled(), namespace)
    try:
        if result is not None:
            await result
    finally:
        # A reader's interpreter exits here; the test closes the clients the block left open.
        for value in namespace.values():
            if isinstance(value, LangGraphClient):
                await value.aclose()


@pytest.mark.parametrize("snippet", marked("service"), ids=lambda s: s.where)
async def test_service_block_runs(
    snippet: Snippet, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service block runs against a live server with only its URL changed."""
    monkeypatch.chdir(README.parent)
    code = snippet.code.replace(DOCUMENTED_URL, server.url)
    await run_python(Snippet(snippet.line, snippet.lang, snippet.marker, code), {})


@pytest.mark.parametrize("snippet", marked("embedded"), ids=lambda s: s.where)
async def test_embedded_block_runs(
    snippet: Snippet, database_url: str, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An embedded block runs in-process on a test database, as written."""
    monkeypatch.chdir(README.parent)
    monkeypatch.setenv("GW_DATABASE_URL", database_url)
    monkeypatch.setenv("GW_TENANT", tenant)
    monkeypatch.delenv("GW_REDIS_URL", raising=False)
    # A script: it calls asyncio.run itself, so it runs in a thread of its own, as `python file.py`.
    await asyncio.to_thread(exec, snippet.compiled(), {"__name__": "__main__"})


def cli_lines(snippet: Snippet) -> list[str]:
    """The ``uv run graphwright ...`` lines of a block, trailing comments dropped."""
    lines = []
    joined = re.sub(r"\\\n\s*", " ", snippet.code)  # shell line continuations
    for line in joined.splitlines():
        if line.startswith("uv run graphwright "):
            lines.append(re.sub(r"\s+#.*$", "", line))
    return lines


@pytest.mark.parametrize("snippet", marked("cli"), ids=lambda s: s.where)
def test_cli_block_runs(snippet: Snippet, database_url: str, tenant: str, tmp_path: Path) -> None:
    """Each command of a CLI block exits 0 in a fresh folder holding the examples."""
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env.update(GW_DATABASE_URL=database_url, GW_TENANT=tenant)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ids: dict[str, str] = {}
    lines = cli_lines(snippet)
    assert lines, f"{snippet.where}: a cli block without 'uv run graphwright' lines"
    for line in lines:
        command = line.removeprefix("uv run ")
        for name in PLACEHOLDER.findall(command):
            assert name in ids, f"{snippet.where}: {line!r} needs a {name} printed before it"
            command = command.replace(f"<{name}>", ids[name])
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"{snippet.where}: {line}\n{done.stdout}\n{done.stderr}"
        ids.update(printed_ids(done.stdout))


PLACEHOLDER = re.compile(r"<([a-z_]+)>")


def printed_ids(output: str) -> dict[str, str]:
    """The ids a command printed as JSON: ``<thread_id>``, ``<cron_id>``, ... (``<id>``: thread)."""
    try:
        data = json.loads(output)
    except ValueError:
        return {}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return {}
    found = {k: v for k, v in data.items() if k.endswith("_id") and isinstance(v, str)}
    if "thread_id" in found:
        found["id"] = found["thread_id"]
    return found
