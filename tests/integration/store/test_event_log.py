"""The run event log: ordered appends, reads after a sequence number, retention."""

from __future__ import annotations

import pytest

from graphwright.store import Pool
from graphwright.store.events import EventLog, StoredEvent

pytestmark = pytest.mark.integration


async def test_append_read_after_and_idempotence(pool: Pool, tenant: str) -> None:
    """Events read back in order after a sequence number; re-appending a seq is a no-op."""
    log = EventLog(pool)
    batch = [StoredEvent(i, "values", {"z": i, "a": [i]}) for i in range(1, 6)]
    await log.append(tenant, "run-1", batch)
    await log.append(tenant, "run-1", batch[:2])
    assert await log.read(tenant, "run-1", after=3) == batch[3:]
    assert await log.last_seq(tenant, "run-1") == 5
    assert list((await log.read(tenant, "run-1"))[0].data) == ["z", "a"]  # key order kept


async def test_events_are_per_tenant(pool: Pool, tenant: str) -> None:
    """Another tenant's run with the same id shares no events."""
    log = EventLog(pool)
    await log.append(tenant, "shared", [StoredEvent(1, "values", {})])
    assert await log.read(tenant + "-other", "shared") == []


async def test_prune_removes_only_events_past_retention(pool: Pool, tenant: str) -> None:
    """prune deletes events older than the retention and keeps newer ones."""
    log = EventLog(pool)
    await log.append(tenant, "old", [StoredEvent(1, "values", {})])
    await log.append(tenant, "new", [StoredEvent(1, "values", {})])
    async with pool.connection() as conn:
        await conn.execute(
            "update gw_run_events set created_at = now() - interval '2 days'"
            " where tenant_id = %s and run_id = 'old'",
            (tenant,),
        )
    removed = await log.prune(older_than_seconds=86400)
    assert removed >= 1
    assert await log.read(tenant, "old") == []
    assert len(await log.read(tenant, "new")) == 1
