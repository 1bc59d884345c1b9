"""One run per thread: concurrent runs conflict, and runs/resumes check the thread's status."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import RunStateError, WorkflowConflictError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.runtime.results import RunResult

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

HANG_GUARD = 30.0

HOLD_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hold",
    "state": {"count": {"type": "integer", "reducer": "add"}},
    "nodes": {"hold": {"kind": "function", "ref": "cc.hold", "writes": "count"}},
    "edges": [{"from": "START", "to": "hold"}, {"from": "hold", "to": "END"}],
}

GATE_DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "gate",
    "state": {"review": {"type": "object", "nullable": True}},
    "nodes": {"gate": {"kind": "approval", "prompt": "OK?", "writes": "review"}},
    "edges": [{"from": "START", "to": "gate"}, {"from": "gate", "to": "END"}],
}


class Holder:
    """``cc.hold`` signals ``entered`` and waits for ``release`` before returning 1."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls: Counter[str] = Counter()

    def registry(self) -> Registry:
        registry = Registry()

        async def hold() -> int:
            self.calls["hold"] += 1
            self.entered.set()
            await self.release.wait()
            return 1

        registry.add_function("cc.hold", hold)
        return registry


async def race_two_runs(
    engine: Engine, holder: Holder, thread_id: str
) -> tuple[list[RunResult], list[BaseException]]:
    """Start two runs on ``thread_id`` at once; release the node once one run has ended."""
    runs = [asyncio.create_task(engine.run("hold", thread_id=thread_id)) for _ in range(2)]
    async with asyncio.timeout(HANG_GUARD):
        await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
        holder.release.set()
        await asyncio.wait(runs)
    results = [t.result() for t in runs if t.exception() is None]
    errors = [e for t in runs if (e := t.exception()) is not None]
    return results, errors


async def test_concurrent_runs_on_existing_thread(open_engine: OpenEngine) -> None:
    """Of two runs on one existing thread, one completes and the other raises thread.busy."""
    holder = Holder()
    engine = await open_engine(holder.registry())
    await engine.publish(HOLD_DOC)
    holder.release.set()
    first = await engine.run("hold", thread_id="shared")
    holder.release.clear()
    holder.calls.clear()

    results, errors = await race_two_runs(engine, holder, "shared")

    assert first.status == "completed"
    assert [r.status for r in results] == ["completed"]
    assert [getattr(e, "code", None) for e in errors] == ["thread.busy"]
    assert isinstance(errors[0], WorkflowConflictError)
    assert holder.calls == Counter(hold=1)
    assert results[0].values["count"] == 2


async def test_concurrent_runs_on_new_thread(open_engine: OpenEngine) -> None:
    """Of two runs creating one new thread at once, one completes, the other raises thread.busy."""
    holder = Holder()
    engine = await open_engine(holder.registry())
    await engine.publish(HOLD_DOC)

    results, errors = await race_two_runs(engine, holder, "brand-new")

    assert [r.status for r in results] == ["completed"]
    assert [getattr(e, "code", None) for e in errors] == ["thread.busy"]
    assert holder.calls == Counter(hold=1)


async def test_run_while_running_is_busy(open_engine: OpenEngine) -> None:
    """A run on a thread whose node is still running raises thread.busy and changes nothing."""
    holder = Holder()
    engine = await open_engine(holder.registry())
    await engine.publish(HOLD_DOC)
    running = asyncio.create_task(engine.run("hold", thread_id="held"))
    async with asyncio.timeout(HANG_GUARD):
        await holder.entered.wait()

    with pytest.raises(WorkflowConflictError) as caught:
        await engine.run("hold", thread_id="held")
    with pytest.raises(WorkflowConflictError) as resume_caught:
        await engine.resume("held")
    during = await engine.get_state("held")
    holder.release.set()
    result = await running

    assert caught.value.code == "thread.busy"
    assert caught.value.details["run_id"] == result.run_id
    assert resume_caught.value.code == "thread.busy"
    assert during.status == "running"
    assert result.status == "completed"
    assert holder.calls == Counter(hold=1)


async def test_run_on_interrupted_thread_is_refused(open_engine: OpenEngine) -> None:
    """``run`` on a thread waiting at an approval raises RunStateError; the gate stays pending."""
    engine = await open_engine(Registry())
    await engine.publish(GATE_DOC)
    paused = await engine.run("gate")

    with pytest.raises(RunStateError) as caught:
        await engine.run("gate", thread_id=paused.thread_id)
    state = await engine.get_state(paused.thread_id)

    assert caught.value.code == "run.invalid_state"
    assert state.status == "interrupted"
    assert [a.id for a in state.approvals] == [paused.approvals[0].id]


async def test_resume_of_completed_thread_is_refused(open_engine: OpenEngine) -> None:
    """``resume`` on a completed thread raises run.invalid_state."""
    engine = await open_engine(Registry())
    await engine.publish(GATE_DOC)
    paused = await engine.run("gate")
    await engine.resume(paused.thread_id, "approve")

    with pytest.raises(RunStateError) as caught:
        await engine.resume(paused.thread_id, "approve")

    assert caught.value.code == "run.invalid_state"
    assert (await engine.get_state(paused.thread_id)).status == "completed"


async def test_run_on_thread_of_another_workflow_is_refused(open_engine: OpenEngine) -> None:
    """A thread id already used by another workflow raises thread.workflow_mismatch."""
    holder = Holder()
    holder.release.set()
    engine = await open_engine(holder.registry())
    await engine.publish(HOLD_DOC)
    await engine.publish(GATE_DOC)
    await engine.run("hold", thread_id="taken")

    with pytest.raises(WorkflowConflictError) as caught:
        await engine.run("gate", thread_id="taken")

    assert caught.value.code == "thread.workflow_mismatch"
