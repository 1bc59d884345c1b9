"""The README's code blocks, with the marker that says how the tests run each one.

A block is preceded (within three lines) by an HTML comment such as
``<!-- readme: service -->``. The markers:

- ``service``: Python run against a live ``graphwright serve`` (the test rewrites
  ``http://127.0.0.1:8123`` to the test server's URL, nothing else);
- ``embedded``: a Python script (it calls ``asyncio.run``) run in-process, the environment
  pointing at a test database;
- ``cli``: shell lines starting with ``uv run graphwright`` run one by one; a placeholder
  ``<cron_id>`` (any ``<..._id>``) becomes the id of that name a command printed as JSON
  before, and ``<id>`` the last ``thread_id``;
- ``fragment``: an excerpt that cannot run alone (it names things defined by the
  reader); it must still parse.

Python blocks may use top-level ``await``, as in ``python -m asyncio``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = re.compile(r"<!--\s*readme:\s*([a-z-]+)\s*-->")
MARKERS = {"service", "embedded", "cli", "fragment"}


@dataclass(frozen=True)
class Snippet:
    """One fenced block of the README."""

    line: int
    lang: str
    marker: str | None
    code: str

    @property
    def where(self) -> str:
        """``README.md:<line>``, for messages and test ids."""
        return f"README.md:{self.line}"

    def compiled(self) -> object:
        """The block compiled, top-level ``await`` allowed (SyntaxError if it does not parse)."""
        return compile(
            self.code, self.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )


def snippets(text: str | None = None) -> list[Snippet]:
    """Every fenced block of the README, in order."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Snippet] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("```"):
            index += 1
            continue
        lang = line[3:].strip()
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        marker = None
        for previous in reversed(lines[max(0, start - 3) : start]):
            match = MARKER.search(previous)
            if match:
                marker = match.group(1)
                break
        found.append(Snippet(start + 1, lang, marker, "\n".join(body) + "\n"))
    return found


def marked(marker: str) -> list[Snippet]:
    """The blocks with ``marker``."""
    return [snippet for snippet in snippets() if snippet.marker == marker]
