"""The process-wide event sink and the bus it publishes on (real PostgreSQL and Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphwright.runtime.bus import InProcessBus, Outgoing, RedisBus, Subscription
from graphwright.runtime.writer import (
    DONE_RESULT_LIMIT,
    EventSink,
    RunEventWriter,
    done_message,
    done_text,
    run_channel,
)
from graphwright.store import Pool
from graphwright.store.events import EventLog, StoredEvent

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["local", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[InProcessBus]:
    """The in-process bus, and a Redis bus (started)."""
    if request.param == "local":
        yield InProcessBus()
        return
    redis_bus = RedisBus(REDIS_URL)
    await redis_bus.start()
    try:
        yield redis_bus
    finally:
        await redis_bus.close()


async def drain(sub: Subscription, count: int, wait: float = 5.0) -> list[dict[str, Any]]:
    """The next ``count`` messages of ``sub`` (fails if they do not arrive in time)."""
    out = []
    for _ in range(count):
        message = await sub.get(wait)
        assert message is not None, f"only {len(out)} of {count} messages arrived"
        out.append(message)
    return out


async def test_runs_share_log_writes_and_bus_messages(pool: Pool, tenant: str, bus: Any) -> None:
    """Events of several runs emitted together go out in one log write, each run's in order."""
    log = EventLog(pool)
    sink = EventSink(log, bus)
    writers = [RunEventWriter(sink, tenant, f"run-{i}", first_seq=1) for i in range(3)]
    subs = [bus.subscribe(w.channel) for w in writers]
    await sink.flushed()  # nothing queued: returns at once
    for step in range(4):
        for writer in writers:
            writer.emit("progress", {"step": step, "run": writer.run_id})
    await sink.flushed()
    assert sink.flushes == 1
    for writer, sub in zip(writers, subs, strict=True):
        live = await drain(sub, 4)
        assert [m["seq"] for m in live] == [1, 2, 3, 4]
        assert all(m["data"]["run"] == writer.run_id for m in live)
        stored = await log.read(tenant, writer.run_id)
        assert stored == [StoredEvent(m["seq"], m["event"], m["data"]) for m in live]
        sub.close()
    await sink.close()


class SlowLog(EventLog):
    """An event log whose writes take a while (so a publish that did not wait shows)."""

    async def append_encoded(self, events: Any) -> None:
        await asyncio.sleep(0.03)
        await super().append_encoded(events)


async def test_events_are_logged_before_they_are_published(
    pool: Pool, tenant: str, bus: Any
) -> None:
    """A subscriber that receives an event finds it, and all before it, in the log."""
    log = SlowLog(pool)
    sink = EventSink(log, bus)
    writer = RunEventWriter(sink, tenant, "ordered", first_seq=1)
    sub = bus.subscribe(writer.channel)
    for i in range(30):
        writer.emit("progress", {"i": i})
        if i % 7 == 0:
            await asyncio.sleep(0.012)  # spread over several flushes
    for message in await drain(sub, 30):
        assert len(await log.read(tenant, "ordered", after=message["seq"] - 1, limit=1)) == 1
    assert sink.flushes > 1
    sub.close()
    await sink.close()


async def test_end_runs_after_the_log_write_and_done_follows_the_events(
    pool: Pool, tenant: str, bus: Any
) -> None:
    """end() runs its ending once the run's events are logged; done is published after them."""
    log = EventLog(pool)
    sink = EventSink(log, bus)
    writer = RunEventWriter(sink, tenant, "ending", first_seq=1)
    sub = bus.subscribe(writer.channel)
    seen: list[int] = []

    async def ending() -> dict[str, Any]:
        seen.extend(e.seq for e in await log.read(tenant, "ending"))
        return done_message("success", {"values": {"answer": 42}})

    writer.emit("progress", {"x": 1})
    writer.emit("progress", {"x": 2})
    message = await writer.end(ending)
    assert seen == [1, 2]
    assert writer.ended
    first, second, done = await drain(sub, 3)
    assert (first["seq"], second["seq"]) == (1, 2)
    assert (
        done == message == {"done": True, "status": "success", "result": {"values": {"answer": 42}}}
    )
    await sink.close()


async def test_failed_ending_reaches_its_caller_and_spares_other_runs(
    pool: Pool, tenant: str, bus: Any
) -> None:
    """An ending that raises fails only its own end(); the batch's other runs end normally."""
    sink = EventSink(EventLog(pool), bus)
    good, bad = (RunEventWriter(sink, tenant, name, first_seq=1) for name in ("good", "bad"))
    sub = bus.subscribe(good.channel)

    async def fine() -> dict[str, Any]:
        return done_message("success")

    async def broken() -> dict[str, Any]:
        raise RuntimeError("database gone")

    outcomes = await asyncio.gather(good.end(fine), bad.end(broken), return_exceptions=True)
    assert outcomes[0] == {"done": True, "status": "success"}
    assert isinstance(outcomes[1], RuntimeError)
    assert await drain(sub, 1) == [{"done": True, "status": "success"}]
    await sink.close()


def test_done_message_carries_only_a_small_result() -> None:
    """The /wait body rides on done when its JSON is within the limit, else it is left out."""
    assert done_message("success", {"v": 1}) == {
        "done": True,
        "status": "success",
        "result": {"v": 1},
    }
    big = {"blob": "x" * (DONE_RESULT_LIMIT + 1)}
    assert done_message("success", big) == {"done": True, "status": "success"}
    assert json.loads(done_text(done_message("error"))) == {"done": True, "status": "error"}


async def test_redis_batch_reaches_other_processes_by_channel() -> None:
    """A batch published by one Redis bus reaches another's subscribers, channel by channel."""
    sender, receiver = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    await sender.start()
    await receiver.start()
    tag = secrets.token_hex(4)
    wanted, other, odd = run_channel(tag, "a"), run_channel(tag, "b"), f"gw:odd\t{tag}"
    try:
        sub, odd_sub = receiver.subscribe(wanted), receiver.subscribe(odd)
        messages = [{"seq": 1, "event": "e", "data": {"k": "line\nbreak\ttab"}}, {"done": True}]
        outgoing = [Outgoing(wanted, m, json.dumps(m)) for m in messages]
        outgoing.insert(1, Outgoing(other, {"seq": 9}, '{"seq": 9}'))
        outgoing.append(Outgoing(odd, {"seq": 3}, '{"seq": 3}'))
        await sender.publish_encoded(outgoing)
        assert await drain(sub, 2) == messages
        assert await sub.get(0.2) is None  # the other channel's message is not delivered here
        assert await drain(odd_sub, 1) == [{"seq": 3}]
        assert sender.publish_failures == 0
    finally:
        await sender.close()
        await receiver.close()
