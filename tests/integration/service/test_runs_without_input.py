"""A run created without input starts the workflow with its defaults, or says what is required."""

from __future__ import annotations

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import UnprocessableEntityError

pytestmark = pytest.mark.integration


async def test_first_run_without_input_on_a_thread_starts_with_defaults(
    client: LangGraphClient,
) -> None:
    """No input on an empty thread: the workflow runs from START with every field's default."""
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "svc-chain")
    assert isinstance(result, dict)
    assert result["trail"] == ["one", "two", "three"]
    runs = await client.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success"]


async def test_run_without_input_on_a_new_thread_starts_with_defaults(
    client: LangGraphClient,
) -> None:
    """No input and no thread (a stateless run): the workflow still runs to its end."""
    result = await client.runs.wait(None, "svc-chain")
    assert isinstance(result, dict)
    assert result["trail"] == ["one", "two", "three"]


@pytest.mark.parametrize("new_thread", [True, False], ids=["new-thread", "empty-thread"])
async def test_run_without_required_input_is_422(client: LangGraphClient, new_thread: bool) -> None:
    """A workflow with a required input field answers 422 state.invalid_input, nothing queued."""
    thread_id = None if new_thread else (await client.threads.create())["thread_id"]
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.runs.create(thread_id, "asset-discovery")
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "state.invalid_input"
    assert body["problems"][0]["pointer"] == "/client_id"
    if thread_id is not None:
        assert await client.runs.list(thread_id) == []
