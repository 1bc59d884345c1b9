"""Crew result paths: parsing ``outputs`` sources and reading them from a crew's result."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from graphwright.errors import NodeExecutionError
from graphwright.nodes.crew_outputs import OutputSource, parse_source, read_source

USAGE = {
    "total_tokens": 30,
    "prompt_tokens": 20,
    "completion_tokens": 10,
    "successful_requests": 2,
    "duration_ms": 12.5,
}


class Summary(BaseModel):
    """A structured task answer."""

    title: str
    assets: list[str]


def result(*tasks: Any) -> Any:
    """A crew result shaped like crewai's ``CrewOutput`` (the last task is the final one)."""
    last = tasks[-1]
    return SimpleNamespace(
        raw=last.raw, json_dict=last.json_dict, pydantic=last.pydantic, tasks_output=list(tasks)
    )


def task(raw: str, *, json_dict: Any = None, pydantic: BaseModel | None = None) -> Any:
    """A task result shaped like crewai's ``TaskOutput``."""
    return SimpleNamespace(raw=raw, json_dict=json_dict, pydantic=pydantic)


@pytest.mark.parametrize(
    ("text", "task_index", "part", "path"),
    [
        ("raw", None, "raw", ()),
        ("json", None, "json", ()),
        ("json.dependencies", None, "json", ("dependencies",)),
        ("json.items.0.name", None, "json", ("items", 0, "name")),
        ("json.items[2]", None, "json", ("items", 2)),
        ("pydantic.title", None, "pydantic", ("title",)),
        ("tasks[1].raw", 1, "raw", ()),
        ("tasks[0].json.a-b", 0, "json", ("a-b",)),
        ("usage", None, "usage", ()),
        ("usage.total_tokens", None, "usage", ("total_tokens",)),
    ],
    ids=lambda value: str(value),
)
def test_sources_parse(text: str, task_index: int | None, part: str, path: tuple[Any]) -> None:
    """Each documented source form parses into task, part and path."""
    assert parse_source(text) == OutputSource(text=text, task=task_index, part=part, path=path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "text",
        "raw.title",
        "tasks[x].raw",
        "tasks[0]",
        "json.",
        "json..a",
        "json[a]",
        "usage.cost",
        "usage.total_tokens.x",
        "tasks[0].usage",
    ],
)
def test_bad_sources_are_refused(text: str) -> None:
    """Anything else is refused with a message naming the allowed forms or the bad part."""
    with pytest.raises(ValueError, match=r"."):
        parse_source(text)


def test_reads_raw_json_pydantic_tasks_and_usage() -> None:
    """Every part reads from the right place of the result."""
    summary = Summary(title="Web tier", assets=["web-1"])
    first = task('```json\n{"dependencies": [{"from": "a", "to": "b"}]}\n```')
    second = task('{"title": "Web tier"}', pydantic=summary)
    crew = result(first, second)

    assert read_source(parse_source("raw"), crew, USAGE) == '{"title": "Web tier"}'
    assert read_source(parse_source("pydantic.assets[0]"), crew, USAGE) == "web-1"
    assert read_source(parse_source("json"), crew, USAGE) == summary.model_dump()
    assert read_source(parse_source("tasks[0].json.dependencies.0.to"), crew, USAGE) == "b"
    assert read_source(parse_source("tasks[0].raw"), crew, USAGE).startswith("```json")
    assert read_source(parse_source("usage"), crew, USAGE) == USAGE
    assert read_source(parse_source("usage.duration_ms"), crew, USAGE) == 12.5


def test_json_dict_wins_over_the_text() -> None:
    """A task with ``output_json`` is read from its ``json_dict``, not its text."""
    crew = result(task("ignored", json_dict={"count": 3}))
    assert read_source(parse_source("json.count"), crew, USAGE) == 3


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("json.count", "not JSON"),
        ("tasks[3].raw", "ran 1 task"),
        ("pydantic", "no structured"),
        ("tasks[0].json.missing", "nothing at 'missing'"),
    ],
    ids=["not-json", "no-such-task", "no-pydantic", "missing-key"],
)
def test_unreadable_results_are_coded(source: str, reason: str) -> None:
    """A result without the part is crew.output_invalid naming the source and the reason."""
    crew = result(task("The answer is three." if source == "json.count" else '{"a": 1}'))
    with pytest.raises(NodeExecutionError) as caught:
        read_source(parse_source(source), crew, USAGE)
    assert caught.value.code == "crew.output_invalid"
    assert caught.value.details["source"] == source
    assert reason in caught.value.message
