"""Where a crew node's ``outputs`` read from: parsing and reading crew result paths.

A source names a part of the crew's result:

- ``raw``: the final answer's text;
- ``json`` / ``json.<path>``: the final answer as JSON (its ``json_dict``, its
  ``pydantic`` model, or its text parsed as JSON, code fences allowed);
- ``pydantic`` / ``pydantic.<path>``: the final task's structured output;
- ``tasks[i].raw``, ``tasks[i].json...``, ``tasks[i].pydantic...``: task ``i``'s output;
- ``usage`` / ``usage.<key>``: tokens and duration of the run (:data:`USAGE_KEYS`).

A path is dot separated; a numeric part (``items.0``) or ``[0]`` indexes a list.
This module does not import crewai: results are read by attribute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graphwright.errors import NodeExecutionError

__all__ = ["USAGE_KEYS", "OutputSource", "Usage", "parse_source", "read_source"]

Part = Literal["raw", "json", "pydantic", "usage"]
USAGE_KEYS = (
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "successful_requests",
    "duration_ms",
)
Usage = Mapping[str, int | float]
"""Token usage and duration of one crew run, by :data:`USAGE_KEYS`."""

_SOURCE = re.compile(
    r"^(?:tasks\[(?P<task>\d{1,3})\]\.)?(?P<part>raw|json|pydantic|usage)(?P<path>(?:\.|\[).*)?$"
)
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d{1,9})\]")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


@dataclass(frozen=True)
class OutputSource:
    """A parsed output source.

    Attributes:
        text: The source as written.
        task: Task index for ``tasks[i]...``; ``None`` for the final output.
        part: ``raw``, ``json``, ``pydantic`` or ``usage``.
        path: Keys (``str``) and list indexes (``int``) below the part.
    """

    text: str
    task: int | None
    part: Part
    path: tuple[str | int, ...]


def parse_source(text: str) -> OutputSource:
    """Parse an output source such as ``tasks[0].json.dependencies``.

    Raises:
        ValueError: the text is not a source; the message says what is allowed.
    """
    match = _SOURCE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a crew result: use raw, json, json.<path>, pydantic, "
            "pydantic.<path>, tasks[i].raw (.json..., .pydantic...), usage or usage.<key>"
        )
    path: list[str | int] = []
    rest = match.group("path") or ""
    position = 0
    while position < len(rest):
        segment = _SEGMENT.match(rest, position)
        if segment is None:
            raise ValueError(f"{text!r}: bad path at {rest[position:]!r}")
        key, index = segment.groups()
        path.append(int(index) if index is not None else (int(key) if key.isdigit() else key))
        position = segment.end()
    part: Part = match.group("part")  # type: ignore[assignment]  # the regex allows only these
    task = int(match.group("task")) if match.group("task") is not None else None
    if part == "raw" and path:
        raise ValueError(f"{text!r}: 'raw' is text; read paths from 'json.<path>' instead")
    if part == "usage":
        if task is not None:
            raise ValueError(f"{text!r}: usage is recorded per crew run, not per task")
        if len(path) > 1 or (path and path[0] not in USAGE_KEYS):
            raise ValueError(f"{text!r}: usage keys are {', '.join(USAGE_KEYS)}")
    return OutputSource(text=text, task=task, part=part, path=tuple(path))


def read_source(source: OutputSource, output: Any, usage: Usage) -> Any:
    """Read ``source`` from a crew's result (a ``CrewOutput``) and its usage.

    Raises:
        NodeExecutionError: ``crew.output_invalid`` when the result has no such part
            (task index out of range, answer not JSON, no structured output, missing key).
    """
    if source.part == "usage":
        return _walk(source, dict(usage), source.path)
    target = output
    if source.task is not None:
        tasks = list(getattr(output, "tasks_output", None) or [])
        if source.task >= len(tasks):
            raise _invalid(source, f"the crew ran {len(tasks)} task(s)")
        target = tasks[source.task]
    if source.part == "raw":
        return str(getattr(target, "raw", "") or "")
    if source.part == "pydantic":
        model = getattr(target, "pydantic", None)
        if model is None:
            raise _invalid(source, "the task has no structured (pydantic) output")
        return _walk(source, model.model_dump(mode="json"), source.path)
    return _walk(source, _json_of(source, target), source.path)


def _json_of(source: OutputSource, target: Any) -> Any:
    data = getattr(target, "json_dict", None)
    if data is not None:
        return data
    model = getattr(target, "pydantic", None)
    if model is not None:
        return model.model_dump(mode="json")
    text = str(getattr(target, "raw", "") or "").strip()
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        preview = text if len(text) <= 200 else text[:200] + "..."
        raise _invalid(source, f"the answer is not JSON: {preview!r}") from None


def _walk(source: OutputSource, value: Any, path: tuple[str | int, ...]) -> Any:
    for depth, key in enumerate(path):
        where = _path_text(path[: depth + 1])
        if isinstance(value, Mapping) and str(key) in value:
            value = value[str(key)]
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            raise _invalid(source, f"the result has nothing at '{where}'")
    return value


def _path_text(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _invalid(source: OutputSource, reason: str) -> NodeExecutionError:
    return NodeExecutionError(
        f"crew result '{source.text}' cannot be read: {reason}",
        code="crew.output_invalid",
        details={"source": source.text, "reason": reason},
    )
