"""Unit-test configuration: keep Hypothesis' caches out of the working tree."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

_HOME: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Point Hypothesis at a temporary home (it writes caches even without a database)."""
    home = Path(tempfile.mkdtemp(prefix="graphwright-hypothesis-"))
    _HOME.append(home)
    set_hypothesis_home_dir(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the temporary Hypothesis home."""
    while _HOME:
        shutil.rmtree(_HOME.pop(), ignore_errors=True)
