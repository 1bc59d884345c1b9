"""A langgraph_sdk.Auth module's ``store`` handlers run on the Store routes as in LangGraph.

The handler below is LangGraph's documented pattern for per-user memories: it puts
the user's identity in front of every namespace, so each user works in their own.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import PermissionDeniedError

from tests.integration.service.conftest import Server, server_env, start_server

pytestmark = pytest.mark.integration

AUTH_MODULE = textwrap.dedent(
    """
    from langgraph_sdk import Auth

    auth = Auth()
    USERS = {"token-alice": "alice", "token-bob": "bob"}


    @auth.authenticate
    async def who(authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token not in USERS:
            raise Auth.exceptions.HTTPException(status_code=401, detail="who are you?")
        return USERS[token]


    @auth.on.store
    async def own_namespace(ctx: Auth.types.AuthContext, value: dict) -> None:
        namespace = tuple(value["namespace"]) if value.get("namespace") else ()
        value["namespace"] = (ctx.user.identity, *namespace)


    @auth.on.store.delete
    async def nobody_deletes(ctx: Auth.types.AuthContext, value: dict) -> bool:
        return False
    """
)


@pytest.fixture(scope="module")
def custom(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose GW_AUTH names the module above."""
    folder = tmp_path_factory.mktemp("store-auth")
    module = folder / "store_auth.py"
    module.write_text(AUTH_MODULE)
    env = server_env(database_url, GW_AUTH=f"{module}:auth", GW_WORKERS="0")
    server = start_server(env, folder / "server.log")
    yield server
    server.stop()


async def test_handler_rewrites_namespaces_per_user(custom: Server) -> None:
    """alice and bob put the same namespace and key; each reads, searches and lists their own."""
    topic = f"t{uuid.uuid4().hex[:8]}"
    alice_headers = {"Authorization": "Bearer token-alice"}
    bob_headers = {"Authorization": "Bearer token-bob"}
    async with (
        get_client(url=custom.url, headers=alice_headers) as alice,
        get_client(url=custom.url, headers=bob_headers) as bob,
    ):
        await alice.store.put_item([topic], "prefs", {"theme": "dark"})
        await bob.store.put_item([topic], "prefs", {"theme": "light"})
        mine = await alice.store.get_item([topic], key="prefs")
        theirs = await bob.store.get_item([topic], key="prefs")
        found = await alice.store.search_items([topic])
        listed = await alice.store.list_namespaces()
        with pytest.raises(PermissionDeniedError):
            await alice.store.delete_item([topic], key="prefs")
        still = await alice.store.get_item([topic], key="prefs")
    assert mine["value"] == {"theme": "dark"}
    assert mine["namespace"] == ["alice", topic]
    assert theirs["value"] == {"theme": "light"}
    assert [i["value"] for i in found["items"]] == [{"theme": "dark"}]
    assert [topic] not in listed["namespaces"]
    assert ["alice", topic] in listed["namespaces"]
    assert all(namespace[0] == "alice" for namespace in listed["namespaces"])
    assert still["value"] == {"theme": "dark"}


async def test_unknown_token_is_refused(custom: Server) -> None:
    """Without a known token the Store answers the handler's 401."""
    async with httpx.AsyncClient(base_url=custom.url) as http:
        answer = await http.post(
            "/store/items/search", json={}, headers={"Authorization": "Bearer nope"}
        )
    assert answer.status_code == 401
