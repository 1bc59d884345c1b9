"""Runs through the official ``langgraph-sdk`` client against a live server."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError

from tests.integration.service.conftest import EXAMPLES, Server

pytestmark = pytest.mark.integration

DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())


def chain_input(marks: Path, token: str, **delays: float) -> dict[str, Any]:
    """Input of the svc-chain workflow (one, two, three)."""
    base = {"one": 0.0, "two": 0.0, "three": 0.0}
    base.update(delays)
    return {"token": token, "marks": str(marks), "delays": base}


def lines(marks: Path) -> list[list[str]]:
    """Side-effect lines written by svc.step: [token, label, pid]."""
    if not marks.exists():
        return []
    return [line.split() for line in marks.read_text().splitlines() if line]


async def test_sdk_flow_stream_interrupt_resume_by_id(
    server: Server, client: LangGraphClient
) -> None:
    """stream ends at the approval interrupt; wait with resume by interrupt id completes it."""
    thread = await client.threads.create(metadata={"client_id": "acme"})
    parts = [
        part
        async for part in client.runs.stream(
            thread["thread_id"],
            "asset-discovery",
            input=DISCOVERY_INPUT,
            stream_mode=["updates", "values"],
        )
    ]
    assert parts[0].event == "metadata"
    assert "run_id" in parts[0].data
    events = {p.event for p in parts}
    assert {"updates", "values"} <= events
    interrupts = [
        p.data["__interrupt__"] for p in parts if p.event == "updates" and "__interrupt__" in p.data
    ]
    assert interrupts, "the stream ends with the approval interrupt"
    interrupt = interrupts[-1][0]
    assert interrupt["value"]["node"] == "review"
    result = await client.runs.wait(
        thread["thread_id"],
        "asset-discovery",
        command={"resume": {interrupt["id"]: {"decision": "approve"}}},
    )
    assert isinstance(result, dict)
    assert result["review"]["decision"] == "approve"
    assert result["published"]["assets"] == 5
    runs = await client.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success", "interrupted"]


async def test_wait_returns_interrupt_and_plain_resume(
    server: Server, client: LangGraphClient
) -> None:
    """wait returns values with __interrupt__; a plain resume value answers the single gate."""
    thread = await client.threads.create()
    first = await client.runs.wait(thread["thread_id"], "asset-discovery", input=DISCOVERY_INPUT)
    assert isinstance(first, dict)
    assert first["__interrupt__"][0]["value"]["decisions"] == ["approve", "reject", "edit"]
    done = await client.runs.wait(
        thread["thread_id"], "asset-discovery", command={"resume": {"decision": "reject"}}
    )
    assert isinstance(done, dict)
    assert done["review"]["decision"] == "reject"
    assert done["published"] is None


async def test_invalid_resume_is_refused_and_thread_stays_paused(
    server: Server, client: LangGraphClient
) -> None:
    """A resume with an undeclared decision gets 422 and the thread keeps its interrupt."""
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "asset-discovery", input=DISCOVERY_INPUT)
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            f"/threads/{thread['thread_id']}/runs/wait",
            json={"assistant_id": "asset-discovery", "command": {"resume": {"decision": "maybe"}}},
        )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "approval.invalid_decision"
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["review"]


async def test_reject_strategy_gives_409_and_enqueue_runs_in_order(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """A second run on a busy thread is 409 with reject; with enqueue it runs after the first."""
    thread = await client.threads.create()
    marks = tmp_path / "marks"
    first = await client.runs.create(
        thread["thread_id"], "svc-chain", input=chain_input(marks, "first", two=1.0)
    )
    with pytest.raises(ConflictError):
        await client.runs.create(
            thread["thread_id"], "svc-chain", input=chain_input(marks, "second")
        )
    second = await client.runs.create(
        thread["thread_id"],
        "svc-chain",
        input=chain_input(marks, "second"),
        multitask_strategy="enqueue",
    )
    await client.runs.join(thread["thread_id"], second["run_id"])
    tokens = [line[0] for line in lines(marks)]
    assert tokens == ["first"] * 3 + ["second"] * 3
    statuses = {
        r["run_id"]: r["status"] for r in await client.runs.list(thread["thread_id"], limit=10)
    }
    assert statuses[first["run_id"]] == "success"
    assert statuses[second["run_id"]] == "success"


async def test_interrupt_strategy_cancels_the_running_run(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """multitask_strategy=interrupt stops the running run (interrupted) and runs the new one."""
    thread = await client.threads.create()
    marks = tmp_path / "marks"
    first = await client.runs.create(
        thread["thread_id"], "svc-chain", input=chain_input(marks, "slow", two=30.0)
    )
    await _until(lambda: any(line[1] == "one" for line in lines(marks)))
    second = await client.runs.create(
        thread["thread_id"],
        "svc-chain",
        input=chain_input(marks, "fast"),
        multitask_strategy="interrupt",
    )
    await client.runs.join(thread["thread_id"], second["run_id"])
    old = await client.runs.get(thread["thread_id"], first["run_id"])
    assert old["status"] == "interrupted"
    assert [line[:2] for line in lines(marks) if line[0] == "slow"] == [["slow", "one"]]


async def test_cancel_with_wait_stops_the_run(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """cancel(wait=True) returns once the run stopped; the run is interrupted, the thread idle."""
    thread = await client.threads.create()
    marks = tmp_path / "marks"
    run = await client.runs.create(
        thread["thread_id"], "svc-chain", input=chain_input(marks, "c", two=30.0)
    )
    await _until(lambda: len(lines(marks)) == 1)
    await client.runs.cancel(thread["thread_id"], run["run_id"], wait=True)
    stopped = await client.runs.get(thread["thread_id"], run["run_id"])
    assert stopped["status"] == "interrupted"
    current = await client.threads.get(thread["thread_id"])
    assert current["status"] == "idle"


async def test_join_stream_with_last_event_id_replays_exactly_the_rest(
    server: Server, client: LangGraphClient
) -> None:
    """Reconnecting with Last-Event-ID gets exactly the events after it, no gap, no duplicate."""
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "asset-discovery",
        input=DISCOVERY_INPUT,
        stream_mode=["updates", "values", "tasks"],
    )
    await client.runs.join(thread["thread_id"], run["run_id"])
    path = f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream"
    full = await _read_sse(server.url + path)
    ids = [int(e["id"]) for e in full]
    assert ids == sorted(set(ids))  # increasing; gaps are other modes' events (progress)
    assert full[0]["event"] == "metadata"
    assert {e["event"] for e in full} == {"metadata", "updates", "values", "tasks"}
    cut = len(full) // 2
    rest = await _read_sse(server.url + path, last_event_id=full[cut - 1]["id"])
    assert [e["id"] for e in rest] == [e["id"] for e in full[cut:]]
    via_query = await _read_sse(server.url + path + f"?last_event_id={full[cut - 1]['id']}")
    assert [e["id"] for e in via_query] == [e["id"] for e in full[cut:]]


async def test_stateless_wait_and_stream(server: Server, client: LangGraphClient) -> None:
    """/runs/wait and /runs/stream run on a new thread and return the results."""
    result = await client.runs.wait(
        None, "threat-triage", input={"target": "db-01", "indicators": ["port:4444"]}
    )
    assert isinstance(result, dict)
    assert result["severity"] in {"low", "medium", "high", "critical"}
    parts = [
        p
        async for p in client.runs.stream(
            None,
            "threat-triage",
            input={
                "target": "db-01",
                "indicators": ["file:evil.exe", "port:4444", "ip:203.0.113.9"],
            },
            stream_mode="updates",
            stream_subgraphs=True,
        )
    ]
    assert any(p.event.startswith("updates|") for p in parts), "subgraph updates are namespaced"


async def test_step_through_interrupt_before(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """interrupt_before pauses before the node; a run with no input continues."""
    thread = await client.threads.create()
    marks = tmp_path / "marks"
    await client.runs.wait(
        thread["thread_id"],
        "svc-chain",
        input=chain_input(marks, "s"),
        interrupt_before=["three"],
    )
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["three"]
    assert [line[1] for line in lines(marks)] == ["one", "two"]
    await client.runs.wait(thread["thread_id"], "svc-chain", input=None)
    assert [line[1] for line in lines(marks)] == ["one", "two", "three"]


async def test_unknown_ids_are_404_problems(server: Server) -> None:
    """Unknown threads, runs and assistants give 404 problem responses with codes."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        missing_thread = await http.post(
            f"/threads/{uuid.uuid4()}/runs", json={"assistant_id": "asset-discovery"}
        )
        thread = (await http.post("/threads", json={})).json()
        missing_run = await http.get(f"/threads/{thread['thread_id']}/runs/{uuid.uuid4()}")
        missing_assistant = await http.post(
            f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "no-such-workflow"}
        )
    assert (missing_thread.status_code, missing_thread.json()["code"]) == (404, "thread.not_found")
    assert (missing_run.status_code, missing_run.json()["code"]) == (404, "run.not_found")
    assert (missing_assistant.status_code, missing_assistant.json()["code"]) == (
        404,
        "workflow.not_found",
    )


async def _until(check: Any, limit: float = 30.0) -> None:
    """Wait (polling a local file, not the service) until ``check()`` is true."""
    deadline = asyncio.get_running_loop().time() + limit
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _read_sse(url: str, *, last_event_id: str | None = None) -> list[dict[str, str]]:
    """Read a whole SSE response into [{event, data, id}] (comments skipped)."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=30) as http, http.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if not line:
                if current:
                    events.append(current)
                    current = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            current[key] = value
    return events


async def test_stateless_run_deletes_its_thread_by_default(
    server: Server, client: LangGraphClient
) -> None:
    """A stateless run's thread is deleted when it completes; with keep it stays."""
    gone = await client.runs.create(None, "threat-triage", input={"target": "a", "indicators": []})
    kept = await client.runs.create(
        None, "threat-triage", input={"target": "b", "indicators": []}, on_completion="keep"
    )
    gone_result = await client.runs.join(gone["thread_id"], gone["run_id"])
    await client.runs.join(kept["thread_id"], kept["run_id"])
    assert isinstance(gone_result, dict)
    assert gone_result["target"] == "a"
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get(f"/threads/{gone['thread_id']}")).status_code == 404
        assert (await http.get(f"/threads/{kept['thread_id']}")).status_code == 200
