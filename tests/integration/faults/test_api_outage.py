"""The API in a PostgreSQL outage: 503 + Retry-After on a usable connection, then recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.faults.private_postgres import PrivatePostgres
from tests.integration.service.conftest import server_env, start_server

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
