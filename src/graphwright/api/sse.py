"""Server-sent events framing, as the LangGraph SDK reads it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from graphwright.runtime.streams import HEARTBEAT, LAGGING
from graphwright.store.events import StoredEvent

__all__ = ["EventStreamResponse", "encode", "frame", "frames"]


def frame(event: str, data: Any, *, event_id: int | str | None = None) -> bytes:
    """One SSE frame: ``event:``, ``data:`` (JSON) and ``id:`` lines."""
    text = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    lines = [f"event: {event}", f"data: {text}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()


def encode(event: StoredEvent, event_id: int | str | None) -> bytes:
    """One stored event as SSE; heartbeat and lag markers become comments."""
    if event is HEARTBEAT:
        return b": heartbeat\n\n"
    if event is LAGGING:
        return b": lagging behind the live events; replaying from the event log\n\n"
    return frame(event.event, event.data, event_id=event_id)


async def frames(events: AsyncIterator[StoredEvent]) -> AsyncIterator[bytes]:
    """Frames of a run's stored events (ids are their sequence numbers)."""
    async for event in events:
        yield encode(event, event.seq)


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that proxies must not buffer or cache."""

    def __init__(self, content: AsyncIterator[bytes], *, headers: dict[str, str]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
        )
