"""Server-sent events framing, as the LangGraph SDK reads it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from graphwright.runtime.service import HEARTBEAT, LAGGING
from graphwright.store.events import StoredEvent

__all__ = ["EventStreamResponse", "frame", "frames"]


def frame(event: str, data: Any, *, event_id: int | str | None = None) -> bytes:
    """One SSE frame: ``event:``, ``data:`` (JSON) and ``id:`` lines."""
    text = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    lines = [f"event: {event}", f"data: {text}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode()


async def frames(events: AsyncIterator[StoredEvent]) -> AsyncIterator[bytes]:
    """Frames of stored events; heartbeats become SSE comments."""
    async for event in events:
        if event is HEARTBEAT:
            yield b": heartbeat\n\n"
        elif event is LAGGING:
            yield b": lagging behind the live events; replaying from the event log\n\n"
        else:
            yield frame(event.event, event.data, event_id=event.seq)


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that proxies must not buffer or cache."""

    def __init__(self, content: AsyncIterator[bytes], *, headers: dict[str, str]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
        )
