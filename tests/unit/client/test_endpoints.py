"""Endpoints are written once and serve both clients with the same signatures and types."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import httpx
import pytest
from mypy import api as mypy_api

from graphwright.client import AsyncClient, Client
from graphwright.client.calls import Call, segment
from graphwright.client.endpoints import M, Resource, endpoint
from tests.unit.client.fakes import BASE_URL

RESOURCES = ("workflows", "approvals", "health", "ops", "runs", "threads")
CLIENT_METHODS = ("send", "stream_run", "follow_run", "follow_thread")


class Echoes(Resource[M]):
    """A resource added the way every endpoint is: one method building a Call."""

    @endpoint
    def echo(self, name: str, *, loud: bool = False) -> Call[str]:
        """``GET /echo/{name}``: the name, upper-cased when loud."""

        def parse(response: httpx.Response) -> str:
            text = str(response.json()["name"])
            return text.upper() if loud else text

        return Call("GET", f"/echo/{segment(name)}", parse, idempotent=True)


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"name": request.url.path.rsplit("/", 1)[-1]})


async def test_one_endpoint_definition_serves_both_clients() -> None:
    """A method written once returns its result on Client and is awaited on AsyncClient."""
    with Client(BASE_URL, transport=httpx.MockTransport(_answer)) as client:
        blocking = Echoes(client).echo("ada", loud=True)
    async with AsyncClient(BASE_URL, transport=httpx.MockTransport(_answer)) as aclient:
        echoes = Echoes(aclient)
        assert inspect.iscoroutinefunction(echoes.echo)
        awaited = await echoes.echo("ada", loud=True)
    assert blocking == awaited == "ADA"
    signature = str(inspect.signature(Echoes(client).echo))
    assert signature == "(name: 'str', *, loud: 'bool' = False) -> 'str'"
    assert Echoes(client).echo.__doc__ == Echoes.echo.__doc__


@pytest.mark.parametrize("resource", RESOURCES)
def test_both_clients_have_the_same_methods_and_signatures(resource: str) -> None:
    """Each resource has the same public methods, signatures and docstrings on both clients;
    the async ones are coroutine functions, the blocking ones are not."""
    sync_part = getattr(Client(BASE_URL), resource)
    async_part = getattr(AsyncClient(BASE_URL), resource)
    names = [n for n in dir(sync_part) if not n.startswith("_") and n != "client"]
    assert names
    assert names == [n for n in dir(async_part) if not n.startswith("_") and n != "client"]
    for name in names:
        blocking, awaiting = getattr(sync_part, name), getattr(async_part, name)
        assert inspect.signature(blocking) == inspect.signature(awaiting), name
        assert blocking.__doc__, name
        assert blocking.__doc__ == awaiting.__doc__, name
        assert not inspect.iscoroutinefunction(blocking), name
        assert inspect.iscoroutinefunction(awaiting) or name == "graph", name


def test_both_clients_have_the_same_stream_methods() -> None:
    """The stream constructors and ``send`` have the same signatures on both clients."""
    for name in CLIENT_METHODS:
        blocking = inspect.signature(getattr(Client, name))
        awaiting = inspect.signature(getattr(AsyncClient, name))
        assert list(blocking.parameters) == list(awaiting.parameters), name


USAGE = """
from typing import Any, assert_type

from graphwright.client import (
    AsyncClient, AsyncEventStream, Client, EventStream, Run, RunOutput, ValidationResult,
)


def blocking(gw: Client) -> None:
    assert_type(gw.workflows.validate({"id": "x"}), ValidationResult)
    assert_type(gw.workflows.graph("w"), dict[str, Any])
    assert_type(gw.workflows.graph("w", "mermaid", version=2), str)
    assert_type(gw.runs.create(None, "wf", input={"a": 1}, stream_mode="values"), Run)
    assert_type(gw.runs.wait("t", "wf", timeout=3.0, input={}), RunOutput)
    assert_type(gw.runs.cancel("t", "r", wait=True), Run | None)
    assert_type(gw.threads.delete("t"), None)
    assert_type(gw.stream_run(None, "wf", input={}), EventStream)
    gw.runs.create(None, "wf", inputs={})  # line 17: no such option


async def awaiting(gw: AsyncClient) -> None:
    assert_type(await gw.workflows.validate({"id": "x"}), ValidationResult)
    assert_type(await gw.workflows.graph("w", "mermaid"), str)
    assert_type(await gw.runs.join("t", "r"), RunOutput)
    assert_type(gw.follow_thread("t"), AsyncEventStream)
    run: Run = gw.runs.get("t", "r")  # line 25: not awaited
"""


def test_type_checkers_see_each_clients_result_types(tmp_path: Path) -> None:
    """Under mypy --strict both clients' methods have their exact result types, and misuse
    (an unknown option, a coroutine not awaited) is an error."""
    source = tmp_path / "usage.py"
    source.write_text(textwrap.dedent(USAGE).lstrip())
    out, err, _ = mypy_api.run(["--strict", str(source)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["17", "25"], out + err
    assert 'Unexpected keyword argument "inputs"' in errors[0]
    assert '"Coroutine[Any, Any, Run]"' in errors[1]
