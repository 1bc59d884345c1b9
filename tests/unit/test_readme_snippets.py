"""Every Python block of the README says how it is checked, and parses."""

from __future__ import annotations

import pytest

from tests.readme_snippets import MARKERS, Snippet, snippets

PYTHON = [snippet for snippet in snippets() if snippet.lang == "python"]


def test_the_readme_has_runnable_python_blocks() -> None:
    """The scanner finds the README's Python blocks, and most of them are run by tests."""
    run = [s for s in PYTHON if s.marker in {"service", "embedded"}]
    assert len(PYTHON) >= 5
    assert len(run) >= 3


@pytest.mark.parametrize("snippet", PYTHON, ids=lambda s: s.where)
def test_python_block_is_marked_and_parses(snippet: Snippet) -> None:
    """A Python block carries a readme marker and compiles (top-level await allowed)."""
    assert snippet.marker in MARKERS, (
        f"{snippet.where}: precede the block with <!-- readme: service|embedded|fragment -->"
    )
    snippet.compiled()


def test_markers_are_known() -> None:
    """No block carries a misspelt marker (it would silently not run)."""
    unknown = [(s.where, s.marker) for s in snippets() if s.marker and s.marker not in MARKERS]
    assert unknown == []


def test_scanner_reads_markers() -> None:
    """A marker within three lines before a fence belongs to that block only."""
    text = "<!-- readme: cli -->\n\n```bash\nuv run graphwright demo\n```\n```python\nx = 1\n```\n"
    first, second = snippets(text)
    assert (first.marker, first.lang, first.code) == ("cli", "bash", "uv run graphwright demo\n")
    assert (second.marker, second.line) == (None, 6)
