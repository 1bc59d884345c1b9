"""Webhook delivery across PostgreSQL outages: outcomes are kept, deliveries resume."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Iterator

import pytest
from psycopg.types.json import Jsonb

from graphwright.runtime.webhooks import WebhookDeliverer
from graphwright.settings import Settings
from graphwright.store import Pool, apply_migrations, open_pool
from graphwright.store.pool import OUTAGE_ERRORS
from tests.integration.faults.private_postgres import PrivatePostgres
from tests.integration.service.webhook_receiver import HOLD, Receiver, running_receiver

pytestmark = pytest.mark.integration

TENANT = "outage"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The webhook receiver (a real HTTP server on 127.0.0.1)."""
    yield from running_receiver()


async def end_run(pool: Pool, url: str) -> str:
    """Insert a running run with a ``webhook`` and end it (the outbox row comes with the end)."""
    run_id = str(uuid.uuid4())
    async with pool.connection() as conn:
        await conn.execute(
            "insert into gw_runs (tenant_id, run_id, thread_id, assistant_id, workflow_version,"
            " status, payload) values (%s, %s, %s, 'wf', 1, 'running', %s)",
            (TENANT, run_id, str(uuid.uuid4()), Jsonb({"webhook": url})),
        )
        await conn.execute(
            "update gw_runs set status = 'success', result = %s"
            " where tenant_id = %s and run_id = %s",
            (Jsonb({"answer": 42}), TENANT, run_id),
        )
    return run_id


async def delivery_status(pool: Pool, run_id: str) -> tuple[str, int]:
    """(status, attempts) of the run's delivery."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select status, attempts from gw_webhook_deliveries where run_id = %s", (run_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return row["status"], row["attempts"]


async def until_delivered(pool: Pool, run_id: str, limit: float = 60.0) -> tuple[str, int]:
    """Poll until the run's delivery is no longer pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        try:
            status = await delivery_status(pool, run_id)
        except OUTAGE_ERRORS:  # the pool reconnects after the restart
            status = ("pending", 0)
        if status[0] != "pending":
            return status
        assert loop.time() < deadline, f"still {status}"
        await asyncio.sleep(0.1)


async def test_deliveries_survive_postgres_restarts(
    private_postgres: PrivatePostgres, receiver: Receiver
) -> None:
    """PostgreSQL stops while an attempt is in flight: its 200 is recorded after the restart
    (delivered once, one attempt); a delivery queued after another outage goes out too."""
    pool = await open_pool(private_postgres.url, min_size=1, max_size=4)
    await apply_migrations(pool)
    settings = Settings(
        database_url=private_postgres.url,
        secret_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # type: ignore[arg-type]
        webhook_allow=["127.0.0.1"],
        webhook_timeout_seconds=10,
        webhook_retry_seconds=0.2,
    )
    deliverer = WebhookDeliverer.for_process(
        settings, pool, owner="test:outage", database_url=private_postgres.url
    )
    await deliverer.start()
    try:
        receiver.script["/held"] = [HOLD]
        first = await end_run(pool, receiver.url("/held"))
        await asyncio.to_thread(receiver.wait_for, "/held", 1, 30)
        await asyncio.to_thread(private_postgres.stop, "fast")
        receiver.hold.set()  # the receiver answers 200 while the database is down
        await asyncio.sleep(2.0)
        await asyncio.to_thread(private_postgres.start)
        assert await until_delivered(pool, first) == ("delivered", 1)

        await asyncio.to_thread(private_postgres.stop, "immediate")
        await asyncio.sleep(2.0)  # the deliverer's loop and listener lose the database
        await asyncio.to_thread(private_postgres.start)
        second = None
        for _ in range(100):  # the pool reconnects
            try:
                second = await end_run(pool, receiver.url("/after"))
                break
            except OUTAGE_ERRORS:  # retried until the pool is back
                await asyncio.sleep(0.2)
        assert second is not None
        assert await until_delivered(pool, second) == ("delivered", 1)
    finally:
        await deliverer.stop()
        await pool.close()
    assert len(receiver.on("/held")) == 1
    assert len(receiver.on("/after")) == 1
