"""Thread TTL and pruning through the official ``langgraph-sdk`` against a live server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from graphwright.store import Pool
from graphwright.store.pruning import PrunePolicy, prune_threads
from tests.integration.hygiene_rows import checkpoint_counts, run_ids, thread_rows
from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

TENANT = "default"  # the live server runs without auth, as GW_TENANT's tenant


def chain_input(token: str) -> dict[str, Any]:
    """Input of svc-chain (one, two, three), no delays."""
    return {"token": token, "delays": {"one": 0.0, "two": 0.0, "three": 0.0}}


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server, for bodies the SDK would not send."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as session:
        yield session


async def finished_thread(client: LangGraphClient, runs: int = 1) -> str:
    """A thread that ran svc-chain ``runs`` times to the end."""
    thread = await client.threads.create(graph_id="svc-chain")
    for index in range(runs):
        await client.runs.wait(thread["thread_id"], "svc-chain", input=chain_input(f"r{index}"))
    return str(thread["thread_id"])


def expires_in(ttl: dict[str, Any], minutes: float) -> bool:
    """Whether ``ttl["expires_at"]`` lies about ``minutes`` from now."""
    expires = datetime.fromisoformat(ttl["expires_at"])
    left = expires - datetime.now(expires.tzinfo)
    return abs(left - timedelta(minutes=minutes)) < timedelta(minutes=1)


async def test_sdk_ttl_on_create_update_and_get(client: LangGraphClient) -> None:
    """threads.create(ttl=minutes) and update(ttl={...}) are accepted; get(include=["ttl"])
    shows strategy, minutes and expiry, and a thread without one has none."""
    created: Any = await client.threads.create(ttl=30)
    thread_id = created["thread_id"]
    read: Any = await client.threads.get(thread_id, include=["ttl"])
    updated: Any = await client.threads.update(
        thread_id, metadata={"k": "v"}, ttl={"ttl": 90, "strategy": "keep_latest"}
    )
    after: Any = await client.threads.get(thread_id, include=["ttl"])
    plain: Any = await client.threads.get(
        (await client.threads.create())["thread_id"], include=["ttl"]
    )
    without: Any = await client.threads.get(thread_id)

    assert created["ttl"]["strategy"] == "delete"
    assert created["ttl"]["ttl_minutes"] == 30
    assert expires_in(created["ttl"], 30)
    assert read["ttl"]["ttl_minutes"] == 30
    assert expires_in(read["ttl"], 30)
    assert updated["ttl"] == after["ttl"]
    assert (after["ttl"]["strategy"], after["ttl"]["ttl_minutes"]) == ("keep_latest", 90)
    assert expires_in(after["ttl"], 90)
    assert after["metadata"]["k"] == "v"
    assert plain["ttl"] is None
    assert "ttl" not in without


@pytest.mark.parametrize(
    ("method", "path", "body", "pointer"),
    [
        pytest.param("POST", "/threads", {"ttl": {"ttl": 0}}, "/ttl/ttl", id="zero"),
        pytest.param("POST", "/threads", {"ttl": {"ttl": -5}}, "/ttl/ttl", id="negative"),
        pytest.param("POST", "/threads", {"ttl": {"ttl": 1e12}}, "/ttl/ttl", id="too-long"),
        pytest.param("POST", "/threads", {"ttl": {"strategy": "delete"}}, "/ttl/ttl", id="missing"),
        pytest.param(
            "POST",
            "/threads",
            {"ttl": {"ttl": 5, "strategy": "archive"}},
            "/ttl/strategy",
            id="strategy",
        ),
        pytest.param("POST", "/threads", {"ttl": 60}, "/ttl", id="bare-number"),
        pytest.param("POST", "/threads/prune", {"thread_ids": []}, "/thread_ids", id="prune-empty"),
        pytest.param(
            "POST",
            "/threads/prune",
            {"thread_ids": ["a"], "strategy": "x"},
            "/strategy",
            id="prune-strategy",
        ),
    ],
)
async def test_bad_ttl_and_prune_bodies_are_422_problems(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], pointer: str
) -> None:
    """A TTL that is not a positive number of minutes (at most 100 years) with a known
    strategy, or a bad prune body, is a 422 problem pointing at the field."""
    response = await http.request(method, path, json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request.invalid"
    assert pointer in [p.get("pointer") for p in response.json()["problems"]]


async def test_include_other_than_ttl_is_refused(
    client: LangGraphClient, http: httpx.AsyncClient
) -> None:
    """GET /threads/{id}?include=values is a 422 problem, not silently ignored."""
    thread = await client.threads.create()

    response = await http.get(f"/threads/{thread['thread_id']}", params={"include": "values"})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_sdk_prune_keep_latest_and_delete(client: LangGraphClient, pool: Pool) -> None:
    """threads.prune(keep_latest) leaves one root checkpoint with the state intact and the
    thread runnable; threads.prune(delete) removes a thread with every row; unknown ids
    are not counted."""
    kept = await finished_thread(client, runs=2)
    doomed = await finished_thread(client)
    values = (await client.threads.get_state(kept))["values"]
    refs = [(TENANT, doomed)]
    runs = await run_ids(pool, refs)

    pruned = await client.threads.prune([kept, "no-such-thread"], strategy="keep_latest")
    deleted = await client.threads.prune([doomed, "no-such-thread"])

    assert pruned == {"pruned_count": 1}
    assert deleted == {"pruned_count": 1}
    assert (await checkpoint_counts(pool, (TENANT, kept)))[""] == 1
    assert (await client.threads.get_state(kept))["values"] == values
    assert await thread_rows(pool, refs, runs) == dict.fromkeys(await thread_rows(pool, []), 0)
    with pytest.raises(NotFoundError):
        await client.threads.get(doomed)
    again = await client.runs.wait(kept, "svc-chain", input=chain_input("again"))
    assert isinstance(again, dict)
    assert again["trail"] == [*values["trail"], "one", "two", "three"]


async def test_sdk_prune_skips_a_thread_waiting_at_a_gate(client: LangGraphClient) -> None:
    """keep_latest on a thread waiting at a gate prunes nothing; the gate is still decidable."""
    thread = await client.threads.create(graph_id="svc-gated")
    waiting = await client.runs.wait(
        thread["thread_id"],
        "svc-gated",
        input={"token": "g", "delays": {"first": 0.0, "last": 0.0}},
    )
    assert isinstance(waiting, dict)
    assert "__interrupt__" in waiting

    pruned = await client.threads.prune([thread["thread_id"]], strategy="keep_latest")
    done = await client.runs.wait(thread["thread_id"], "svc-gated", command={"resume": "approve"})

    assert pruned == {"pruned_count": 0}
    assert isinstance(done, dict)
    assert done["review"]["decision"] == "approve"


async def test_history_pages_after_pruning(client: LangGraphClient, pool: Pool) -> None:
    """After keeping the 3 newest checkpoints, POST /threads/{id}/history pages with
    limit/before walk exactly those, the oldest without a parent, and each one's state
    is readable; a pruned checkpoint id is 404."""
    thread_id = await finished_thread(client, runs=3)
    full = await client.threads.get_history(thread_id, limit=100)

    await prune_threads(pool, PrunePolicy(keep=3, tenant=TENANT, thread_ids=[thread_id]))

    pages: list[Any] = []
    before: Any = None
    while page := await client.threads.get_history(thread_id, limit=2, before=before):
        pages += page
        before = page[-1]["checkpoint"]
    ids = [p["checkpoint"]["checkpoint_id"] for p in pages]
    assert ids == [s["checkpoint"]["checkpoint_id"] for s in full[:3]]
    assert pages[-1]["parent_checkpoint"] is None
    assert [p["values"] for p in pages] == [s["values"] for s in full[:3]]
    for checkpoint_id in ids:
        state: Any = await client.threads.get_state(thread_id, checkpoint_id=checkpoint_id)
        assert state["checkpoint"]["checkpoint_id"] == checkpoint_id
    with pytest.raises(NotFoundError):
        await client.threads.get_state(
            thread_id, checkpoint_id=full[3]["checkpoint"]["checkpoint_id"]
        )
