"""Assistants and threads through the official ``langgraph-sdk`` client against a live server."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.integration.service.conftest import EXAMPLES, Server

pytestmark = pytest.mark.integration

DISCOVERY = "asset-discovery"
DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())
DISCOVERY_FIELDS = {
    "client_id",
    "raw_assets",
    "assets",
    "classified",
    "dependencies",
    "report",
    "review",
    "published",
}


def tag() -> str:
    """A metadata value no other test uses, so searches only see this test's threads."""
    return secrets.token_hex(6)


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server, for what the SDK does not cover."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as session:
        yield session


async def gated_thread(client: LangGraphClient, **metadata: Any) -> str:
    """A thread whose asset-discovery run stopped at the ``review`` approval gate."""
    thread = await client.threads.create(metadata=metadata or None)
    result = await client.runs.wait(thread["thread_id"], DISCOVERY, input=DISCOVERY_INPUT)
    assert isinstance(result, dict)
    assert "__interrupt__" in result
    return str(thread["thread_id"])


def problem_code(exc: pytest.ExceptionInfo[Any]) -> str | None:
    """The ``code`` of the problem+json body an SDK error carries."""
    body = exc.value.body
    return body.get("code") if isinstance(body, dict) else None


# -- assistants ---------------------------------------------------------------------------


async def test_assistants_search_filters_and_pages(client: LangGraphClient) -> None:
    """search lists published workflows; graph_id, name and metadata filter; limit/offset page."""
    everything = await client.assistants.search(limit=100)
    ids = [a["assistant_id"] for a in everything]
    assert {DISCOVERY, "threat-triage", "monitoring"} <= set(ids)
    assert len(ids) == len(set(ids)), "one assistant per workflow"

    by_graph = await client.assistants.search(graph_id=DISCOVERY)
    assert [a["assistant_id"] for a in by_graph] == [DISCOVERY]
    by_name = await client.assistants.search(name="ASSET disc")
    assert DISCOVERY in [a["assistant_id"] for a in by_name]
    assert await client.assistants.search(metadata={"owner": "nobody"}) == []

    ordered = await client.assistants.search(limit=100, sort_by="assistant_id", sort_order="asc")
    names = [a["assistant_id"] for a in ordered]
    assert names == sorted(names)
    first = await client.assistants.search(limit=2, sort_by="assistant_id", sort_order="asc")
    page = await client.assistants.search(
        limit=2, offset=2, sort_by="assistant_id", sort_order="asc", response_format="object"
    )
    assert [a["assistant_id"] for a in first] == names[:2]
    assert [a["assistant_id"] for a in page["assistants"]] == names[2:4]
    assert page["next"] == ("4" if len(names) > 4 else None)
    assert await client.assistants.count(graph_id=DISCOVERY) == 1


async def test_get_assistant_is_the_published_workflow(client: LangGraphClient) -> None:
    """get returns the Assistant shape: ids are the workflow id, name its title."""
    assistant = await client.assistants.get(DISCOVERY)

    assert assistant["assistant_id"] == assistant["graph_id"] == DISCOVERY
    assert assistant["name"] == "Asset discovery"
    assert assistant["version"] == 1
    assert assistant["description"].startswith("Normalise a client's raw inventory")
    assert (assistant["config"], assistant["context"], assistant["metadata"]) == ({}, {}, {})
    assert assistant["created_at"] == assistant["updated_at"]


async def test_assistant_schemas(client: LangGraphClient) -> None:
    """schemas give the input fields (required when no default), output fields and state."""
    schemas = await client.assistants.get_schemas(DISCOVERY)

    assert schemas["graph_id"] == DISCOVERY
    inputs = schemas["input_schema"]
    assert inputs is not None
    assert set(inputs["properties"]) == {"client_id", "raw_assets"}
    assert inputs["required"] == ["client_id"]
    assert inputs["properties"]["client_id"]["type"] == "string"
    assert inputs["properties"]["raw_assets"]["default"] == []
    output = schemas["output_schema"]
    assert output is not None
    assert set(output["properties"]) == {
        "classified",
        "dependencies",
        "report",
        "review",
        "published",
    }
    state = schemas["state_schema"]
    assert state is not None
    assert set(state["properties"]) == DISCOVERY_FIELDS, "no hidden channels"
    assert schemas["config_schema"] is None
    assert schemas["context_schema"] is None


async def test_assistant_graph(client: LangGraphClient) -> None:
    """graph is drawable-graph JSON: document nodes plus __start__/__end__, conditional edges."""
    graph = await client.assistants.get_graph(DISCOVERY)

    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == {
        "__start__",
        "__end__",
        "import_assets",
        "classify",
        "analyse",
        "review",
        "publish",
    }
    assert nodes["__start__"]["type"] == "schema"
    assert nodes["review"]["type"] == "runnable"
    assert nodes["review"]["data"]["kind"] == "approval"
    edges = {(e["source"], e["target"]): e for e in graph["edges"]}
    assert ("__start__", "import_assets") in edges
    assert not edges[("__start__", "import_assets")].get("conditional")
    assert edges[("review", "publish")]["conditional"] is True
    assert "approve" in edges[("review", "publish")]["data"]
    assert edges[("review", "__end__")]["data"] == "default"


async def test_assistant_versions(client: LangGraphClient) -> None:
    """versions lists the published versions, newest first."""
    versions = await client.assistants.get_versions(DISCOVERY)

    assert [v["version"] for v in versions] == [1]
    assert versions[0]["assistant_id"] == DISCOVERY


async def test_assistants_are_read_only(client: LangGraphClient) -> None:
    """create with if_exists=do_nothing returns the workflow's assistant; other writes are 409."""
    same = await client.assistants.create(DISCOVERY, if_exists="do_nothing")
    assert same["assistant_id"] == DISCOVERY

    with pytest.raises(ConflictError) as created:
        await client.assistants.create(DISCOVERY)
    assert problem_code(created) == "assistant.read_only"
    with pytest.raises(ConflictError) as updated:
        await client.assistants.update(DISCOVERY, metadata={"team": "ops"})
    assert problem_code(updated) == "assistant.read_only"
    with pytest.raises(ConflictError) as deleted:
        await client.assistants.delete(DISCOVERY)
    assert problem_code(deleted) == "assistant.read_only"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.assistants.get("no-such-workflow"), id="get"),
        pytest.param(lambda c: c.assistants.get_schemas("no-such-workflow"), id="schemas"),
        pytest.param(lambda c: c.assistants.get_graph("no-such-workflow"), id="graph"),
        pytest.param(lambda c: c.assistants.get_versions("no-such-workflow"), id="versions"),
    ],
)
async def test_unknown_assistant_is_404(client: LangGraphClient, call: Any) -> None:
    """Every assistant endpoint answers 404 workflow.not_found for an unknown id."""
    with pytest.raises(NotFoundError) as missing:
        await call(client)
    assert problem_code(missing) == "workflow.not_found"


# -- threads -------------------------------------------------------------------------------


async def test_create_thread_if_exists(client: LangGraphClient) -> None:
    """Creating a taken thread id is 409 thread.exists, or returns it with if_exists=do_nothing."""
    thread_id = f"thread-{tag()}"
    created = await client.threads.create(thread_id=thread_id, metadata={"n": 1})
    assert created["thread_id"] == thread_id
    assert (created["status"], created["values"], created["interrupts"]) == ("idle", None, {})

    with pytest.raises(ConflictError) as taken:
        await client.threads.create(thread_id=thread_id, metadata={"n": 2})
    assert problem_code(taken) == "thread.exists"
    existing = await client.threads.create(
        thread_id=thread_id, metadata={"n": 2}, if_exists="do_nothing"
    )
    assert existing["thread_id"] == thread_id
    assert existing["metadata"] == {"n": 1}
    assert existing["created_at"] == created["created_at"]


async def test_create_thread_with_graph_id_binds_it(client: LangGraphClient) -> None:
    """A thread created with graph_id has that workflow's state before any run."""
    thread = await client.threads.create(graph_id=DISCOVERY)
    assert thread["metadata"] == {"graph_id": DISCOVERY}

    await client.threads.update_state(thread["thread_id"], {"client_id": "acme"}, as_node="analyse")
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["client_id"] == "acme"
    assert state["next"] == ["review"]
    with pytest.raises(NotFoundError) as unknown:
        await client.threads.create(graph_id="no-such-workflow")
    assert problem_code(unknown) == "workflow.not_found"


async def test_get_and_patch_thread(client: LangGraphClient) -> None:
    """get returns the thread; patch merges metadata keys into the existing ones."""
    thread = await client.threads.create(metadata={"client_id": "acme", "stage": "new"})

    patched = await client.threads.update(thread["thread_id"], metadata={"stage": "review", "n": 2})
    assert patched["metadata"] == {"client_id": "acme", "stage": "review", "n": 2}
    fetched = await client.threads.get(thread["thread_id"])
    assert fetched["metadata"] == patched["metadata"]
    assert fetched["updated_at"] >= thread["updated_at"]
    assert (
        await client.threads.update(thread["thread_id"], metadata={"n": 3}, return_minimal=True)
        is None
    )
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["n"] == 3


async def test_search_threads_by_metadata_status_and_page(client: LangGraphClient) -> None:
    """search filters by metadata containment and LangGraph status, sorts and pages."""
    mark = tag()
    idle = [
        (await client.threads.create(metadata={"batch": mark, "i": i}))["thread_id"]
        for i in range(3)
    ]
    gated = await gated_thread(client, batch=mark, i=3)

    found = await client.threads.search(metadata={"batch": mark}, limit=10)
    assert {t["thread_id"] for t in found} == {*idle, gated}
    assert [
        t["thread_id"] for t in await client.threads.search(metadata={"batch": mark, "i": 1})
    ] == [idle[1]]
    interrupted = await client.threads.search(metadata={"batch": mark}, status="interrupted")
    assert [t["thread_id"] for t in interrupted] == [gated]
    assert interrupted[0]["values"]["client_id"] == "acme"
    [[waiting]] = interrupted[0]["interrupts"].values()
    assert waiting["value"]["node"] == "review"
    assert {
        t["thread_id"] for t in await client.threads.search(metadata={"batch": mark}, status="idle")
    } == set(idle)
    assert await client.threads.search(metadata={"batch": mark}, status="busy") == []

    ordered = await client.threads.search(
        metadata={"batch": mark}, sort_by="thread_id", sort_order="asc", limit=10
    )
    ids = [t["thread_id"] for t in ordered]
    assert ids == sorted(ids)
    pages = [
        await client.threads.search(
            metadata={"batch": mark}, sort_by="thread_id", sort_order="asc", limit=3, offset=offset
        )
        for offset in (0, 3)
    ]
    assert [t["thread_id"] for page in pages for t in page] == ids
    assert await client.threads.count(metadata={"batch": mark}) == 4
    assert await client.threads.count(metadata={"batch": mark}, status="interrupted") == 1
    selected = await client.threads.search(metadata={"batch": mark}, select=["thread_id", "status"])
    assert all(set(t) == {"thread_id", "status"} for t in selected)


async def test_delete_thread(client: LangGraphClient, http: httpx.AsyncClient) -> None:
    """delete removes the thread, its state and runs (404 after); a queued run makes it 409."""
    thread_id = await gated_thread(client)
    queued = await client.runs.create(
        thread_id,
        DISCOVERY,
        command={"resume": {"decision": "approve"}},
        after_seconds=600,
    )
    with pytest.raises(ConflictError) as busy:
        await client.threads.delete(thread_id)
    assert problem_code(busy) == "thread.busy"
    await client.runs.cancel(thread_id, queued["run_id"])

    await client.threads.delete(thread_id)

    for path in ("", "/state", "/runs"):
        response = await http.get(f"/threads/{thread_id}{path}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "thread.not_found"
    with pytest.raises(NotFoundError):
        await client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await client.runs.get(thread_id, queued["run_id"])


async def test_state_at_the_approval_gate(client: LangGraphClient) -> None:
    """At the gate, state has the values, next=review, the interrupt, and public ids only."""
    thread_id = await gated_thread(client, client_id="acme")

    state = await client.threads.get_state(thread_id)

    assert set(state["values"]) == DISCOVERY_FIELDS
    assert state["values"]["client_id"] == "acme"
    assert len(state["values"]["classified"]) == 5
    assert state["next"] == ["review"]
    assert state["checkpoint"]["thread_id"] == thread_id
    assert state["checkpoint"]["checkpoint_ns"] == ""
    assert state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint"] is not None
    assert state["parent_checkpoint"]["thread_id"] == thread_id
    assert state["metadata"]["source"] == "loop"
    assert not any(key.startswith("gw_") for key in state["metadata"])
    [interrupt] = state["interrupts"]
    assert interrupt["value"]["node"] == "review"
    assert interrupt["value"]["decisions"] == ["approve", "reject", "edit"]
    [task] = state["tasks"]
    assert (task["name"], task["error"]) == ("review", None)
    assert task["interrupts"] == [interrupt]
    assert "/" not in json.dumps(state["checkpoint"]), "no tenant-qualified key leaks"

    thread = await client.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    assert thread["interrupts"] == {task["id"]: [interrupt]}
    assert thread["values"] == state["values"]


async def test_history_pages_newest_first(client: LangGraphClient) -> None:
    """history pages with limit/before, newest first, and filters by checkpoint metadata."""
    thread_id = await gated_thread(client)
    everything = await client.threads.get_history(thread_id, limit=100)
    ids = [s["checkpoint"]["checkpoint_id"] for s in everything]
    assert len(ids) >= 5
    assert ids == sorted(ids, reverse=True)
    assert everything[0]["next"] == ["review"]
    assert everything[-1]["metadata"]["source"] == "input"

    paged: list[str] = []
    before: Any = None
    while True:
        page = await client.threads.get_history(thread_id, limit=2, before=before)
        if not page:
            break
        assert len(page) <= 2
        paged += [s["checkpoint"]["checkpoint_id"] for s in page]
        before = page[-1]["checkpoint"]
    assert paged == ids
    by_id = await client.threads.get_history(thread_id, limit=2, before=ids[1])
    assert [s["checkpoint"]["checkpoint_id"] for s in by_id] == ids[2:4]

    inputs = await client.threads.get_history(thread_id, limit=10, metadata={"source": "input"})
    assert [s["checkpoint"]["checkpoint_id"] for s in inputs] == [ids[-1]]


async def test_state_at_a_checkpoint(client: LangGraphClient) -> None:
    """state at a checkpoint id from history equals that history entry; unknown ids are 404."""
    thread_id = await gated_thread(client)
    history = await client.threads.get_history(thread_id, limit=100)
    past = history[2]
    checkpoint_id = past["checkpoint"]["checkpoint_id"]

    by_id = await client.threads.get_state(thread_id, checkpoint_id=checkpoint_id)
    by_checkpoint = await client.threads.get_state(thread_id, checkpoint=past["checkpoint"])

    for state in (by_id, by_checkpoint):
        assert state["checkpoint"]["checkpoint_id"] == checkpoint_id
        assert state["values"] == past["values"]
        assert state["next"] == past["next"]
        assert state["parent_checkpoint"] == past["parent_checkpoint"]
    assert by_id["values"]["report"] is None, "the report is written after this checkpoint"
    with pytest.raises(NotFoundError) as missing:
        await client.threads.get_state(thread_id, checkpoint_id="no-such-checkpoint")
    assert problem_code(missing) == "checkpoint.not_found"


async def test_update_state_then_state_and_runs_see_it(client: LangGraphClient) -> None:
    """update_state writes validated values as a node; state and the next run see them."""
    thread_id = await gated_thread(client)
    before = await client.threads.get_state(thread_id)

    written = await client.threads.update_state(
        thread_id, {"report": "edited by a person"}, as_node="analyse"
    )

    checkpoint = written["checkpoint"]
    assert checkpoint["thread_id"] == thread_id
    state = await client.threads.get_state(thread_id)
    assert state["checkpoint"]["checkpoint_id"] == checkpoint["checkpoint_id"]
    assert state["parent_checkpoint"]["checkpoint_id"] == before["checkpoint"]["checkpoint_id"]
    assert state["values"]["report"] == "edited by a person"
    assert state["values"]["classified"] == before["values"]["classified"]
    assert state["next"] == ["review"]
    assert state["metadata"]["source"] == "update"
    assert (await client.threads.get(thread_id))["status"] == "idle"

    again = await client.runs.wait(thread_id, DISCOVERY, input=None)
    assert isinstance(again, dict)
    assert again["__interrupt__"][0]["value"]["show"]["report"] == "edited by a person"


@pytest.mark.parametrize(
    ("values", "as_node", "code"),
    [
        pytest.param({"report": 5}, "analyse", "state.invalid_update", id="wrong-type"),
        pytest.param({"nope": 1}, "analyse", "state.invalid_update", id="unknown-field"),
        pytest.param({"gw_input": {}}, "analyse", "state.invalid_update", id="hidden-channel"),
        pytest.param({"report": "x"}, "no_such_node", "state.unknown_node", id="unknown-node"),
    ],
)
async def test_update_state_refuses_bad_values(
    client: LangGraphClient, values: dict[str, Any], as_node: str, code: str
) -> None:
    """Invalid updates are 422 problems and leave the state unchanged."""
    thread_id = await gated_thread(client)
    before = await client.threads.get_state(thread_id)

    with pytest.raises(UnprocessableEntityError) as refused:
        await client.threads.update_state(thread_id, values, as_node=as_node)

    assert problem_code(refused) == code
    after = await client.threads.get_state(thread_id)
    assert after["checkpoint"] == before["checkpoint"]


async def test_copy_thread(client: LangGraphClient) -> None:
    """copy makes a new thread with the same metadata and checkpoints; both go on separately."""
    source = await gated_thread(client, client_id="acme", copy=tag())
    original = await client.threads.get_state(source)

    copied = await client.threads.copy(source)

    assert isinstance(copied, dict)
    copy_id = copied["thread_id"]
    assert copy_id != source
    assert copied["metadata"] == (await client.threads.get(source))["metadata"]
    assert copied["status"] == "interrupted"
    state = await client.threads.get_state(copy_id)
    assert state["values"] == original["values"]
    assert state["next"] == ["review"]
    assert state["checkpoint"]["thread_id"] == copy_id
    assert state["checkpoint"]["checkpoint_id"] == original["checkpoint"]["checkpoint_id"]
    source_history = await client.threads.get_history(source, limit=100)
    copy_history = await client.threads.get_history(copy_id, limit=100)
    assert [s["checkpoint"]["checkpoint_id"] for s in copy_history] == [
        s["checkpoint"]["checkpoint_id"] for s in source_history
    ]

    done = await client.runs.wait(copy_id, DISCOVERY, command={"resume": {"decision": "approve"}})
    assert isinstance(done, dict)
    assert done["published"]["assets"] == 5
    assert (await client.threads.get(source))["status"] == "interrupted"
    assert (await client.threads.get(copy_id))["status"] == "idle"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("GET", "/threads/{missing}", None, id="get"),
        pytest.param("PATCH", "/threads/{missing}", {"metadata": {"a": 1}}, id="patch"),
        pytest.param("DELETE", "/threads/{missing}", None, id="delete"),
        pytest.param("GET", "/threads/{missing}/state", None, id="state"),
        pytest.param("GET", "/threads/{missing}/state/cp", None, id="state-at"),
        pytest.param("POST", "/threads/{missing}/state", {"values": {"a": 1}}, id="update"),
        pytest.param("POST", "/threads/{missing}/history", {}, id="history"),
        pytest.param("POST", "/threads/{missing}/copy", None, id="copy"),
    ],
)
async def test_unknown_thread_is_a_404_problem(
    http: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    """Every thread endpoint answers an unknown id with a 404 problem coded thread.not_found."""
    response = await http.request(method, path.format(missing=f"missing-{tag()}"), json=body)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "thread.not_found"


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        pytest.param("/threads", {"thread_id": "has/slash"}, "/thread_id", id="bad-id"),
        pytest.param("/threads", {"if_exists": "sometimes"}, "/if_exists", id="bad-if-exists"),
        pytest.param("/threads", {"ttl": 60}, "/ttl", id="ttl-unsupported"),
        pytest.param("/threads", {"metadata": [1]}, "/metadata", id="metadata-not-object"),
        pytest.param("/threads/search", {"status": "done"}, "/status", id="search-status"),
        pytest.param("/threads/search", {"values": {"a": 1}}, "/values", id="search-values"),
        pytest.param("/threads/search", {"sort_by": "size"}, "/sort_by", id="search-sort"),
    ],
)
async def test_thread_endpoints_refuse_bad_bodies(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], pointer: str
) -> None:
    """Bad thread bodies (and unsupported options) are 422 problems pointing at the key."""
    response = await http.post(path, json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [p.get("pointer") for p in response.json()["problems"]]
