"""Resumable streams of both clients against a scripted server: no gap, no duplicate."""

from __future__ import annotations

import json

import httpx
import pytest

from graphwright.client import (
    GraphwrightConnectionError,
    NotFoundError,
    ServiceUnavailableError,
    StreamError,
)
from graphwright.client.streams import StreamSession, event_position
from tests.unit.client.fakes import Connection, FakeStreamServer, collect

KINDS = [pytest.param("sync", id="sync"), pytest.param("async", id="async")]


@pytest.mark.parametrize("kind", KINDS)
async def test_uninterrupted_stream_delivers_every_event_once(kind: str) -> None:
    """Without failures a run stream yields its events in order and asks for no resume."""
    server = FakeStreamServer.for_run(5, [])

    events, stream = await collect(kind, server, "follow_run", "t1", "r1")

    assert events == server.expected()
    assert stream.reconnects == 0
    assert stream.last_event_id == "5"
    assert [r.headers.get("last-event-id") for r in server.stream_requests()] == [None]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("plan", "resumed_after"),
    [
        pytest.param([Connection(0, "cut")], [None], id="cut-before-any-event"),
        pytest.param([Connection(3, "cut")], ["3"], id="cut-after-three"),
        pytest.param([Connection(2, "cut-mid-frame")], ["2"], id="cut-inside-a-frame"),
        pytest.param(
            [Connection(1, "cut"), Connection(2, "cut-mid-frame"), Connection(1, "cut")],
            ["1", "3", "4"],
            id="three-cuts",
        ),
        pytest.param([Connection(4, "close")], ["4"], id="server-closed-before-run-ended"),
    ],
)
async def test_dropped_connections_resume_after_the_last_event(
    kind: str, plan: list[Connection], resumed_after: list[str | None]
) -> None:
    """Each reconnection sends Last-Event-ID of the last event; the events equal one stream."""
    server = FakeStreamServer.for_run(6, list(plan))

    events, stream = await collect(kind, server, "follow_run", "t1", "r1")

    assert events == server.expected()
    sent = [r.headers.get("last-event-id") for r in server.stream_requests()]
    assert sent == [None, *resumed_after]
    assert stream.reconnects == len(plan)


@pytest.mark.parametrize("kind", KINDS)
async def test_replayed_events_are_not_yielded_twice(kind: str) -> None:
    """A server that replays from the start after a reconnect yields no duplicates."""
    server = FakeStreamServer.for_run(4, [Connection(2, "cut")], replay_ignores_id=True)

    events, _ = await collect(kind, server, "follow_run", "t1", "r1")

    assert events == server.expected()


@pytest.mark.parametrize("kind", KINDS)
async def test_last_event_id_argument_skips_earlier_events(kind: str) -> None:
    """``follow_run(last_event_id=...)`` sends the header and yields only later events."""
    server = FakeStreamServer.for_run(5, [])

    events, _ = await collect(kind, server, "follow_run", "t1", "r1", last_event_id="3")

    assert [e.id for e in events] == ["4", "5"]
    assert server.stream_requests()[0].headers["last-event-id"] == "3"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("thread_id", "create_path"),
    [
        pytest.param("t1", "/threads/t1/runs/stream", id="on-a-thread"),
        pytest.param(None, "/runs/stream", id="stateless"),
    ],
)
async def test_stream_run_creates_once_then_follows_the_named_run(
    kind: str, thread_id: str | None, create_path: str
) -> None:
    """The run is created by one POST; reconnections follow Content-Location's run."""
    server = FakeStreamServer.for_run(4, [Connection(2, "cut")])

    events, stream = await collect(
        kind, server, "stream_run", thread_id, "wf", input={"token": "x"}
    )

    assert events == server.expected()
    first, second = server.stream_requests()
    assert (first.method, first.url.path) == ("POST", create_path)
    assert json.loads(first.content) == {
        "assistant_id": "wf",
        "input": {"token": "x"},
        "stream_mode": ["progress"],
        "on_disconnect": "continue",
    }
    assert (second.method, second.url.path) == ("GET", "/threads/t1/runs/r1/stream")
    assert second.headers["last-event-id"] == "2"
    assert (stream.thread_id, stream.run_id) == ("t1", "r1")


@pytest.mark.parametrize("kind", KINDS)
async def test_creation_is_not_sent_twice_when_its_answer_is_lost(kind: str) -> None:
    """A POST whose answer never came raises instead of maybe starting a second run."""
    server = FakeStreamServer.for_run(2, [])
    calls = []

    def lost(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadError("connection reset", request=request)

    server.handler = lost  # type: ignore[method-assign]

    with pytest.raises(GraphwrightConnectionError, match="may have been created"):
        await collect(kind, server, "stream_run", "t1", "wf")
    assert len(calls) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_creation_is_sent_again_after_a_refused_connection(kind: str) -> None:
    """A POST that never connected is sent again, and the run streams normally."""
    server = FakeStreamServer.for_run(3, [Connection(ending="connect-error")])

    events, stream = await collect(kind, server, "stream_run", "t1", "wf")

    assert events == server.expected()
    assert [r.method for r in server.stream_requests()] == ["POST", "POST"]
    assert stream.reconnects == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_reconnection_attempts_are_bounded(kind: str) -> None:
    """When the server stays unreachable the stream raises StreamError with the last id."""
    plan = [Connection(2, "cut")] + [Connection(ending="connect-error")] * 20
    server = FakeStreamServer.for_run(5, plan)

    with pytest.raises(StreamError) as caught:
        await collect(kind, server, "follow_run", "t1", "r1")

    assert caught.value.last_event_id == "2"
    assert len(server.stream_requests()) == 1 + 8  # the first, then reconnect_attempts


@pytest.mark.parametrize("kind", KINDS)
async def test_unknown_run_raises_on_first_connection(kind: str) -> None:
    """A 404 on the first connection is a NotFoundError with the server's code."""
    server = FakeStreamServer.for_run(2, [Connection(ending="not-found")])

    with pytest.raises(NotFoundError) as caught:
        await collect(kind, server, "follow_run", "t1", "r1")

    assert (caught.value.status, caught.value.code) == (404, "run.not_found")


@pytest.mark.parametrize("kind", KINDS)
async def test_run_deleted_while_followed_ends_the_stream(kind: str) -> None:
    """A 404 when reconnecting (the run was rolled back) ends the stream quietly."""
    server = FakeStreamServer.for_run(5, [Connection(2, "cut"), Connection(ending="not-found")])

    events, _ = await collect(kind, server, "follow_run", "t1", "r1")

    assert events == server.expected()[:2]


@pytest.mark.parametrize("kind", KINDS)
async def test_thread_stream_resumes_with_run_qualified_ids(kind: str) -> None:
    """A thread stream reconnects with ``<run>:<seq>`` ids across runs, without duplicates."""
    events = [(f"r1:{seq}", "progress", {"seq": seq}) for seq in (1, 2, 3)]
    events += [(f"r2:{seq}", "progress", {"seq": seq}) for seq in (1, 2)]
    plan = [Connection(2, "cut"), Connection(2, "close"), Connection(None, "end")]
    server = FakeStreamServer(events=events, plan=plan)

    got, stream = await collect(kind, server, "follow_thread", "t1", limit=len(events))

    assert got == server.expected()
    requests = server.stream_requests()
    assert {r.url.path for r in requests} == {"/threads/t1/stream"}
    assert [r.headers.get("last-event-id") for r in requests] == [None, "r1:2", "r2:1"]
    assert stream.last_event_id == "r2:2"
    assert stream.run_id is None


@pytest.mark.parametrize(
    ("event_id", "position"),
    [
        pytest.param("7", ("", 7), id="run-seq"),
        pytest.param("run-a:12", ("run-a", 12), id="thread-id"),
        pytest.param("a:b:3", ("a:b", 3), id="colon-in-run"),
        pytest.param("abc", None, id="opaque"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_event_positions(event_id: str | None, position: tuple[str, int] | None) -> None:
    """Event ids parse into (run, sequence); other ids are opaque (never deduplicated)."""
    assert event_position(event_id) == position


def test_session_refuses_transient_errors_a_bounded_number_of_times() -> None:
    """A 503 while reconnecting is retried, until the attempts are used up."""
    session = StreamSession(thread_id="t1", run_id="r1", attempts=2)
    session.opened(httpx.Response(200))
    busy = ServiceUnavailableError(503, "db.unavailable", "down")

    assert session.refused(busy) is not None
    assert session.refused(busy) is not None
    with pytest.raises(StreamError):
        session.refused(busy)


def test_a_creation_without_content_location_cannot_be_resumed() -> None:
    """When the server names no run, a broken stream raises instead of following the thread."""
    session = StreamSession(thread_id="t1", create=("/threads/t1/runs/stream", {}))
    session.request()
    session.opened(httpx.Response(200))

    session.broken(httpx.ReadError("reset"), alive=True)

    with pytest.raises(StreamError, match="did not name the run"):
        session.request()
