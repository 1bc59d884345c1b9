"""Engine failures: coded errors, retries inside a run, resume without re-running done nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import NodeExecutionError, RunStateError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]


def chain_doc(retry: dict[str, Any] | None = None) -> dict[str, Any]:
    """``first -> second -> third``, each appending its name to ``trail``."""
    second: dict[str, Any] = {"kind": "function", "ref": "f.second", "writes": "trail"}
    if retry is not None:
        second["retry"] = retry
    return {
        "dsl": "graphwright/v1",
        "id": "chain",
        "state": {
            "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        },
        "nodes": {
            "first": {"kind": "function", "ref": "f.first", "writes": "trail"},
            "second": second,
            "third": {"kind": "function", "ref": "f.third", "writes": "trail"},
        },
        "edges": [
            {"from": "START", "to": "first"},
            {"from": "first", "to": "second"},
            {"from": "second", "to": "third"},
            {"from": "third", "to": "END"},
        ],
    }


class Flaky:
    """Side-effect counters plus the number of calls of ``second`` that still fail."""

    def __init__(self, failures: int) -> None:
        self.calls: Counter[str] = Counter()
        self.failures = failures

    def registry(self) -> Registry:
        registry = Registry()

        async def first() -> str:
            self.calls["first"] += 1
            return "first"

        async def second() -> str:
            self.calls["second"] += 1
            if self.failures > 0:
                self.failures -= 1
                raise NodeExecutionError("the CRM is down", code="crm.unavailable")
            return "second"

        async def third() -> str:
            self.calls["third"] += 1
            return "third"

        registry.add_function("f.first", first)
        registry.add_function("f.second", second)
        registry.add_function("f.third", third)
        return registry


async def test_failed_node_keeps_its_error_code(open_engine: OpenEngine) -> None:
    """A node raising crm.unavailable fails the run and the thread with that code."""
    flaky = Flaky(failures=1)
    engine = await open_engine(flaky.registry())
    await engine.publish(chain_doc())

    result = await engine.run("chain")
    state = await engine.get_state(result.thread_id)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "crm.unavailable"
    assert result.error["details"]["node"] == "second"
    assert (state.status, state.error) == ("failed", result.error)
    assert state.values["trail"] == ["first"]
    assert state.next == ("second",)


async def test_resume_after_failure_skips_completed_nodes(open_engine: OpenEngine) -> None:
    """Resuming a failed thread re-runs only the failed node onwards; error is cleared."""
    flaky = Flaky(failures=1)
    engine = await open_engine(flaky.registry())
    await engine.publish(chain_doc())
    failed = await engine.run("chain")

    resumed = await engine.resume(failed.thread_id)
    state = await engine.get_state(failed.thread_id)

    assert failed.status == "failed"
    assert (resumed.status, resumed.run_id) == ("completed", failed.run_id)
    assert resumed.values["trail"] == ["first", "second", "third"]
    assert flaky.calls == Counter(first=1, second=2, third=1)
    assert (state.status, state.error) == ("completed", None)


async def test_resume_of_failed_thread_refuses_a_decision(open_engine: OpenEngine) -> None:
    """A decision for a failed thread raises RunStateError and the thread stays failed."""
    flaky = Flaky(failures=1)
    engine = await open_engine(flaky.registry())
    await engine.publish(chain_doc())
    failed = await engine.run("chain")

    with pytest.raises(RunStateError) as caught:
        await engine.resume(failed.thread_id, "approve")

    assert caught.value.code == "run.invalid_state"
    assert (await engine.get_state(failed.thread_id)).status == "failed"
    assert flaky.calls == Counter(first=1, second=1)


@pytest.mark.parametrize(
    ("failures", "status", "second_calls"),
    [
        pytest.param(2, "completed", 3, id="recovers-on-third-attempt"),
        pytest.param(3, "failed", 3, id="gives-up-after-max-attempts"),
    ],
)
async def test_retry_within_one_run(
    open_engine: OpenEngine, failures: int, status: str, second_calls: int
) -> None:
    """Transient failures are retried up to max_attempts inside one run, then the run fails."""
    flaky = Flaky(failures=failures)
    engine = await open_engine(flaky.registry())
    await engine.publish(
        chain_doc(retry={"max_attempts": 3, "initial_interval": 0, "jitter": False})
    )

    result = await engine.run("chain")

    assert result.status == status
    assert flaky.calls["first"] == 1
    assert flaky.calls["second"] == second_calls
    if status == "failed":
        assert result.error is not None
        assert result.error["code"] == "crm.unavailable"


async def test_retry_only_on_listed_codes(open_engine: OpenEngine) -> None:
    """With ``retry.on`` not naming the error's code, the node runs once and the run fails."""
    flaky = Flaky(failures=1)
    engine = await open_engine(flaky.registry())
    await engine.publish(
        chain_doc(
            retry={
                "max_attempts": 3,
                "initial_interval": 0,
                "jitter": False,
                "on": ["node.timeout"],
            }
        )
    )

    result = await engine.run("chain")

    assert result.status == "failed"
    assert flaky.calls["second"] == 1


CHILD_DOC: dict[str, Any] = {**chain_doc(), "id": "child-chain"}

PARENT_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "parent-chain",
    "state": {
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "child_trail": {"type": "array", "items": {"type": "string"}, "nullable": True},
    },
    "nodes": {
        "prepare": {"kind": "function", "ref": "f.prepare", "writes": "trail"},
        "sub": {
            "kind": "subworkflow",
            "workflow": "child-chain",
            "outputs": {"child_trail": "trail"},
        },
    },
    "edges": [
        {"from": "START", "to": "prepare"},
        {"from": "prepare", "to": "sub"},
        {"from": "sub", "to": "END"},
    ],
}


async def test_resume_after_failure_inside_subworkflow(open_engine: OpenEngine) -> None:
    """A failing child fails the parent; resume re-runs no finished node of parent or child."""
    flaky = Flaky(failures=1)
    registry = flaky.registry()

    async def prepare() -> str:
        flaky.calls["prepare"] += 1
        return "prepare"

    registry.add_function("f.prepare", prepare)
    engine = await open_engine(registry)
    await engine.publish(CHILD_DOC)
    await engine.publish(PARENT_DOC)

    failed = await engine.run("parent-chain")
    resumed = await engine.resume(failed.thread_id)

    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error["code"] == "crm.unavailable"
    assert resumed.status == "completed"
    assert resumed.values["child_trail"] == ["first", "second", "third"]
    assert flaky.calls == Counter(prepare=1, first=1, second=2, third=1)


async def test_node_timeout_fails_with_node_timeout(open_engine: OpenEngine) -> None:
    """A node exceeding its timeout fails the run with node.timeout naming the node."""
    registry = Registry()

    async def stuck() -> str:
        await asyncio.Event().wait()
        return "never"

    registry.add_function("f.stuck", stuck)
    engine = await open_engine(registry)
    await engine.publish(
        {
            "dsl": "graphwright/v1",
            "id": "stuck",
            "state": {"out": {"type": "string", "nullable": True}},
            "nodes": {
                "wait": {"kind": "function", "ref": "f.stuck", "writes": "out", "timeout": 0.05}
            },
            "edges": [{"from": "START", "to": "wait"}, {"from": "wait", "to": "END"}],
        }
    )

    result = await engine.run("stuck")

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == "node.timeout"
    assert result.error["details"]["node"] == "wait"
