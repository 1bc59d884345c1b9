"""The Store through a live server: the official SDK's ``client.store``, tenants, roles, TTL,
and node code using the same items through LangGraph's ``get_store()``.

One ``graphwright serve`` with ``GW_AUTH=keys``: tenants acme and globex, each with an
operator and a viewer key, and the ``store-*`` workflows of ``_store_nodes.py``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import PermissionDeniedError

from tests.integration.service.conftest import NODES, Server, server_env, start_server

pytestmark = pytest.mark.integration

STORE_NODES = Path(__file__).resolve().parent / "_store_nodes.py"
GRAPHWRIGHT = str(Path(sys.executable).parent / "graphwright")
TENANTS = ("acme", "globex")


def store_workflow(workflow_id: str, ref: str) -> dict[str, Any]:
    """One ``ref`` node taking ``topic`` and ``note`` from state, writing ``seen``."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "topic": {"type": "string", "default": ""},
            "note": {"type": "string", "default": ""},
            "seen": {"type": "object", "nullable": True},
        },
        "input": ["topic", "note"],
        "output": ["seen"],
        "nodes": {
            "work": {
                "kind": "function",
                "ref": ref,
                "inputs": {"topic": "state.topic", "note": "state.note"},
            }
        },
        "edges": [{"from": "START", "to": "work"}, {"from": "work", "to": "END"}],
    }


WORKFLOWS = [
    store_workflow("store-remember", "store.remember"),
    store_workflow("store-remember-sync", "store.remember_sync"),
    {
        **store_workflow("store-recall", "store.recall"),
        "nodes": {
            "work": {"kind": "function", "ref": "store.recall", "inputs": {"topic": "state.topic"}}
        },
    },
]


@dataclass
class Deployment:
    """The live server and keys by (tenant, role)."""

    server: Server
    keys: dict[tuple[str, str], str]

    def client(self, tenant: str, role: str) -> LangGraphClient:
        """The official SDK client with the key of ``role`` in ``tenant``."""
        return get_client(url=self.server.url, api_key=self.keys[(tenant, role)])

    def http(self, tenant: str, role: str | None) -> httpx.AsyncClient:
        """A plain HTTP client with that key (none with None)."""
        headers = {} if role is None else {"X-Api-Key": self.keys[(tenant, role)]}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def deployment(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Server with keys for acme and globex (admin, operator, viewer) and the store workflows."""
    folder = tmp_path_factory.mktemp("store")
    env = server_env(
        database_url,
        GW_AUTH="keys",
        GW_WORKERS="2",
        GW_REGISTRY_MODULES=f"graphwright.examples,{NODES},{STORE_NODES}",
    )
    server = start_server(env, folder / "server.log")
    keys: dict[tuple[str, str], str] = {}
    try:
        for tenant in TENANTS:
            made = subprocess.run(
                [
                    GRAPHWRIGHT,
                    "keys",
                    "create",
                    "--tenant",
                    tenant,
                    "--role",
                    "admin",
                    "--name",
                    "root",
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert made.returncode == 0, made.stderr
            admin = {"X-Api-Key": json.loads(made.stdout)["key"]}
            for role in ("operator", "viewer"):
                answer = httpx.post(
                    server.url + "/keys",
                    json={"name": f"{role}-{tenant}", "roles": [role]},
                    headers=admin,
                )
                assert answer.status_code == 201, answer.text
                keys[(tenant, role)] = answer.json()["key"]
            for doc in WORKFLOWS:
                published = httpx.post(server.url + "/workflows", json=doc, headers=admin)
                assert published.status_code in (200, 201), published.text
        yield Deployment(server, keys)
    finally:
        server.stop()


@pytest.fixture
async def acme(deployment: Deployment) -> AsyncIterator[LangGraphClient]:
    """The SDK as acme's operator."""
    async with deployment.client("acme", "operator") as client:
        yield client


@pytest.fixture
def topic() -> str:
    """A namespace label no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


async def test_sdk_store_calls_round_trip(acme: LangGraphClient, topic: str) -> None:
    """put_item, get_item, search_items (prefix, filter), list_namespaces, delete_item work."""
    store = acme.store
    await store.put_item([topic, "u1"], "a", {"kind": "note", "score": 3})
    await store.put_item([topic, "u1"], "b", {"kind": "task", "score": 9})
    await store.put_item([topic, "u2", "deep"], "c", {"kind": "note", "score": 12})
    await store.put_item([f"{topic}x"], "d", {"kind": "note", "score": 12})

    item = await store.get_item([topic, "u1"], key="a")
    assert item["namespace"] == [topic, "u1"]
    assert item["key"] == "a"
    assert item["value"] == {"kind": "note", "score": 3}
    assert item["created_at"]
    assert item["updated_at"]

    notes = await store.search_items([topic], filter={"kind": "note"})
    assert sorted(i["key"] for i in notes["items"]) == ["a", "c"]
    high = await store.search_items([topic], filter={"score": {"$gt": 5}}, limit=1)
    assert len(high["items"]) == 1
    assert high["items"][0]["key"] in ("b", "c")
    paged = await store.search_items([topic], limit=2, offset=2)
    assert [i["key"] for i in paged["items"]] == ["a"]  # newest first: c, b, a

    listed = await store.list_namespaces(prefix=[topic])
    assert listed["namespaces"] == [[topic, "u1"], [topic, "u2", "deep"]]
    shallow = await store.list_namespaces(prefix=[topic], max_depth=2)
    assert shallow["namespaces"] == [[topic, "u1"], [topic, "u2"]]
    deep = await store.list_namespaces(prefix=[topic], suffix=["deep"])
    assert deep["namespaces"] == [[topic, "u2", "deep"]]

    await store.delete_item([topic, "u1"], key="a")
    assert await store.get_item([topic, "u1"], key="a") is None
    await store.delete_item([topic, "u1"], key="a")  # deleting nothing is fine


async def test_tenants_never_see_each_other(deployment: Deployment, topic: str) -> None:
    """acme's items are invisible to globex: get null, search and namespaces empty, delete no-op."""
    async with (
        deployment.client("acme", "operator") as acme,
        deployment.client("globex", "operator") as globex,
    ):
        await acme.store.put_item([topic], "secret", {"owner": "acme"})
        assert await globex.store.get_item([topic], key="secret") is None
        assert (await globex.store.search_items([topic]))["items"] == []
        globex_namespaces = (await globex.store.list_namespaces(prefix=[topic]))["namespaces"]
        assert globex_namespaces == []
        await globex.store.delete_item([topic], key="secret")
        await globex.store.put_item([topic], "secret", {"owner": "globex"})
        mine = await acme.store.get_item([topic], key="secret")
        theirs = await globex.store.get_item([topic], key="secret")
    assert mine["value"] == {"owner": "acme"}
    assert theirs["value"] == {"owner": "globex"}


async def test_viewers_read_operators_write(deployment: Deployment, topic: str) -> None:
    """A viewer key reads the store but cannot put or delete (403); no key is 401."""
    async with (
        deployment.client("acme", "operator") as operator,
        deployment.client("acme", "viewer") as viewer,
    ):
        await operator.store.put_item([topic], "k", {"v": 1})
        assert (await viewer.store.get_item([topic], key="k"))["value"] == {"v": 1}
        assert len((await viewer.store.search_items([topic]))["items"]) == 1
        with pytest.raises(PermissionDeniedError):
            await viewer.store.put_item([topic], "k", {"v": 2})
        with pytest.raises(PermissionDeniedError):
            await viewer.store.delete_item([topic], key="k")
    async with deployment.http("acme", None) as anonymous:
        answer = await anonymous.post("/store/items/search", json={"namespace_prefix": [topic]})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "payload", "code", "pointer"),
    [
        (
            "PUT",
            "/store/items",
            {"namespace": ["a.b"], "key": "k", "value": {}},
            "store.invalid_namespace",
            "/namespace/0",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a", ""], "key": "k", "value": {}},
            "store.invalid_namespace",
            "/namespace/1",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": [], "key": "k", "value": {}},
            "store.invalid_namespace",
            "/namespace",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "", "value": {}},
            "store.invalid_key",
            "/key",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": [1]},
            "request.invalid",
            "/value",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1},
            "store.invalid_ttl",
            "/ttl",
        ),
        (
            "GET",
            "/store/items",
            {"namespace": "", "key": "k"},
            "store.invalid_namespace",
            "/namespace/0",
        ),
        ("GET", "/store/items", {"namespace": "a", "key": ""}, "store.invalid_key", "/key"),
        (
            "POST",
            "/store/items/search",
            {"namespace_prefix": ["a"], "query": "cats"},
            "store.query_unsupported",
            "/query",
        ),
        (
            "POST",
            "/store/items/search",
            {"filter": {"x": {"$regex": "."}}},
            "store.invalid_filter",
            "/filter/x/$regex",
        ),
        ("POST", "/store/namespaces", {"prefix": ["a.b"]}, "store.invalid_namespace", "/prefix/0"),
        ("DELETE", "/store/items", {"namespace": ["a"], "key": ""}, "store.invalid_key", "/key"),
    ],
    ids=[
        "dot-label",
        "empty-label",
        "empty-namespace",
        "empty-key",
        "value-not-object",
        "negative-ttl",
        "get-empty-namespace",
        "get-empty-key",
        "semantic-query",
        "unknown-operator",
        "namespaces-dot-prefix",
        "delete-empty-key",
    ],
)
async def test_bad_input_is_a_422_problem(
    deployment: Deployment,
    method: str,
    path: str,
    payload: dict[str, Any],
    code: str,
    pointer: str,
) -> None:
    """Each invalid request is 422 problem+json with a stable code and a pointer, never a 500."""
    async with deployment.http("acme", "operator") as http:
        if method == "GET":
            answer = await http.get(path, params=payload)
        else:
            answer = await http.request(method, path, json=payload)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == code
    assert body["problems"][0]["pointer"] == pointer


async def test_items_expire_after_their_ttl(acme: LangGraphClient, topic: str) -> None:
    """An item put with ttl (minutes) disappears from get and search once it has passed."""
    await acme.store.put_item([topic], "brief", {"v": 1}, ttl=0.02)  # type: ignore[arg-type]
    await acme.store.put_item([topic], "lasting", {"v": 2}, ttl=60)
    assert (await acme.store.get_item([topic], key="brief", refresh_ttl=False)) is not None
    deadline = time.monotonic() + 30
    while await acme.store.get_item([topic], key="brief", refresh_ttl=False) is not None:
        assert time.monotonic() < deadline, "the item did not expire"
        await asyncio.sleep(0.3)
    keys = [i["key"] for i in (await acme.store.search_items([topic]))["items"]]
    assert keys == ["lasting"]


async def test_node_code_uses_the_tenant_store(deployment: Deployment, topic: str) -> None:
    """get_store() in async and sync nodes writes items the API shows to that tenant only."""
    async with (
        deployment.client("acme", "operator") as acme,
        deployment.client("globex", "operator") as globex,
    ):
        done = await acme.runs.wait(
            None, "store-remember", input={"topic": topic, "note": "from a node"}
        )
        assert isinstance(done, dict)
        assert done["seen"] == {"note": "from a node"}
        done_sync = await acme.runs.wait(
            None, "store-remember-sync", input={"topic": topic, "note": "sync"}
        )
        assert isinstance(done_sync, dict)
        assert done_sync["seen"] == {"note": "sync"}

        item = await acme.store.get_item(["notes", topic], key="last")
        assert item["value"] == {"note": "from a node"}
        assert await globex.store.get_item(["notes", topic], key="last") is None

        await acme.store.put_item(["notes", topic], "api", {"note": "from the API"})
        recalled = await acme.runs.wait(None, "store-recall", input={"topic": topic})
        other = await globex.runs.wait(None, "store-recall", input={"topic": topic})
    assert isinstance(recalled, dict)
    assert isinstance(other, dict)
    assert recalled["seen"] == {
        "last": {"note": "from a node"},
        "sync": {"note": "sync"},
        "api": {"note": "from the API"},
    }
    assert other["seen"] == {}
