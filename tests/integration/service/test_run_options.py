"""Run options sent with the official SDK reach node code; options graphwright cannot honour
are refused, never dropped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

CONFIG = {"configurable": {"model": "m-1", "user_id": "u-7", "thread_id": "hijack"}}
CONTEXT = {"region": "eu", "budget": 3}


def check_seen(values: dict[str, Any], thread_id: str) -> None:
    """The node saw the client's configurable and context; graphwright's keys were kept."""
    seen = values["seen"]
    assert seen["configurable"]["model"] == "m-1"
    assert seen["configurable"]["user_id"] == "u-7"
    assert seen["configurable"]["thread_id"] == f"default/{thread_id}"
    assert seen["configurable"]["gw_tenant"] == "default"
    assert seen["context"] == CONTEXT
    assert seen["tenant"] == "default"


async def test_wait_passes_configurable_and_context(client: LangGraphClient) -> None:
    """``runs.wait`` with config and context: the node reads both; thread_id is not overridden."""
    thread = await client.threads.create()
    values = await client.runs.wait(
        thread["thread_id"], "svc-options", input={}, config=CONFIG, context=CONTEXT
    )
    assert isinstance(values, dict)
    check_seen(values, thread["thread_id"])


async def test_create_and_join_pass_configurable_and_context(client: LangGraphClient) -> None:
    """A background ``runs.create`` carries both to the worker; the run echoes them back."""
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"], "svc-options", input={}, config=CONFIG, context=CONTEXT
    )
    values = await client.runs.join(thread["thread_id"], run["run_id"])
    check_seen(values, thread["thread_id"])
    stored = await client.runs.get(thread["thread_id"], run["run_id"])
    assert stored["kwargs"]["config"]["configurable"] == {"model": "m-1", "user_id": "u-7"}
    assert stored["kwargs"]["context"] == CONTEXT


async def test_stream_passes_configurable_and_context(client: LangGraphClient) -> None:
    """``runs.stream`` (values mode): the last values chunk holds what the node saw."""
    thread = await client.threads.create()
    last: dict[str, Any] = {}
    async for part in client.runs.stream(
        thread["thread_id"],
        "svc-options",
        input={},
        config=CONFIG,
        context=CONTEXT,
        stream_mode="values",
    ):
        if part.event == "values" and isinstance(part.data, dict):
            last = part.data
    check_seen(last, thread["thread_id"])


@pytest.mark.parametrize(
    ("config", "pointer"),
    [
        pytest.param({"run_name": "x"}, "/config/run_name", id="unknown-option"),
        pytest.param({"configurable": "model"}, "/config/configurable", id="not-an-object"),
        pytest.param({"recursion_limit": 0}, "/config/recursion_limit", id="bad-limit"),
        pytest.param({"tags": [1]}, "/config/tags", id="bad-tags"),
    ],
)
def test_unsupported_config_is_refused(server: Server, config: Any, pointer: str) -> None:
    """An option graphwright cannot honour answers 422 run.invalid_request at its pointer."""
    response = httpx.post(
        f"{server.url}/runs/wait",
        json={"assistant_id": "svc-options", "input": {}, "config": config},
        timeout=10,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "run.invalid_request"
    assert problem["details"]["problems"][0]["pointer"] == pointer
