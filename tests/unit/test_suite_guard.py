"""tests/conftest.py: an unreachable test PostgreSQL stops the run with one line, not tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://postgres:s3cret@127.0.0.1:{port}/postgres"


def _pytest(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GW_TEST_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_integration_run_stops_with_one_line() -> None:
    """Against a dead server: exit 4 and one line naming the setting, no traceback."""
    done = _pytest(_dead_url(), "tests/integration/store", "tests/integration/cli")
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 4, output
    assert len(output) == 1, output
    [line] = output
    assert line.startswith("ERROR: PostgreSQL for the tests is unreachable at")
    assert "GW_TEST_DATABASE_URL" in line
    assert "s3cret" not in line
    assert "Traceback" not in done.stderr


def test_unit_run_needs_no_server() -> None:
    """A run of unit tests only does not look for the test PostgreSQL."""
    done = _pytest(_dead_url(), "tests/unit/test_cli_hints.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unreachable" not in done.stdout + done.stderr


def test_deselected_integration_needs_no_server() -> None:
    """-m 'not integration' over the whole tree does not look for it either."""
    done = _pytest(
        _dead_url(),
        "tests/unit/test_cli_hints.py",
        "tests/integration/cli",
        "-m",
        "not integration",
    )
    assert done.returncode in (0, 5), done.stdout + done.stderr
    assert "unreachable" not in done.stdout + done.stderr
