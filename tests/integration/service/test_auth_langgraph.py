"""A langgraph_sdk.Auth module works unchanged (GW_AUTH=path:auth)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_client

from tests.integration.service.conftest import (
    TEST_WORKFLOWS,
    Server,
    server_env,
    start_server,
)

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


    @auth.on
    async def owner_only(ctx: Auth.types.AuthContext, value: dict) -> dict:
        metadata = value.setdefault("metadata", {}) if isinstance(value, dict) else {}
        if isinstance(metadata, dict):
            metadata["owner"] = ctx.user.identity
        return {"owner": ctx.user.identity}


    @auth.on.threads.delete
    async def nobody_deletes(ctx: Auth.types.AuthContext, value: dict) -> bool:
        return False
    """
)


@pytest.fixture(scope="module")
def custom(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose GW_AUTH names the module above; svc-chain published by alice."""
    folder = tmp_path_factory.mktemp("lgauth")
    module = folder / "my_auth.py"
    module.write_text(AUTH_MODULE)
    env = server_env(database_url, GW_AUTH=f"{module}:auth", GW_WORKERS="2")
    server = start_server(env, folder / "server.log")
    try:
        published = httpx.post(
            server.url + "/workflows",
            json=TEST_WORKFLOWS["svc-chain"],
            headers={"Authorization": "Bearer token-alice"},
        )
        assert published.status_code in (200, 201), published.text
        yield server
    finally:
        server.stop()


async def test_authenticate_handler_decides_who_calls(custom: Server) -> None:
    """Unknown tokens get the handler's 401 (its detail kept); known ones get through."""
    async with httpx.AsyncClient(base_url=custom.url) as http:
        unknown = await http.get("/workflows", headers={"Authorization": "Bearer nope"})
        known = await http.get("/workflows", headers={"Authorization": "Bearer token-alice"})
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "auth.invalid"
    assert unknown.json()["detail"] == "who are you?"
    assert known.status_code == 200


async def test_on_handler_filters_threads_by_owner(custom: Server) -> None:
    """The SDK runs as alice; her threads get owner=alice; bob sees none of them (404)."""
    alice = {"Authorization": "Bearer token-alice"}
    bob = {"Authorization": "Bearer token-bob"}
    async with get_client(url=custom.url, headers=alice) as client:
        thread = await client.threads.create(metadata={"topic": "x"})
        result = await client.runs.wait(thread["thread_id"], "svc-chain")
        assert isinstance(result, dict)
        assert result["trail"] == ["one", "two", "three"]
        mine = await client.threads.search()
    async with get_client(url=custom.url, headers=bob) as client:
        theirs = await client.threads.search()
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await client.threads.get(thread["thread_id"])
    assert thread["metadata"] == {"topic": "x", "owner": "alice"}
    assert thread["thread_id"] in {t["thread_id"] for t in mine}
    assert thread["thread_id"] not in {t["thread_id"] for t in theirs}
    assert caught.value.response.status_code == 404


async def test_denying_handler_answers_403(custom: Server) -> None:
    """@auth.on.threads.delete returning False: 403 auth.forbidden, the thread stays."""
    alice = {"Authorization": "Bearer token-alice"}
    async with httpx.AsyncClient(base_url=custom.url, headers=alice) as http:
        thread = (await http.post("/threads", json={})).json()
        denied = await http.delete(f"/threads/{thread['thread_id']}")
        still = await http.get(f"/threads/{thread['thread_id']}")
    assert denied.status_code == 403
    assert denied.json()["code"] == "auth.forbidden"
    assert still.status_code == 200
