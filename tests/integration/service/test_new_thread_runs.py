"""Runs that create their thread (``if_not_exists="create"``, stateless) and ``/wait`` bodies."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from tests.integration.service.conftest import Server
from tests.integration.service.sse import read_events
from tests.integration.service.test_runs_sdk import chain_input, lines
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration


async def test_wait_returns_a_body_too_large_for_the_done_message(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """A /wait body over the done-message limit is read back from the run: complete values."""
    token = "t" * 70_000
    thread_id = str(uuid.uuid4())
    result = await client.runs.wait(
        thread_id, "svc-chain", input=chain_input(tmp_path / "m", token), if_not_exists="create"
    )
    assert isinstance(result, dict)
    assert result["token"] == token
    assert result["trail"] == ["one", "two", "three"]


async def test_bad_input_on_a_new_thread_leaves_no_thread(
    server: Server, client: LangGraphClient
) -> None:
    """A run refused for its input (422) does not leave the thread it would have created."""
    thread_id = str(uuid.uuid4())
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await client.runs.wait(thread_id, "svc-chain", input={"token": 5}, if_not_exists="create")
    assert refused.value.response.status_code == 422
    assert refused.value.response.json()["code"] == "state.invalid_input"
    with pytest.raises(httpx.HTTPStatusError) as missing:
        await client.threads.get(thread_id)
    assert missing.value.response.status_code == 404


async def test_if_not_exists_create_on_an_existing_thread_uses_it(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """With if_not_exists=create an existing thread is used as it is (metadata kept)."""
    thread = await client.threads.create(metadata={"client_id": "acme"})
    marks = tmp_path / "marks"
    for token in ("first", "second"):
        await client.runs.wait(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(marks, token),
            if_not_exists="create",
        )
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["trail"] == ["one", "two", "three"] * 2
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["client_id"] == "acme"
    assert [line[0] for line in lines(marks)] == ["first"] * 3 + ["second"] * 3


async def test_state_written_before_a_queued_first_run_is_kept(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """A state update made while a new thread's first run waits in the queue is not reset."""
    workflow_id = f"svc-tags-{uuid.uuid4().hex[:8]}"
    document = chain(workflow_id, ["one"])
    document["state"]["tags"] = {
        "type": "array",
        "items": {"type": "string"},
        "reducer": "extend",
        "default": ["seed"],
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await http.post("/workflows", json=document)).status_code in (200, 201)

    fresh = str(uuid.uuid4())
    run = await client.runs.create(
        fresh, workflow_id, input=chain_input(tmp_path / "a", "a"), if_not_exists="create"
    )
    await client.runs.join(fresh, run["run_id"])
    assert (await client.threads.get_state(fresh))["values"]["tags"] == ["seed"]

    updated = str(uuid.uuid4())
    run = await client.runs.create(
        updated,
        workflow_id,
        input=chain_input(tmp_path / "b", "b"),
        if_not_exists="create",
        after_seconds=1.5,
    )
    await client.threads.update_state(updated, {"tags": ["from-update"]})
    await client.runs.join(updated, run["run_id"])
    values = (await client.threads.get_state(updated))["values"]
    assert values["tags"] == ["from-update"]
    assert values["trail"] == ["one"]


async def test_a_run_read_as_ended_has_all_its_events_logged(
    server: Server, client: LangGraphClient, tmp_path: Path
) -> None:
    """Once a run reads as ended, a replay of its stream holds every event, run.finished last."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for index in range(12):
            thread_id = str(uuid.uuid4())
            run = await client.runs.create(
                thread_id,
                "svc-chain",
                input=chain_input(tmp_path / f"m{index}", "e"),
                if_not_exists="create",
                stream_mode=["progress"],
            )
            path = f"/threads/{thread_id}/runs/{run['run_id']}"
            # Poll (no sleep) so the first read that sees the end comes right after it.
            status = "pending"
            while status in ("pending", "running"):
                status = (await http.get(path)).json()["status"]
            events = await read_events(http, path + "/stream")
            progress = [json.loads(e.data)["type"] for e in events if e.event == "progress"]
            assert progress[-1] == "run.finished", progress
