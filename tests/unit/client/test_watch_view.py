"""The ``graphwright watch`` view: folding progress events, one-line output, rendering.

(Kept with the client tests: ``graphwright.watch`` renders what the client streams.)
"""

from __future__ import annotations

import io
import socket
import time
from typing import Any

import pytest
from rich.console import Console

from graphwright.client import StreamEvent
from graphwright.watch import WatchState, format_line, watch

_seq = iter(range(1, 10_000))


def progress(type_: str, node: str | None = None, run: str = "r1", **data: Any) -> StreamEvent:
    """A progress event of run ``run`` as the server streams it."""
    body = {
        "type": type_,
        "run_id": run,
        "thread_id": "t1",
        "workflow_id": "wf",
        "workflow_version": 2,
        "at": "2025-01-01T00:00:00+00:00",
        "node": node,
        "data": data,
    }
    return StreamEvent(event="progress", data=body, id=str(next(_seq)))


@pytest.mark.parametrize(
    ("event", "line"),
    [
        pytest.param(
            progress("run.started"), "run.started wf v2 run=r1 thread=t1", id="run.started"
        ),
        pytest.param(progress("node.started", "load"), "node.started load", id="node.started"),
        pytest.param(
            progress("node.finished", "load", duration_ms=12.34, changed=["a", "b"]),
            "node.finished load 12.3ms changed=a,b",
            id="node.finished",
        ),
        pytest.param(
            progress("node.finished", "classify", item_index=3, duration_ms=1.0, changed=[]),
            "node.finished classify[3] 1.0ms changed=-",
            id="map-item",
        ),
        pytest.param(
            progress(
                "node.failed", "load", error={"code": "x.y", "message": "boom"}, will_retry=True
            ),
            "node.failed load [x.y] boom (will retry)",
            id="node.failed",
        ),
        pytest.param(
            progress("node.progress", "load", fraction=0.4, message="page 2"),
            "node.progress load 40% page 2",
            id="node.progress",
        ),
        pytest.param(
            progress("map.progress", "classify", done=3, total=5),
            "map.progress classify 3/5",
            id="map",
        ),
        pytest.param(
            progress(
                "approval.requested", "review", id="a-1", prompt="Ship?", decisions=["yes", "no"]
            ),
            "approval.requested review approval=a-1 decisions=yes,no prompt='Ship?'",
            id="approval.requested",
        ),
        pytest.param(
            progress("run.finished", status="failed"),
            "run.finished status=error",
            id="run.failed-in-api-vocabulary",
        ),
        pytest.param(
            progress("approval.decided", "review", decision="yes", by="ana"),
            "approval.decided review decision=yes by=ana",
            id="approval.decided",
        ),
        pytest.param(
            progress("run.finished", status="completed"),
            "run.finished status=success",
            id="run.finished",
        ),
        pytest.param(
            progress("node.started", "step", subworkflow_path=["child"]),
            "node.started child/step",
            id="subworkflow",
        ),
    ],
)
def test_progress_events_print_as_one_line(event: StreamEvent, line: str) -> None:
    """Each progress type has a stable one-line form, prefixed with the event id."""
    assert format_line(event) == f"{event.id} {line}"


@pytest.mark.parametrize(
    ("event", "line"),
    [
        pytest.param(
            StreamEvent(event="run_done", data={"run_id": "r1", "status": "success"}, id="r1:done"),
            "r1:done run_done run=r1 status=success",
            id="run_done",
        ),
        pytest.param(
            StreamEvent(event="metadata", data={"run_id": "r1", "attempt": 1}, id="1"),
            '1 metadata {"run_id":"r1","attempt":1}',
            id="other-event-as-json",
        ),
        pytest.param(
            StreamEvent(event="values", data={"text": "x" * 500}),
            '- values {"text":"' + "x" * 150 + "…",
            id="long-data-truncated-no-id",
        ),
    ],
)
def test_other_events_print_as_compact_json(event: StreamEvent, line: str) -> None:
    """Non-progress events print their name and (truncated) JSON data."""
    assert format_line(event) == line


def test_state_follows_nodes_maps_and_approvals() -> None:
    """Events fold into node rows (items, map totals), approvals and run statuses."""
    state = WatchState()
    events = [
        StreamEvent(event="metadata", data={"run_id": "r1", "attempt": 1}, id="1"),
        progress("run.started"),
        progress("node.started", "load"),
        progress("node.finished", "load", duration_ms=5.0, changed=["items"]),
        progress("node.started", "classify", item_index=0, map=True),
        progress("node.started", "classify", item_index=1, map=True),
        progress("node.finished", "classify", item_index=0, duration_ms=1.0),
        progress("map.progress", "classify", done=1, total=2),
        progress("node.failed", "classify", item_index=1, error={"code": "c", "message": "m"}),
        progress("node.started", "review"),
        progress("approval.requested", "review", id="a-1", prompt="Ship?", decisions=["yes"]),
        progress("run.finished", status="interrupted"),
        StreamEvent(event="run_done", data={"run_id": "r1", "status": "interrupted"}, id="r1:done"),
        progress("run.started", run="r2"),
        progress("approval.decided", "review", run="r2", decision={"decision": "yes"}),
        progress("run.finished", run="r2", status="completed"),
    ]
    for event in events:
        state.apply(event)

    load, classify, review = (state.nodes[("r1", name)] for name in ("load", "classify", "review"))
    assert (load.status, load.duration_ms, load.changed) == ("done", 5.0, ["items"])
    assert (classify.items_done, classify.items_failed, classify.items_running) == (1, 1, 0)
    assert (classify.map_done, classify.map_total) == (1, 2)
    assert classify.error == "[c] m"
    assert (review.status, review.decision) == ("decided", "yes")
    assert (state.approvals["a-1"].status, state.approvals["a-1"].decision) == ("decided", "yes")
    assert {r.run_id: r.status for r in state.runs.values()} == {
        "r1": "interrupted",
        "r2": "success",
    }
    assert state.last_event_id == events[-1].id


def test_live_view_renders_rows_bars_and_pending_approvals() -> None:
    """The rich view shows each node, a map bar with done/total and a pending approval."""
    state = WatchState()
    for event in [
        progress("run.started"),
        progress("node.started", "classify", item_index=0, map=True),
        progress("map.progress", "classify", done=3, total=5),
        progress("node.progress", "classify", fraction=0.5, message="half"),
        progress(
            "approval.requested", "review", id="a-9", prompt="Ship it?", decisions=["yes", "no"]
        ),
        StreamEvent(event="error", data={"error": "run.timeout", "message": "too slow"}),
    ]:
        state.apply(event)
    out = io.StringIO()

    Console(file=out, width=120, color_system=None).print(state)

    text = out.getvalue()
    assert "run r1 wf v2 running" in text
    assert "classify" in text
    assert "3/5" in text
    assert "approval a-9 at review: Ship it?" in text
    assert "decisions: yes, no" in text
    assert "error [run.timeout] too slow" in text


def test_live_view_drops_the_waiting_row_of_a_decided_approval() -> None:
    """Once the gate is decided (in the resuming run), no row of the view still waits."""
    state = WatchState()
    for event in [
        progress("run.started"),
        progress("node.started", "review"),
        progress("approval.requested", "review", id="a-1", prompt="Ship?", decisions=["yes"]),
        progress("run.finished", status="interrupted"),
        progress("run.started", run="r2"),
        progress("approval.decided", "review", run="r2", decision={"decision": "yes"}),
        progress("node.started", "review", run="r2"),
        progress("node.finished", "review", run="r2", duration_ms=1.0),
        progress("run.finished", run="r2", status="completed"),
    ]:
        state.apply(event)
    out = io.StringIO()

    Console(file=out, width=120, color_system=None).print(state)

    text = out.getvalue()
    assert "waiting" not in text
    assert "approval a-1" not in text
    assert "decided" in text
    assert "decision: yes" in text
    assert "success" in text


def test_watch_fails_fast_against_a_dead_url() -> None:
    """An unreachable server is reported within seconds, with exit status 2 and the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    out = io.StringIO()
    started = time.monotonic()

    code = watch(url=url, thread_id="t1", once=True, out=out)

    assert code == 2
    assert time.monotonic() - started < 5
    assert out.getvalue() == ""
