"""``graphwright prune`` as an operator runs it, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from graphwright.cli import app
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from graphwright.store import Pool
from graphwright.store.thread_removal import ThreadRef
from graphwright.store.thread_ttl import expire_threads, set_thread_ttl
from tests.integration.hygiene_rows import checkpoint_counts, run_ids, thread_rows

pytestmark = pytest.mark.integration

CHAIN: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "cli-prune",
    "state": {"trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {
        name: {
            "kind": "function",
            "ref": "cp.step",
            "inputs": {"name": f"'{name}'"},
            "writes": "trail",
        }
        for name in ("one", "two", "three")
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "three"},
        {"from": "three", "to": "END"},
    ],
}


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points at the test database."""
    monkeypatch.setenv("GW_DATABASE_URL", database_url)
    monkeypatch.delenv("GW_REGISTRY_MODULES", raising=False)
    monkeypatch.delenv("GW_THREAD_TTL_MINUTES", raising=False)
    return CliRunner()


async def invoke(cli: CliRunner, *args: str) -> Result:
    """Run the command in a thread: it runs its own event loop, as it does for a user."""
    return await asyncio.to_thread(functools.partial(cli.invoke, app, list(args)))


@pytest.fixture
async def engine(database_url: str, pool: Pool, tenant: str) -> Any:
    """An engine of the test's tenant with the three-step chain published."""
    registry = Registry()

    async def step(name: str) -> str:
        return name

    registry.add_function("cp.step", step)
    settings = Settings(database_url=database_url, tenant=tenant, pool_max_size=4)
    async with Engine(settings, registry=registry) as opened:
        await opened.publish(CHAIN)
        yield opened


async def finished(engine: Engine, runs: int = 2) -> str:
    """A thread that ran the chain ``runs`` times."""
    thread_id = (await engine.run("cli-prune")).thread_id
    for _ in range(runs - 1):
        await engine.run("cli-prune", thread_id=thread_id)
    return thread_id


async def test_dry_run_prints_what_would_go_and_deletes_nothing(
    cli: CliRunner, engine: Engine, pool: Pool, tenant: str
) -> None:
    """--dry-run lists each thread with the rows it would lose and deletes nothing; the real
    run then deletes exactly that, and a second run finds nothing to do."""
    thread_id = await finished(engine)
    ref = (tenant, thread_id)
    before = await thread_rows(pool, [ref])

    dry = await invoke(cli, "prune", "--tenant", tenant, "--older-than", "0s", "--dry-run")
    unchanged = await thread_rows(pool, [ref])
    real = await invoke(cli, "prune", "--tenant", tenant, "--older-than", "0", "--json")
    after = await thread_rows(pool, [ref])
    again = await invoke(cli, "prune", "--tenant", tenant, "--older-than", "0", "--json")

    assert dry.exit_code == 0, dry.output
    assert f"would prune {tenant}/{thread_id}: " in dry.stdout
    assert "would prune 1 threads" in dry.stderr
    assert "dry run: nothing was deleted" in dry.stderr
    assert unchanged == before
    assert real.exit_code == 0, real.output
    outcome = json.loads(real.stdout)
    assert outcome["pruned_threads"] == [f"{tenant}/{thread_id}"]
    assert outcome["pruned_rows"]["checkpoints"] == before["checkpoints"] - 1
    assert f"{outcome['pruned_rows']['checkpoints']:,} checkpoints" in dry.stdout
    assert after["checkpoints"] == 1
    assert (await checkpoint_counts(pool, ref)) == {"": 1}
    assert json.loads(again.stdout)["pruned_threads"] == []


async def test_older_than_and_keep_are_honoured(
    cli: CliRunner, engine: Engine, pool: Pool, tenant: str
) -> None:
    """Recent threads are left alone by --older-than 1h; --keep 2 keeps two checkpoints."""
    thread_id = await finished(engine)

    recent = await invoke(cli, "prune", "--tenant", tenant, "--older-than", "1h", "--json")
    kept = await invoke(cli, "prune", "--tenant", tenant, "--older-than", "0", "--keep", "2")

    assert json.loads(recent.stdout)["pruned_threads"] == []
    assert kept.exit_code == 0, kept.output
    assert "pruned 1 threads: " in kept.stderr
    assert (await checkpoint_counts(pool, (tenant, thread_id))) == {"": 2}


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--older-than", "soon"], id="bad-duration"),
        pytest.param(["--keep", "0"], id="keep-zero"),
        pytest.param(["--tenant", "Not A Tenant"], id="bad-tenant"),
    ],
)
async def test_bad_options_exit_2(cli: CliRunner, args: list[str]) -> None:
    """A duration that is not one, --keep 0 or a malformed tenant is a usage error (exit 2)."""
    result = await invoke(cli, "prune", *args)

    assert result.exit_code == 2, result.output


async def remaining(pool: Pool, tenant: str) -> int:
    """Threads the tenant has left."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select count(*) as n from gw_threads where tenant_id = %s", (tenant,)
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row["n"]) - 1  # the source thread stays


async def test_cli_and_a_sweeper_expire_threads_together(
    engine: Engine, pool: Pool, database_url: str, tenant: str
) -> None:
    """`graphwright prune --expired` in its own process and a sweeper here, at once, remove
    150 expired threads between them: both succeed, none is removed twice, none is left."""
    source = await finished(engine)
    doomed = [f"x-{i:03}" for i in range(150)]
    for thread_id in doomed:
        await engine.runtime.states.copy_thread(tenant, source, thread_id)
    refs = [(tenant, t) for t in doomed]
    await asyncio.gather(*(set_thread_ttl(pool, tenant, t, minutes=0.001) for t in doomed))
    await asyncio.sleep(0.15)
    runs = await run_ids(pool, refs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env["GW_DATABASE_URL"] = database_url
    script = Path(sys.executable).parent / "graphwright"
    command = [str(script), "prune", "--expired", "--tenant", tenant, "--older-than", "100d"]

    process = await asyncio.create_subprocess_exec(
        *command, "--batch", "2", "--json", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    async with asyncio.timeout(60):  # start when the command has begun deleting
        while process.returncode is None and await remaining(pool, tenant) == len(doomed):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    here = await expire_threads(pool, default_minutes=None, tenant=tenant, batch=2)
    out, err = await process.communicate()

    assert process.returncode == 0, err.decode()
    there = {ThreadRef(*ref.split("/", 1)) for ref in json.loads(out)["expired_threads"]}
    print(f"\nexpired by the command: {len(there)}, by the sweeper here: {len(here.deleted)}")
    assert not there & set(here.deleted)
    assert there | set(here.deleted) == {ThreadRef(tenant, t) for t in doomed}
    assert await thread_rows(pool, refs, runs) == dict.fromkeys(await thread_rows(pool, []), 0)
