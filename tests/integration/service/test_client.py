"""``graphwright.client`` and ``graphwright watch`` against a live server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphwright.client import (
    AsyncClient,
    Client,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StreamEvent,
)
from tests.integration.service.conftest import Server
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

STREAM_SECONDS = 60


@pytest.fixture
async def gw(server: Server) -> AsyncIterator[AsyncClient]:
    """The async graphwright client on the live server."""
    async with AsyncClient(server.url) as client:
        yield client


def chain_input(token: str, delay: float = 0.0) -> dict[str, Any]:
    """Input of svc-chain (one, two, three) with ``delay`` seconds per step."""
    return {"token": token, "delays": {"one": delay, "two": delay, "three": delay}}


def gated_input(token: str) -> dict[str, Any]:
    """Input of svc-gated (first, gate, last)."""
    return {"token": token, "delays": {"first": 0.0, "last": 0.0}}


def progress_types(events: list[StreamEvent]) -> list[tuple[str, str | None]]:
    """``(type, node)`` of the progress events, in order."""
    found = []
    for event in events:
        progress = event.progress()
        if progress is not None:
            found.append((progress.type, progress.node))
    return found


def frames(events: list[StreamEvent]) -> list[tuple[str | None, str, Any]]:
    """What two streams of one run must agree on: id, event name and data."""
    return [(e.id, e.event, e.data) for e in events]


async def collect(stream: Any) -> list[StreamEvent]:
    """Every event of an async stream (bounded in time)."""
    async with asyncio.timeout(STREAM_SECONDS), stream:
        return [event async for event in stream]


class _CutStream(httpx.AsyncByteStream):
    """A response body that breaks with ``httpx.ReadError`` after ``lines`` lines."""

    def __init__(self, inner: httpx.AsyncByteStream, lines: int) -> None:
        self.inner = inner
        self.lines = lines

    async def __aiter__(self) -> AsyncIterator[bytes]:
        count, buffer = 0, b""
        async for chunk in self.inner:
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line + b"\n"
                count += 1
                if count >= self.lines:
                    raise httpx.ReadError("connection cut by the test")
        if buffer:
            yield buffer

    async def aclose(self) -> None:
        await self.inner.aclose()


class CuttingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, but the n-th stream response breaks after ``cuts[n]`` lines (once each)."""

    def __init__(self, cuts: list[int]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.cuts = list(cuts)
        self.stream_paths: list[tuple[str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.stream_paths.append((request.url.path, request.headers.get("last-event-id")))
        if not self.cuts:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, self.cuts.pop(0)),
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- workflows, health, errors --------------------------------------------------------


async def test_validate_publish_and_read_a_workflow(gw: AsyncClient) -> None:
    """A document validates, publishes once (then is unchanged) and reads back with its graph."""
    workflow_id = f"client-{uuid.uuid4().hex[:8]}"
    doc = chain(workflow_id, ["a", "b"])

    checked = await gw.workflows.validate(doc)
    first = await gw.workflows.publish(doc)
    again = await gw.workflows.publish(doc)
    read = await gw.workflows.get(workflow_id)
    versions = await gw.workflows.versions(workflow_id)
    listed = await gw.workflows.list()
    graph = await gw.workflows.graph(workflow_id)
    mermaid = await gw.workflows.graph(workflow_id, "mermaid")

    assert (checked.valid, checked.workflow_id, checked.problems) == (True, workflow_id, [])
    assert (first.version, first.created, again.created) == (1, True, False)
    assert read.document is not None
    assert read.document["id"] == workflow_id
    assert [v.version for v in versions] == [1]
    assert workflow_id in {w.workflow_id for w in listed}
    assert {"a", "b"} <= {node["id"] for node in graph["nodes"]}
    assert mermaid.startswith("flowchart")


async def test_invalid_documents_report_problems(gw: AsyncClient) -> None:
    """validate returns the problems; publish raises InvalidRequestError with the same ones."""
    doc = chain(f"client-{uuid.uuid4().hex[:8]}", ["a"])
    doc["edges"].append({"from": "a", "to": "nowhere"})

    checked = await gw.workflows.validate(doc)
    with pytest.raises(InvalidRequestError) as caught:
        await gw.workflows.publish(doc)

    assert not checked.valid
    assert any(p.pointer.startswith("/edges/") for p in checked.problems)
    assert (caught.value.status, caught.value.code) == (422, "workflow.invalid")
    assert caught.value.problems == checked.problems


async def test_unknown_resources_raise_not_found(gw: AsyncClient) -> None:
    """Unknown workflows, threads and approvals are NotFoundError with the server's codes."""
    with pytest.raises(NotFoundError) as workflow:
        await gw.workflows.get("no-such-workflow")
    with pytest.raises(NotFoundError) as approval:
        await gw.approvals.get("no-such-approval")

    assert workflow.value.code == "workflow.not_found"
    assert approval.value.code.endswith("not_found")


async def test_health_and_readiness(gw: AsyncClient) -> None:
    """The live server is alive and ready."""
    assert (await gw.health.healthz()).status == "ok"
    readiness = await gw.health.readyz()
    assert readiness.ready
    assert readiness.failed == []


# -- runs, approvals ----------------------------------------------------------------------


async def test_run_to_approval_then_decide_from_the_inbox(gw: AsyncClient) -> None:
    """A streamed run stops at the gate; the inbox lists it; deciding resumes to the end."""
    token = uuid.uuid4().hex[:8]
    thread = await gw.threads.create({"case": token})

    stream = gw.stream_run(thread.thread_id, "svc-gated", input=gated_input(token))
    events = await collect(stream)
    pending = await gw.approvals.list(thread_id=thread.thread_id)
    by_metadata = await gw.approvals.list(workflow_id="svc-gated", metadata={"case": token})
    decided = await gw.approvals.decide(pending[0].approval_id, "approve", comment="ok", by="ana")
    with pytest.raises(ConflictError) as twice:
        await gw.approvals.decide(pending[0].approval_id, "reject")
    assert decided.resume_run_id is not None
    final = await gw.runs.join(thread.thread_id, decided.resume_run_id)
    resumed = await collect(
        gw.follow_run(thread.thread_id, decided.resume_run_id, stream_mode=["progress"])
    )
    state = await gw.threads.state(thread.thread_id)

    assert stream.run_id is not None
    assert progress_types(events) == [
        ("run.started", None),
        ("node.started", "first"),
        ("node.finished", "first"),
        ("node.started", "gate"),
        ("approval.requested", "gate"),
        ("run.finished", None),
    ]
    requested = next(e.progress() for e in events if e.data.get("type") == "approval.requested")
    assert requested is not None
    assert requested.data["prompt"] == f"Continue {token}?"
    assert requested.data["decisions"] == ["approve", "reject"]
    assert [a.approval_id for a in pending] == [requested.data["id"]]
    assert by_metadata == pending
    assert (pending[0].prompt, pending[0].status) == (f"Continue {token}?", "pending")
    assert (decided.status, decided.decided_by) == ("decided", "ana")
    assert twice.value.code == "approval.already_decided"
    assert final.error is None
    assert final.values["trail"] == ["first", "last"]
    assert final.values["review"]["decision"] == "approve"
    assert ("approval.decided", "gate") in progress_types(resumed)
    assert progress_types(resumed)[-1] == ("run.finished", None)
    assert resumed[-1].data["data"]["status"] == "completed"
    assert state.values["trail"] == ["first", "last"]
    assert state.next == []


async def test_wait_returns_interrupts_then_values(gw: AsyncClient) -> None:
    """runs.wait gives the gate's interrupt, then (resumed by command) the final values."""
    token = uuid.uuid4().hex[:8]
    thread = await gw.threads.create()

    stopped = await gw.runs.wait(thread.thread_id, "svc-gated", input=gated_input(token))
    done = await gw.runs.wait(
        thread.thread_id, "svc-gated", command={"resume": {"decision": "reject"}}
    )
    runs = await gw.runs.list(thread.thread_id)

    (interrupt,) = stopped.interrupts
    assert interrupt.value["prompt"] == f"Continue {token}?"
    assert stopped.values["trail"] == ["first"]
    assert (stopped.thread_id, stopped.run_id) == (thread.thread_id, runs[1].run_id)
    assert done.interrupts == []
    assert done.values["review"]["decision"] == "reject"
    assert [r.status for r in runs] == ["success", "interrupted"]
    assert all(r.workflow_id == "svc-gated" for r in runs)


async def test_create_get_and_cancel_a_run(gw: AsyncClient) -> None:
    """A background run can be read and cancelled; cancelling it again is a conflict."""
    thread = await gw.threads.create()
    run = await gw.runs.create(
        thread.thread_id, "svc-chain", input=chain_input("slow", 5.0), stream_mode=["progress"]
    )

    read = await gw.runs.get(thread.thread_id, run.run_id)
    stopped = await gw.runs.cancel(thread.thread_id, run.run_id, wait=True)
    with pytest.raises(ConflictError) as again:
        await gw.runs.cancel(thread.thread_id, run.run_id)

    assert read.run_id == run.run_id
    assert read.run_kwargs["stream_mode"] == ["progress"]
    assert stopped is not None
    assert stopped.status == "interrupted"
    assert again.value.code == "run.not_active"


# -- streams -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cuts",
    [
        pytest.param([6], id="one-cut-inside-a-frame"),
        pytest.param([5, 4, 9], id="three-cuts"),
        pytest.param([1, 1, 1, 1], id="cuts-before-any-event"),
    ],
)
async def test_stream_run_survives_cut_connections(server: Server, cuts: list[int]) -> None:
    """Cutting the connection mid-stream loses nothing: the events equal an uncut stream."""
    transport = CuttingTransport(cuts)
    async with AsyncClient(server.url, transport=transport, backoff=0.05) as cutting:
        stream = cutting.stream_run(
            None, "svc-chain", input=chain_input("cut", 0.2), stream_mode=["progress", "updates"]
        )
        interrupted = await collect(stream)
    async with AsyncClient(server.url) as plain:
        assert stream.thread_id is not None
        assert stream.run_id is not None
        whole = await collect(plain.follow_run(stream.thread_id, stream.run_id))

    assert frames(interrupted) == frames(whole)
    assert [int(e.id or 0) for e in whole] == list(range(1, len(whole) + 1))
    assert stream.reconnects == len(cuts)
    assert progress_types(whole)[-1] == ("run.finished", None)
    resumed = transport.stream_paths[1:]
    assert all(path.endswith(f"/runs/{stream.run_id}/stream") for path, _ in resumed)
    assert all(last is not None or cut == 1 for (_, last), cut in zip(resumed, cuts, strict=False))


async def test_follow_run_resumes_a_live_run_after_a_cut(gw: AsyncClient, server: Server) -> None:
    """Following a running run, cut twice, yields what a later full replay yields."""
    thread = await gw.threads.create()
    run = await gw.runs.create(
        thread.thread_id, "svc-chain", input=chain_input("live", 0.3), stream_mode=["progress"]
    )
    async with AsyncClient(server.url, transport=CuttingTransport([7, 6]), backoff=0.05) as cut:
        live = cut.follow_run(thread.thread_id, run.run_id)
        interrupted = await collect(live)
    whole = await collect(gw.follow_run(thread.thread_id, run.run_id))
    tail = await collect(gw.follow_run(thread.thread_id, run.run_id, last_event_id=whole[2].id))

    assert frames(interrupted) == frames(whole)
    assert live.reconnects == 2
    assert frames(tail) == frames(whole[3:])


def test_sync_client_streams_a_run(server: Server) -> None:
    """The sync client streams a stateless run to its end and reads the run afterwards."""
    with Client(server.url) as client:
        with client.stream_run(None, "svc-chain", input=chain_input("sync")) as stream:
            events = list(stream)
        assert stream.thread_id is not None
        assert stream.run_id is not None
        run = client.runs.get(stream.thread_id, stream.run_id)

    assert [t for t, _ in progress_types(events)].count("node.finished") == 3
    assert events[-1].data["data"]["status"] == "completed"
    assert run.status == "success"


async def follow_until(
    stream: Any, stop: Callable[[StreamEvent], bool], started: asyncio.Event | None = None
) -> list[StreamEvent]:
    """Events of a stream up to the first one ``stop`` accepts (bounded in time)."""
    seen: list[StreamEvent] = []
    async with asyncio.timeout(STREAM_SECONDS), stream:
        async for event in stream:
            seen.append(event)
            if started is not None:
                started.set()
            if stop(event):
                break
    return seen


def succeeded(event: StreamEvent) -> bool:
    """The ``run_done`` event of a thread stream for a run that succeeded."""
    return event.event == "run_done" and event.data["status"] == "success"


async def test_follow_thread_survives_cuts_across_the_resumed_run(
    gw: AsyncClient, server: Server
) -> None:
    """A cut thread stream shows the gated run, then the resumed one, as the run streams do."""
    token = uuid.uuid4().hex[:8]
    thread = await gw.threads.create()
    stopped = await gw.runs.wait(thread.thread_id, "svc-gated", input=gated_input(token))
    (approval,) = await gw.approvals.list(thread_id=thread.thread_id)
    started = asyncio.Event()
    async with AsyncClient(server.url, transport=CuttingTransport([9, 6]), backoff=0.05) as cut:
        stream = cut.follow_thread(thread.thread_id, stream_mode=["progress"])
        follower = asyncio.create_task(follow_until(stream, succeeded, started))
        await asyncio.wait_for(started.wait(), STREAM_SECONDS)  # following the first run
        decided = await gw.approvals.decide(approval.approval_id, "approve")
        seen = await follower
    assert stopped.run_id is not None
    assert decided.resume_run_id is not None
    expected: list[tuple[str | None, str, Any]] = []
    for run_id, status in ((stopped.run_id, "interrupted"), (decided.resume_run_id, "success")):
        events = await collect(gw.follow_run(thread.thread_id, run_id, stream_mode=["progress"]))
        expected += [(f"{run_id}:{e.id}", e.event, e.data) for e in events]
        expected.append((f"{run_id}:done", "run_done", {"run_id": run_id, "status": status}))

    assert frames(seen) == expected
    assert stream.reconnects == 2
    assert ("approval.decided", "gate") in progress_types(seen)


# -- graphwright watch ----------------------------------------------------------------------


def watch_lines(server: Server, thread_id: str, run_id: str | None) -> tuple[int, list[str]]:
    """Run ``graphwright watch --once`` as a subprocess; its exit code and stdout lines."""
    script = Path(sys.executable).parent / "graphwright"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    follow = ["--run", run_id] if run_id is not None else []
    done = subprocess.run(
        [
            str(script),
            "watch",
            "--thread",
            thread_id,
            *follow,
            "--once",
            "--url",
            server.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=STREAM_SECONDS,
        check=False,
    )
    return done.returncode, done.stdout.splitlines()


async def test_watch_once_prints_a_line_per_event(gw: AsyncClient, server: Server) -> None:
    """``watch --run --once`` prints each event of a running run, then its final status."""
    thread = await gw.threads.create()
    run = await gw.runs.create(
        thread.thread_id, "svc-chain", input=chain_input("watch", 0.2), stream_mode=["progress"]
    )

    code, lines = await asyncio.to_thread(watch_lines, server, thread.thread_id, run.run_id)

    assert code == 0, lines
    kinds = [line.split(" ")[1] for line in lines[:-1]]
    assert kinds[0] == "metadata"
    assert kinds[1:3] == ["run.started", "node.started"]
    assert f"run.started svc-chain v1 run={run.run_id}" in lines[1]
    finished = [line.split(" ")[2] for line in lines if " node.finished " in line]
    assert finished == ["one", "two", "three"]
    assert lines[-2].endswith("run.finished status=success")
    assert lines[-1] == f"run {run.run_id} success"
    assert [line.split(" ")[0] for line in lines[:-1]] == [str(i) for i in range(1, len(lines))]


async def test_watch_shows_a_pending_approval(gw: AsyncClient, server: Server) -> None:
    """``watch --once`` on a gated run prints the approval request and waits for it at the end."""
    token = uuid.uuid4().hex[:8]
    thread = await gw.threads.create()
    stopped = await gw.runs.wait(thread.thread_id, "svc-gated", input=gated_input(token))
    assert stopped.run_id is not None

    code, lines = await asyncio.to_thread(watch_lines, server, thread.thread_id, stopped.run_id)

    approval_id = stopped.interrupts[0].id
    assert code == 0, lines
    requested = [line for line in lines if " approval.requested " in line]
    assert len(requested) == 1
    assert f"gate approval={approval_id} decisions=approve,reject" in requested[0]
    assert f"prompt='Continue {token}?'" in requested[0]
    assert lines[-1] == f"run {stopped.run_id} interrupted: waiting for approval {approval_id}"


async def test_watch_once_on_a_thread_exits_when_it_settles(
    gw: AsyncClient, server: Server
) -> None:
    """``watch --thread --once`` prints the latest run and exits once nothing runs on the thread."""
    token = uuid.uuid4().hex[:8]
    thread = await gw.threads.create()
    stopped = await gw.runs.wait(thread.thread_id, "svc-gated", input=gated_input(token))
    approval_id = stopped.interrupts[0].id
    ended = await gw.threads.create()
    await gw.runs.wait(ended.thread_id, "svc-chain", input=chain_input("settled"))
    empty = await gw.threads.create()

    waiting = await asyncio.to_thread(watch_lines, server, thread.thread_id, None)
    done = await asyncio.to_thread(watch_lines, server, ended.thread_id, None)
    nothing = await asyncio.to_thread(watch_lines, server, empty.thread_id, None)

    assert waiting[0] == 0, waiting
    assert waiting[1][-1] == (
        f"thread {thread.thread_id} interrupted: waiting for approval {approval_id}"
    )
    assert done[0] == 0, done
    assert " run.finished status=success" in done[1][-3]
    assert done[1][-1] == f"thread {ended.thread_id} idle"
    assert nothing == (0, [f"thread {empty.thread_id} has no runs"])
