"""The API in a PostgreSQL outage: 503 + Retry-After on a usable connection, then recovery."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from graphwright.errors import ConfigurationError
from graphwright.runtime.database import Database
from graphwright.settings import Settings
from tests.integration.faults.private_postgres import PrivatePostgres
from tests.integration.service.conftest import publish_examples, server_env, start_server

pytestmark = pytest.mark.integration


async def test_outage_answers_503_and_recovers(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """While PostgreSQL is down: 503 db.unavailable + Retry-After; after: normal answers."""
    env = server_env(private_postgres.url, GW_REDIS_URL="", GW_WORKERS="1")
    server = start_server(env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            before = await http.get("/threads/nope")
            await asyncio.to_thread(private_postgres.stop, "immediate")
            during = [await http.get("/threads/nope") for _ in range(2)]
            created = await http.post("/threads", json={"metadata": {"k": 1}})
            await asyncio.to_thread(private_postgres.start)
            # The pool reconnects by itself; until it has, answers stay 503 (never 500).
            waiting: list[int] = []
            async with asyncio.timeout(30):
                while (after := await http.get("/threads/nope")).status_code == 503:
                    waiting.append(after.status_code)
                    await asyncio.sleep(int(after.headers["Retry-After"]))
            made = await http.post("/threads", json={"metadata": {"k": 2}})
    finally:
        server.stop()
    print(f"\n503 answers after PostgreSQL was back: {len(waiting)}")
    assert before.status_code == 404
    for response in [*during, created]:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "db.unavailable"
        assert int(response.headers["Retry-After"]) > 0
    assert after.status_code == 404
    assert after.json()["code"] == "thread.not_found"
    assert made.status_code == 200


async def test_processes_started_during_an_outage_wait_for_the_database(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """serve and worker started while PostgreSQL is down wait for it, then run runs."""
    env = server_env(private_postgres.url, GW_REDIS_URL="", GW_WORKERS="0")
    publish_examples(env, tmp_path)
    await asyncio.to_thread(private_postgres.stop, "immediate")
    worker = start_server({**env, "GW_WORKERS": "1"}, tmp_path / "worker.log", command="worker")
    starting = asyncio.create_task(asyncio.to_thread(start_server, env, tmp_path / "api.log"))
    await asyncio.sleep(4)
    assert worker.process.poll() is None  # still waiting, not exited
    await asyncio.to_thread(private_postgres.start)
    server = await starting
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            done = await http.post(
                "/runs/wait", json={"assistant_id": "svc-chain", "input": {"token": "late"}}
            )
    finally:
        server.stop()
        worker.stop()
    assert done.status_code == 200, done.text
    assert done.json()["trail"] == ["one", "two", "three"]


async def test_database_open_retries_until_postgres_is_back(
    private_postgres: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """With wait_seconds, opening retries past connection failures and logs that it waits."""
    settings = Settings(database_url=private_postgres.url)
    await asyncio.to_thread(private_postgres.stop, "immediate")
    later = asyncio.create_task(_start_after(private_postgres, 3.0))
    database = Database(settings, connect_timeout=1.0, wait_seconds=60)
    with caplog.at_level(logging.WARNING, logger="graphwright.database"):
        await database.open()
    await later
    await database.close()
    assert any("waiting for PostgreSQL" in r.getMessage() for r in caplog.records)
    await asyncio.to_thread(private_postgres.stop, "immediate")
    with pytest.raises(ConfigurationError) as caught:
        await Database(settings, connect_timeout=1.0).open()  # one-shot: fails at once
    assert caught.value.code == "db.unavailable"


async def _start_after(server: PrivatePostgres, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await asyncio.to_thread(server.start)
