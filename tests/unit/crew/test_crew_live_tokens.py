"""Crew events carry the tokens used so far, so a UI can show usage while the crew works."""

from __future__ import annotations

import pytest

from graphwright.testing import approx_tokens, tool_call

from .helpers import crew_document, crew_registry, run_graph

pytest.importorskip("crewai", reason="crew nodes need graphwright[crew]")


async def test_steps_and_tasks_report_running_token_totals() -> None:
    """Each agent step and finished task carries the crew's total tokens so far, growing
    call by call, and the last task's total is the crew.usage total."""
    run = await run_graph(crew_document(), crew_registry())

    [step] = run.of("crew.agent_step")
    first, second = run.of("crew.task_completed")
    [usage] = run.of("crew.usage")
    # The step follows the researcher's first call (a tool call): its answer is counted.
    assert step["tokens"] > approx_tokens(tool_call("demo_lookup", {"name": "web-1"}))
    assert step["tokens"] < first["tokens"] < second["tokens"]
    assert second["tokens"] == usage["tokens"] == usage["total_tokens"]
