"""Tenants are data: any worker executes any tenant's run, always in that run's tenant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from graphwright.settings import Settings
from graphwright.store import open_pool
from graphwright.store.runs import RunStore
from tests.integration.service.conftest import (
    Server,
    publish_examples,
    server_env,
    start_server,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(
    create_database: object, tmp_path_factory: pytest.TempPathFactory, database_url: str
) -> Iterator[tuple[Server, Server]]:
    """Two processes on one database: ``acme`` answers the API only, ``globex`` also works."""
    folder = tmp_path_factory.mktemp("tenancy")
    env_a = server_env(database_url, tenant="acme", GW_WORKERS="0")
    env_b = server_env(database_url, tenant="globex", GW_WORKERS="2")
    publish_examples(env_a, folder)
    publish_examples(env_b, folder)
    api_only = start_server(env_a, folder / "acme.log")
    try:
        worker = start_server(env_b, folder / "globex.log")
    except BaseException:
        api_only.stop()
        raise
    yield api_only, worker
    worker.stop()
    api_only.stop()


async def test_runs_execute_in_their_own_tenant(
    servers: tuple[Server, Server], database_url: str
) -> None:
    """acme's run, executed by globex's worker, sees tenant acme; its rows stay acme's."""
    acme_server, globex_server = servers
    async with get_client(url=acme_server.url) as acme, get_client(url=globex_server.url) as globex:
        acme_thread = await acme.threads.create(metadata={"client_id": "a-1"})
        acme_values = await acme.runs.wait(acme_thread["thread_id"], "svc-options", input={})
        globex_thread = await globex.threads.create(metadata={"client_id": "g-1"})
        globex_values = await globex.runs.wait(globex_thread["thread_id"], "svc-options", input={})

        assert isinstance(acme_values, dict)
        assert isinstance(globex_values, dict)
        assert acme_values["seen"]["tenant"] == "acme"
        assert acme_values["seen"]["configurable"]["gw_tenant"] == "acme"
        assert acme_values["seen"]["configurable"]["thread_id"] == (
            f"acme/{acme_thread['thread_id']}"
        )
        assert globex_values["seen"]["tenant"] == "globex"

        # acme's run was executed by the only process with workers, as acme.
        runs = await acme.runs.list(acme_thread["thread_id"])
        assert [r["status"] for r in runs] == ["success"]
        state = await acme.threads.get_state(acme_thread["thread_id"])
        assert state["values"]["seen"]["tenant"] == "acme"

        # Neither tenant can see the other's thread, state or runs.
        with pytest.raises(NotFoundError):
            await globex.threads.get(acme_thread["thread_id"])
        with pytest.raises(NotFoundError):
            await globex.threads.get_state(acme_thread["thread_id"])
        with pytest.raises(NotFoundError):
            await acme.runs.get(globex_thread["thread_id"], runs[0]["run_id"])
        assert await globex.threads.search(metadata={"client_id": "a-1"}) == []
        assert await acme.threads.search(metadata={"client_id": "g-1"}) == []

    pool = await open_pool(database_url, min_size=1, max_size=1)
    try:
        store = RunStore(pool)
        acme_run = await store.get("acme", runs[0]["run_id"])
        assert acme_run.tenant_id == "acme"
        async with pool.connection() as conn:
            cur = await conn.execute(
                "select distinct tenant_id from gw_run_events where run_id = %s",
                (runs[0]["run_id"],),
            )
            assert [r["tenant_id"] for r in await cur.fetchall()] == ["acme"]
            cur = await conn.execute(
                "select count(*) as n from checkpoints where thread_id = %s",
                (f"globex/{acme_thread['thread_id']}",),
            )
            row = await cur.fetchone()
            assert row is not None
            assert row["n"] == 0
    finally:
        await pool.close()


def test_worker_tenants_setting_is_a_list() -> None:
    """``GW_WORKER_TENANTS`` is split on commas; empty means every tenant."""
    assert Settings(worker_tenants="acme, globex").worker_tenants == ["acme", "globex"]  # type: ignore[arg-type]
    assert Settings().worker_tenants == []
