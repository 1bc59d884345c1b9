"""The ``graphwright`` command refuses files it cannot or should not read: exit 2, no traceback.

Each case runs the real script in a subprocess with a timeout, so a command that
reads forever (``/dev/zero``) fails the test instead of hanging it. None of these
commands reaches the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from graphwright.cli import MAX_FILE_BYTES

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPT = Path(sys.executable).parent / "graphwright"


def _graphwright(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the script without any GW_* setting, on a wide terminal so messages do not wrap."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env.update({"COLUMNS": "1000", "TERMINAL_WIDTH": "1000"})
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _non_utf8(folder: Path) -> Path:
    path = folder / "latin1.json"
    path.write_bytes('{"id": "caf\u00e9"}'.encode("latin-1"))
    return path


def _too_large(folder: Path) -> Path:
    path = folder / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space used
    return path


def _directory(folder: Path) -> Path:
    path = folder / "folder.json"
    path.mkdir()
    return path


def _dev_zero(_: Path) -> Path:
    return Path("/dev/zero")


def _missing(folder: Path) -> Path:
    return folder / "missing.json"


BAD_FILES: list[tuple[Callable[[Path], Path], str]] = [
    (_non_utf8, "is not UTF-8 text (byte 0xe9 at offset 11)"),
    (_dev_zero, "is not a regular file"),
    (_directory, "is not a regular file"),
    (_too_large, f"is larger than {MAX_FILE_BYTES // 2**20} MB"),
    (_missing, "No such file or directory"),
]
BAD_FILE_IDS = ["non-utf8", "dev-zero", "directory", "over-cap", "missing"]


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=BAD_FILE_IDS)
def test_validate_refuses_bad_file(
    make: Callable[[Path], Path], message: str, tmp_path: Path
) -> None:
    """`validate` on an unreadable, non-regular, oversized or non-UTF-8 file exits 2 naming it."""
    path = make(tmp_path)
    done = _graphwright("validate", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"document {path}" in done.stderr
    assert message in done.stderr


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=BAD_FILE_IDS)
def test_run_refuses_bad_input_file(
    make: Callable[[Path], Path], message: str, tmp_path: Path
) -> None:
    """`run FILE --input @bad` exits 2 with a message naming the input file, never a traceback."""
    path = make(tmp_path)
    workflow = str(EXAMPLES / "asset-discovery.json")
    done = _graphwright("run", workflow, "--input", f"@{path}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert f"--input file {path}" in done.stderr
    assert message in done.stderr


def test_validate_skips_bad_sibling_files(tmp_path: Path) -> None:
    """Unreadable *.json files next to a valid document are ignored: `validate` still exits 0."""
    document = tmp_path / "asset-discovery.json"
    document.write_bytes((EXAMPLES / "asset-discovery.json").read_bytes())
    for make in (_non_utf8, _too_large, _directory):
        make(tmp_path)
    done = _graphwright("validate", str(document), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
