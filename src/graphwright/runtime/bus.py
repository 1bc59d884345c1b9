"""Live fan-out of run events between processes: Redis pub/sub, or in-process.

The bus carries only live copies: every event is in the PostgreSQL event log
before it is published, so a subscriber that missed messages (a slow client,
a Redis restart) reads them back from the log. A run never waits on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, NamedTuple

__all__ = ["InProcessBus", "Outgoing", "RedisBus", "Subscription", "create_bus"]

log = logging.getLogger("graphwright.bus")

QUEUE_SIZE = 1024


class Outgoing(NamedTuple):
    """A message to publish: its channel, the message, and the message as JSON text."""

    channel: str
    message: dict[str, Any]
    encoded: str


class Subscription:
    """Messages of one channel for one subscriber, in a bounded queue.

    When the queue is full the subscriber is marked ``overflowed`` and further
    messages are dropped: the reader must fall back to the event log.
    """

    def __init__(self, bus: InProcessBus, channel: str, *, ends_only: bool = False) -> None:
        self.channel = channel
        self.overflowed = False
        self.ends_only = ends_only
        self._bus = bus
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)

    def deliver(self, message: dict[str, Any]) -> None:
        """Queue a message without blocking the publisher."""
        if self.ends_only and "seq" in message:
            return  # a run event; this subscriber waits for the end (or a gap) only
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self, wait: float | None = None) -> dict[str, Any] | None:
        """Next message, or None after ``wait`` seconds."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None

    def close(self) -> None:
        """Stop receiving."""
        self._bus.unsubscribe(self)


class InProcessBus:
    """Fan-out inside one process (no Redis)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver to local subscribers."""
        self.dispatch(channel, message)

    async def publish_encoded(self, outgoing: list[Outgoing]) -> None:
        """Deliver several messages (of any channels), in order."""
        for item in outgoing:
            self.dispatch(item.channel, item.message)

    def dispatch(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver to local subscribers (synchronously)."""
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.deliver(message)

    def subscribe(self, channel: str, *, ends_only: bool = False) -> Subscription:
        """Start receiving ``channel``; with ``ends_only``, not its numbered run events."""
        sub = Subscription(self, channel, ends_only=ends_only)
        self._subscribers.setdefault(channel, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``."""
        subs = self._subscribers.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subscribers[sub.channel]

    def channels(self) -> list[str]:
        """Channels with local subscribers."""
        return list(self._subscribers)

    async def close(self) -> None:
        """Nothing to release."""


class RedisBus(InProcessBus):
    """Fan-out between processes through Redis pub/sub, one connection per process.

    The process subscribes once, at start, to the pattern of every graphwright
    channel and hands messages to its local subscribers. So a local subscription
    is effective the moment it is made: there is no window between subscribing
    and Redis confirming it in which a message could be missed. After a Redis
    restart the reader re-subscribes and tells local subscribers that live
    messages may have been lost (they re-read the event log). Publishing never
    raises.
    """

    PATTERN = "gw:*"
    BATCH = "gw:batch"
    """Channel of :meth:`publish_encoded` messages (lines of channel and messages)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=None)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.publish_failures = 0

    async def start(self) -> None:
        """Subscribe to every graphwright channel and start the reader task."""
        self._reader = asyncio.create_task(self._read_loop(), name="graphwright-redis-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Publish to Redis; on failure deliver locally and count it."""
        from redis.exceptions import RedisError

        try:
            await self._redis.publish(channel, json.dumps(message, default=str))
        except (RedisError, OSError) as exc:
            self.publish_failures += 1
            log.warning("redis publish failed (%s); local subscribers only", exc)
            self.dispatch(channel, message)

    async def publish_encoded(self, outgoing: list[Outgoing]) -> None:
        """Publish several messages of any channels as one Redis message on :data:`BATCH`.

        Every process receives every channel anyway (one pattern subscription),
        so one message per call costs the least: a line per channel,
        ``<channel>\t<JSON list of its messages>``, which readers without local
        subscribers for that channel skip without decoding. On failure the
        messages are delivered locally and the failure counted.
        """
        from redis.exceptions import RedisError

        if not outgoing:
            return
        grouped: dict[str, list[str]] = {}
        for item in outgoing:
            if "\n" in item.channel or "\t" in item.channel:  # cannot be framed: on its own
                await self.publish(item.channel, item.message)
                continue
            grouped.setdefault(item.channel, []).append(item.encoded)
        if not grouped:
            return
        payload = "\n".join(
            f"{channel}\t[{', '.join(texts)}]" for channel, texts in grouped.items()
        )
        try:
            await self._redis.publish(self.BATCH, payload)
        except (RedisError, OSError) as exc:
            self.publish_failures += 1
            log.warning("redis publish failed (%s); local subscribers only", exc)
            await super().publish_encoded(outgoing)

    async def _read_loop(self) -> None:
        from redis.exceptions import RedisError

        delay = 0.1
        subscribed = False
        while True:
            try:
                if not subscribed:
                    await self._pubsub.psubscribe(self.PATTERN)
                    subscribed = True
                    if self._ready.is_set():
                        self._notify_gap()  # re-subscribed after an outage
                    self._ready.set()
                message = await self._pubsub.get_message(timeout=1.0)
                delay = 0.1
                if message is None or message.get("type") != "pmessage":
                    continue
                self._receive(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError) as exc:
                log.warning("redis bus reader: %s; reconnecting in %.1fs", exc, delay)
                subscribed = False
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.reset()
                self._notify_gap()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _receive(self, channel: str | bytes, data: str | bytes) -> None:
        """Hand a Redis message to local subscribers (only what they subscribed to is decoded)."""
        if isinstance(channel, bytes):
            channel = channel.decode()
        if channel != self.BATCH:
            if channel in self._subscribers:
                self.dispatch(channel, json.loads(data))
            return
        if isinstance(data, bytes):
            data = data.decode()
        for line in data.split("\n"):
            target, _, messages = line.partition("\t")
            if target in self._subscribers:
                for item in json.loads(messages):
                    self.dispatch(target, item)

    def _notify_gap(self) -> None:
        """Tell every local subscriber that live messages may have been lost."""
        for channel in self.channels():
            self.dispatch(channel, {"gap": True})

    async def close(self) -> None:
        """Stop the reader and close the connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()


async def create_bus(redis_url: str | None) -> InProcessBus:
    """A Redis bus when ``redis_url`` is set, else an in-process one."""
    if redis_url is None:
        return InProcessBus()
    bus = RedisBus(redis_url)
    await bus.start()
    return bus
