"""Function nodes and the run's tenant secrets: the ``secrets`` parameter and redaction."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphwright.errors import NodeExecutionError
from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.validate import check_workflow
from graphwright.nodes.context import RunContext
from graphwright.nodes.progress import GW_EVENT
from graphwright.redaction import REDACTED, Redactor
from graphwright.registry import Registry

SECRET = "horse battery staple"


class FakeSecrets:
    """A run's secret source over fixed values, counting reads."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0
        self._read: Mapping[str, str] | None = None

    @property
    def loaded(self) -> bool:
        return self._read is not None

    async def load(self) -> Mapping[str, str]:
        if self._read is None:
            self.reads += 1
            self._read = MappingProxyType(dict(self.values))
        return self._read

    async def redactor(self) -> Redactor:
        await self.load()
        return self.current()

    def current(self) -> Redactor:
        return Redactor(self._read.values() if self._read is not None else ())


def document(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A chain of ``nodes`` over a state with ``out`` (appended strings) and ``items``."""
    names = [name for name, _ in nodes]
    edges = [{"from": a, "to": b} for a, b in zip(["START", *names], [*names, "END"], strict=True)]
    return {
        "dsl": "graphwright/v1",
        "id": "secrets-demo",
        "state": {
            "out": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
            "items": {"type": "array", "items": {"type": "integer"}, "default": [1, 2]},
        },
        "nodes": dict(nodes),
        "edges": edges,
    }


def fn(ref: str, **extra: Any) -> dict[str, Any]:
    """A function node calling ``ref`` and appending its result to ``out``."""
    return {"kind": "function", "ref": ref, "writes": "out", **extra}


async def run(
    doc: dict[str, Any], registry: Registry, source: FakeSecrets | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``doc`` with ``source``; return the final state and graphwright's custom events."""
    graph = compile_workflow(doc, registry=registry).graph(InMemorySaver())
    events: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    async for mode, chunk in graph.astream(
        {},
        {"configurable": {"thread_id": "t"}},
        context=RunContext(tenant="acme", secrets=source),
        stream_mode=["custom", "values"],
    ):
        if mode == "custom" and isinstance(chunk, dict) and GW_EVENT in chunk:
            events.append(chunk)
        elif mode == "values" and isinstance(chunk, dict):
            final = chunk
    return final, events


def secret_registry() -> Registry:
    """Functions that use, ignore, leak and fail with the secret CRM_TOKEN."""
    registry = Registry()

    @registry.function("s.length")
    async def length(secrets: Mapping[str, str]) -> str:
        return f"{type(secrets).__name__}:{len(secrets.get('CRM_TOKEN', ''))}"

    @registry.function("s.item")
    def item(item: int, secrets: Mapping[str, str]) -> str:
        return f"{item}:{len(secrets['CRM_TOKEN'])}"

    @registry.function("s.kwargs")
    def kwargs(**given: Any) -> str:
        return ",".join(sorted(given))

    @registry.function("s.leak")
    def leak(secrets: Mapping[str, str]) -> str:
        return f"token={secrets['CRM_TOKEN']}"

    @registry.function("s.fail")
    def fail(secrets: Mapping[str, str]) -> str:
        raise ValueError(f"CRM refused {secrets['CRM_TOKEN']} and sk-proj-AbCdEf0123456789xyz")

    @registry.function("s.coded")
    def coded(secrets: Mapping[str, str]) -> str:
        token = secrets["CRM_TOKEN"]
        raise NodeExecutionError(
            f"CRM refused {token}", code="crm.denied", details={"sent": token}
        ) from KeyError(token)

    @registry.function("s.gave_up")
    def gave_up(secrets: Mapping[str, str]) -> str:
        raise TimeoutError(f"gave up waiting with {secrets['CRM_TOKEN']}")

    @registry.function("s.unasked")
    def unasked() -> str:
        raise RuntimeError(f"somehow got {SECRET}")

    @registry.function("s.mutate")
    def mutate(secrets: Any) -> str:
        secrets["CRM_TOKEN"] = "changed"
        return "mutated"

    return registry


async def test_a_function_naming_secrets_gets_a_read_only_mapping_read_once() -> None:
    """Two nodes and a map's items share one read of the run's secrets."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    doc = document(
        ("a", fn("s.length")),
        ("b", fn("s.length")),
        ("m", {"kind": "map", "over": "state.items", "node": fn("s.item")}),
    )
    final, _ = await run(doc, secret_registry(), source)
    assert final["out"] == ["mappingproxy:20", "mappingproxy:20", "1:20", "2:20"]
    assert source.reads == 1


async def test_functions_not_naming_secrets_never_read_them() -> None:
    """A **kwargs function gets no secrets, and nothing is read for it."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    final, _ = await run(document(("k", fn("s.kwargs"))), secret_registry(), source)
    assert final["out"] == ["state"]
    assert source.reads == 0


async def test_outside_the_engine_secrets_are_an_empty_mapping() -> None:
    """Without a secret source (a graph run directly) the mapping is empty."""
    final, _ = await run(document(("a", fn("s.length"))), secret_registry(), None)
    assert final["out"] == ["mappingproxy:0"]


async def test_the_mapping_cannot_be_changed() -> None:
    """Writing into the secrets mapping fails the node; the source keeps its value."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    with pytest.raises(NodeExecutionError) as caught:
        await run(document(("w", fn("s.mutate"))), secret_registry(), source)
    assert caught.value.details["type"] == "TypeError"
    assert (await source.load())["CRM_TOKEN"] == SECRET


async def test_an_error_holding_a_secret_is_redacted_everywhere_it_goes() -> None:
    """The raised error, its details and the node.failed events carry no secret or key."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    doc = document(("f", fn("s.fail", retry={"max_attempts": 2, "initial_interval": 0.01})))
    with pytest.raises(NodeExecutionError) as caught:
        await run(doc, secret_registry(), source)
    error = caught.value
    assert error.code == "node.failed"
    assert error.message == f"node 'f' failed: ValueError: CRM refused {REDACTED} and {REDACTED}"
    assert error.details["message"] == f"CRM refused {REDACTED} and {REDACTED}"
    assert error.__cause__ is None
    assert error.__suppress_context__
    assert SECRET not in repr(error)
    # The events come from a second run: the first raised before returning them.
    events = await failing_run_events(doc, source)
    failures = [e for e in events if e[GW_EVENT] == "node.failed"]
    assert [e["will_retry"] for e in failures] == [True, False]
    assert all(SECRET not in str(e) and "sk-proj" not in str(e) for e in failures)


async def failing_run_events(doc: dict[str, Any], source: FakeSecrets) -> list[dict[str, Any]]:
    """The custom events of a run of ``doc`` that fails with a NodeExecutionError."""
    graph = compile_workflow(doc, registry=secret_registry()).graph(InMemorySaver())
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        async for chunk in graph.astream(
            {},
            {"configurable": {"thread_id": "t2"}},
            context=RunContext(tenant="acme", secrets=source),
            stream_mode="custom",
        ):
            if isinstance(chunk, dict) and GW_EVENT in chunk:
                events.append(chunk)

    with pytest.raises(NodeExecutionError):
        await collect()
    return events


async def test_a_coded_error_keeps_its_code_and_loses_the_secret() -> None:
    """A node's own NodeExecutionError keeps its code; message and details are redacted."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    with pytest.raises(NodeExecutionError) as caught:
        await run(document(("c", fn("s.coded"))), secret_registry(), source)
    error = caught.value
    assert error.code == "crm.denied"
    assert error.message == f"CRM refused {REDACTED}"
    assert error.details == {"sent": REDACTED, "node": "c"}
    assert error.args == (error.message,)
    assert error.__cause__ is None
    assert error.__suppress_context__


async def test_a_timeout_raised_by_node_code_is_a_redacted_failure() -> None:
    """TimeoutError from the code of a node without a timeout is node.failed, redacted."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    with pytest.raises(NodeExecutionError) as caught:
        await run(document(("g", fn("s.gave_up"))), secret_registry(), source)
    assert caught.value.code == "node.failed"
    assert caught.value.details["type"] == "TimeoutError"
    assert caught.value.details["message"] == f"gave up waiting with {REDACTED}"


async def test_a_failing_node_that_never_asked_is_still_redacted() -> None:
    """On failure the run's secrets are read for redaction even if no node asked for them."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    with pytest.raises(NodeExecutionError) as caught:
        await run(document(("u", fn("s.unasked"))), secret_registry(), source)
    assert SECRET not in str(caught.value)
    assert source.reads == 1


async def test_writing_a_secret_into_state_is_refused() -> None:
    """An update holding a value the run has read fails with secrets.in_state, not retried."""
    source = FakeSecrets({"CRM_TOKEN": SECRET})
    doc = document(("l", fn("s.leak", retry={"max_attempts": 3, "initial_interval": 0.01})))
    events = await failing_run_events(doc, source)
    failures = [e for e in events if e[GW_EVENT] == "node.failed"]
    assert len(failures) == 1
    assert failures[0]["error"]["code"] == "secrets.in_state"
    assert failures[0]["will_retry"] is False
    assert SECRET not in str(failures)


def test_a_required_secrets_parameter_validates() -> None:
    """`secrets` counts as provided: a function requiring it passes validation."""
    spec, problems = check_workflow(document(("a", fn("s.length"))), registry=secret_registry())
    assert spec is not None, problems
    assert problems == []


def test_an_input_named_secrets_is_refused_for_a_function_taking_secrets() -> None:
    """An input called `secrets` would be lost under the tenant's secrets: a problem."""
    node = fn("s.length", inputs={"secrets": "state.out"})
    _, problems = check_workflow(document(("a", node)), registry=secret_registry())
    assert [(p.code, p.pointer) for p in problems] == [
        ("registry.signature_mismatch", "/nodes/a/inputs/secrets")
    ]
