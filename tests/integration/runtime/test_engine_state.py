"""Reading threads: ``get_state`` and paged ``history``."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graphwright.errors import NotFoundError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]

STEPS = ("one", "two", "three", "four")

DOC: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "steps",
    "state": {
        "owner": {"type": "string"},
        "trail": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["owner"],
    "nodes": {
        **{
            name: {
                "kind": "function",
                "ref": "st.step",
                "inputs": {"name": f"'{name}'"},
                "writes": "trail",
            }
            for name in STEPS
        },
        "gate": {"kind": "approval", "prompt": "Done, ${state.owner}?", "writes": "review"},
    },
    "edges": [
        {"from": "START", "to": "one"},
        {"from": "one", "to": "two"},
        {"from": "two", "to": "gate"},
        {"from": "gate", "to": "three"},
        {"from": "three", "to": "four"},
        {"from": "four", "to": "END"},
    ],
}


@pytest.fixture
async def engine(open_engine: OpenEngine) -> Engine:
    """An engine with the ``steps`` workflow published."""
    registry = Registry()

    async def step(name: str) -> str:
        return name

    registry.add_function("st.step", step)
    engine = await open_engine(registry)
    await engine.publish(DOC)
    return engine


async def test_get_state_at_a_gate(engine: Engine) -> None:
    """At a gate, get_state gives the values so far, the gate as next node and its approval."""
    paused = await engine.run("steps", {"owner": "ana"}, metadata={"team": "ops"})

    state = await engine.get_state(paused.thread_id)

    assert (state.status, state.workflow_id, state.workflow_version) == ("interrupted", "steps", 1)
    assert state.values == {"owner": "ana", "trail": ["one", "two"], "review": None}
    assert state.next == ("gate",)
    assert [a.id for a in state.approvals] == [paused.approvals[0].id]
    assert state.approvals[0].prompt == "Done, ana?"
    assert state.metadata == {"team": "ops"}
    assert (state.run_id, state.error) == (paused.run_id, None)
    assert state.checkpoint_id is not None


async def test_get_state_after_completion(engine: Engine) -> None:
    """A completed thread has every value, no next node and no pending approval."""
    paused = await engine.run("steps", {"owner": "ana"})
    done = await engine.resume(paused.thread_id, "approve")

    state = await engine.get_state(paused.thread_id)

    assert state.status == "completed"
    assert state.values == done.values
    assert state.values["trail"] == list(STEPS)
    assert (state.next, state.approvals) == ((), ())


async def test_history_pages_are_disjoint_and_ordered(engine: Engine) -> None:
    """Pages read with limit/before are disjoint, newest first, and together the whole history."""
    paused = await engine.run("steps", {"owner": "ana"})
    await engine.resume(paused.thread_id, "approve")
    everything = await engine.history(paused.thread_id, limit=1000)

    pages: list[list[Any]] = []
    before: str | None = None
    while True:
        page = await engine.history(paused.thread_id, limit=2, before=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].checkpoint_id

    flat = [summary for page in pages for summary in page]
    ids = [summary.checkpoint_id for summary in flat]
    steps = [summary.step for summary in flat]
    assert len(everything) >= 6
    assert all(len(page) <= 2 for page in pages)
    assert len(set(ids)) == len(ids)
    assert ids == [summary.checkpoint_id for summary in everything]
    assert steps == sorted(steps, reverse=True)
    assert steps[-1] == -1
    for newer, older in itertools.pairwise(flat):
        assert newer.parent_checkpoint_id == older.checkpoint_id
    assert flat[0].values["trail"] == list(STEPS)
    assert flat[-1].values["trail"] == []


async def test_history_shows_the_gate_checkpoint(engine: Engine) -> None:
    """The newest checkpoint of a paused thread has the gate as next node."""
    paused = await engine.run("steps", {"owner": "ana"})

    (latest,) = await engine.history(paused.thread_id, limit=1)

    assert latest.next == ("gate",)
    assert latest.run_id == paused.run_id
    assert latest.checkpoint_id == (await engine.get_state(paused.thread_id)).checkpoint_id


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda e: e.get_state("missing"), id="get_state"),
        pytest.param(lambda e: e.history("missing"), id="history"),
        pytest.param(lambda e: e.resume("missing"), id="resume"),
    ],
)
async def test_unknown_thread_is_not_found(
    engine: Engine, operation: Callable[[Engine], Awaitable[Any]]
) -> None:
    """Reading or resuming a thread that does not exist raises thread.not_found."""
    with pytest.raises(NotFoundError) as caught:
        await operation(engine)

    assert caught.value.code == "thread.not_found"
