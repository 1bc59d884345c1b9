"""``command_prefix``: the hints the CLI prints name a command that works in the user's shell."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from graphwright.cli import command_prefix


def _which(*found: str) -> Callable[[str], str | None]:
    """A ``shutil.which`` that finds only ``found``."""
    return lambda name: f"/usr/bin/{name}" if name in found else None


@pytest.mark.parametrize(
    ("env", "on_path", "uv_script", "expected"),
    [
        pytest.param(
            {"UV": "/usr/bin/uv"}, ("uv",), False, "uv run --no-sync graphwright", id="uv-run"
        ),
        pytest.param(
            {"UV": "/p/.cache/uv/0.13.9/uv"},
            (),
            True,
            "python3 scripts/uv.py run --no-sync graphwright",
            id="scripts-uv-py",
        ),
        pytest.param(
            {"UV": "/opt/my tools/uv"},
            (),
            False,
            "'/opt/my tools/uv' run --no-sync graphwright",
            id="uv-off-path",
        ),
        pytest.param({}, ("graphwright",), False, "graphwright", id="on-path"),
    ],
)
def test_hint_names_a_command_that_works(
    env: dict[str, str], on_path: tuple[str, ...], uv_script: bool, expected: str, tmp_path: Path
) -> None:
    """Under uv the hint goes through uv (whatever found the venv); else plain graphwright."""
    if uv_script:
        (tmp_path / "scripts").mkdir()
        (tmp_path / "scripts" / "uv.py").write_text("")
    hint = command_prefix(argv0="graphwright", env=env, which=_which(*on_path), cwd=tmp_path)
    assert hint == expected


def test_hint_is_the_script_path_when_graphwright_is_not_on_path(tmp_path: Path) -> None:
    """Run as .venv/bin/graphwright without an activated venv: the hint is that path."""
    script = tmp_path / ".venv" / "bin" / "graphwright"
    script.parent.mkdir(parents=True)
    script.write_text("")
    hint = command_prefix(argv0=str(script), env={}, which=_which(), cwd=tmp_path)
    assert hint == "./.venv/bin/graphwright"


def test_uv_fetched_by_the_script_gives_the_script_hint(tmp_path: Path) -> None:
    """uv fetched by scripts/uv.py (not the user's) is not on their PATH: hint the script."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "uv.py").write_text("")
    fetched = tmp_path / ".cache" / "uv" / "0.13.9" / "uv"
    fetched.parent.mkdir(parents=True)
    fetched.write_text("")
    prefix = command_prefix(env={"UV": str(fetched)}, which=lambda name: str(fetched), cwd=tmp_path)
    assert prefix == "python3 scripts/uv.py run --no-sync graphwright"
