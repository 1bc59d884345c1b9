"""A small SSE reader for tests: events with ids, cut off on demand."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Event:
    """One SSE event."""

    id: str | None
    event: str
    data: str


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    *,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    params: dict[str, object] | None = None,
    until_event: str | None = None,
) -> list[Event]:
    """Read events until the server ends the stream, ``stop_after`` events, or ``until_event``."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events: list[Event] = []
    fields: dict[str, str] = {}
    async with client.stream("GET", url, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
                continue
            if not fields:
                continue
            events.append(Event(fields.get("id"), fields.get("event", ""), fields.get("data", "")))
            fields = {}
            if stop_after is not None and len(events) >= stop_after:
                break
            if until_event is not None and events[-1].event == until_event:
                break
    return events
