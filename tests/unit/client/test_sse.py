"""Parsing server-sent events line by line, as the server frames them."""

from __future__ import annotations

import pytest

from graphwright.api.sse import frame
from graphwright.client.models import StreamEvent
from graphwright.client.sse import SSEDecoder


def decode(text: str) -> list[StreamEvent]:
    """Feed ``text`` (split as httpx splits lines) and collect the completed events."""
    decoder = SSEDecoder()
    events = []
    for line in text.splitlines():
        event = decoder.feed(line)
        if event is not None:
            events.append(event)
    return events


def test_server_frames_round_trip() -> None:
    """Frames written by the server come back with their name, JSON data and id."""
    data = {"type": "node.finished", "node": "classify", "data": {"changed": ["report"]}}
    text = (frame("progress", data, event_id=7) + frame("values", {"n": 1}, event_id=8)).decode()

    assert decode(text) == [
        StreamEvent(event="progress", data=data, id="7"),
        StreamEvent(event="values", data={"n": 1}, id="8"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            ": heartbeat\n\nevent: a\ndata: 1\nid: 3\n\n",
            [StreamEvent(event="a", data=1, id="3")],
            id="heartbeat-comment-ignored",
        ),
        pytest.param(
            'event: a\r\ndata: {"x": 1}\r\nid: 4\r\n\r\n',
            [StreamEvent(event="a", data={"x": 1}, id="4")],
            id="crlf-line-breaks",
        ),
        pytest.param(
            'event: a\ndata: {"x":\ndata: 2}\n\n',
            [StreamEvent(event="a", data={"x": 2}, id=None)],
            id="multi-line-data-joined",
        ),
        pytest.param(
            "event:a\ndata:plain text\n\n",
            [StreamEvent(event="a", data="plain text", id=None)],
            id="no-space-and-non-json-data",
        ),
        pytest.param(
            "data: 5\n\n",
            [StreamEvent(event="message", data=5, id=None)],
            id="default-event-name",
        ),
        pytest.param("id: 9\n\n", [], id="id-only-frame-dispatches-nothing"),
        pytest.param(
            "event: a\ndata: 1\nretry: 10\nfoo: bar\n\n",
            [StreamEvent(event="a", data=1, id=None)],
            id="unknown-fields-ignored",
        ),
        pytest.param("event: a\ndata: 1\nid: 2", [], id="unterminated-frame-not-dispatched"),
    ],
)
def test_decoder_follows_the_event_stream_rules(text: str, expected: list[StreamEvent]) -> None:
    """Comments, line endings, multi-line data and partial frames follow the SSE rules."""
    assert decode(text) == expected


def test_decoder_tracks_liveness_and_last_id() -> None:
    """A heartbeat marks the connection alive; ``id:`` lines set the last event id."""
    decoder = SSEDecoder()
    assert not decoder.alive
    decoder.feed(": heartbeat")
    decoder.feed("")
    assert decoder.alive
    assert decoder.last_event_id is None
    for line in ("event: a", "data: 1", "id: 12", ""):
        decoder.feed(line)
    assert decoder.last_event_id == "12"


@pytest.mark.parametrize(
    ("event", "is_progress"),
    [
        pytest.param(
            StreamEvent(
                event="progress",
                data={
                    "type": "node.started",
                    "run_id": "r",
                    "thread_id": "t",
                    "workflow_id": "w",
                    "workflow_version": 1,
                    "at": "2025-01-01T00:00:00+00:00",
                    "node": "n",
                    "data": {},
                    "result": None,
                },
            ),
            True,
            id="progress",
        ),
        pytest.param(StreamEvent(event="values", data={"type": "x"}), False, id="other-event"),
        pytest.param(StreamEvent(event="progress", data={"x": 1}), False, id="unknown-shape"),
    ],
)
def test_progress_is_parsed_only_from_progress_events(
    event: StreamEvent, *, is_progress: bool
) -> None:
    """``StreamEvent.progress()`` returns a typed event only for well-formed progress data."""
    progress = event.progress()
    assert (progress is not None) == is_progress
    if progress is not None:
        assert (progress.type, progress.node, progress.workflow_version) == ("node.started", "n", 1)
