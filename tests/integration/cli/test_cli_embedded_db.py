"""The embedded PostgreSQL's lifecycle as users meet it: real CLI processes, real postmasters.

A command that needs the database starts the embedded server; the last graphwright
process using it stops it when it exits; ``db start`` keeps it; ``db status`` and
``db stop`` show and stop it. Checked on the postmaster itself (``postmaster.pid``
and the processes serving the data directory), not on what the CLI prints.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from graphwright.runtime.embedded import EmbeddedPostgres
from tests.integration.service.conftest import free_port

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPT = Path(sys.executable).parent / "graphwright"
TRIAGE = [
    "run",
    str(EXAMPLES / "threat-triage.json"),
    "--input",
    f"@{EXAMPLES / 'inputs' / 'threat-triage.json'}",
]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A GW_DATA_DIR of its own; whatever the test leaves running is stopped afterwards.

    Not under pytest's base temp: run as root, pgserver runs PostgreSQL as a
    ``pgserver`` user, and another pytest session starting meanwhile makes that
    directory private again (0700), cutting PostgreSQL off its files.
    """
    folder = Path(tempfile.mkdtemp(prefix="gw-embedded-")) / "data"
    try:
        yield folder
    finally:
        EmbeddedPostgres(folder).stop(force=True)
        shutil.rmtree(folder.parent, ignore_errors=True)


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    return {**env, "GW_DATA_DIR": str(data_dir), "GW_LEASE_SECONDS": "3", **extra}


def _gw(data_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=_env(data_dir),
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _postgres_pids(data_dir: Path) -> list[int]:
    """Processes serving this data directory (postmaster and backends), from /proc."""
    needle = str((data_dir / "pg").resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if needle in command.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def _postmaster_pid(data_dir: Path) -> int | None:
    postmaster = EmbeddedPostgres(data_dir).postmaster()
    return None if postmaster is None else postmaster.pid


def _wait_until(check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _status(data_dir: Path) -> tuple[int, dict[str, object]]:
    done = _gw(data_dir, "db", "status", "--json")
    return done.returncode, json.loads(done.stdout)


def test_demo_leaves_nothing_running(data_dir: Path) -> None:
    """`demo` starts the embedded server and stops it when it exits: no postgres process left."""
    done = _gw(data_dir, "demo")
    assert done.returncode == 0, done.stderr
    assert "answering the approval with 'approve'" in done.stderr
    assert (data_dir / "pg" / "PG_VERSION").exists()
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    assert _postgres_pids(data_dir) == []
    code, status = _status(data_dir)
    assert (code, status["running"], status["initialised"]) == (3, False, True)
    shown = _gw(data_dir, "db", "status")
    assert "state:          stopped" in shown.stdout


def test_serve_holds_the_server_until_it_stops(data_dir: Path, tmp_path: Path) -> None:
    """While serve runs, one-shot commands leave the server up; SIGTERM to serve stops it."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as handle:
        serve = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port), "--workers", "1"],
            env=_env(data_dir),
            cwd=tmp_path,
            stdout=handle,
            stderr=handle,
        )
    try:
        _wait_until(lambda: _answers(port) or serve.poll() is not None)
        assert serve.poll() is None, log.read_text()
        postmaster = _postmaster_pid(data_dir)
        assert postmaster is not None

        ran = _gw(data_dir, *TRIAGE)
        assert ran.returncode == 0, ran.stderr
        assert _postmaster_pid(data_dir) == postmaster  # used, not restarted, not stopped

        code, status = _status(data_dir)
        assert (code, status["running"], status["in_use"], status["kept"]) == (0, True, True, False)
        assert [user["pid"] for user in status["users"]] == [serve.pid]  # type: ignore[attr-defined]

        refused = _gw(data_dir, "db", "stop")
        assert refused.returncode == 1
        assert "[db.in_use]" in refused.stderr
        assert f"pid {serve.pid}" in refused.stderr
        assert _postmaster_pid(data_dir) == postmaster
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    assert serve.returncode is not None
    assert _postmaster_pid(data_dir) is None
    assert _postgres_pids(data_dir) == []
    assert "embedded PostgreSQL in" in log.read_text()
    assert "stopped: no other process uses it" in log.read_text()


def test_db_start_keeps_it_until_db_stop(data_dir: Path) -> None:
    """`db start` keeps the server past every command; `db stop` stops it; status says which."""
    started = _gw(data_dir, "db", "start")
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith("postgresql://")
    postmaster = _postmaster_pid(data_dir)
    assert postmaster is not None

    listed = _gw(data_dir, "threads", "list")
    assert listed.returncode == 0, listed.stderr
    assert _postmaster_pid(data_dir) == postmaster
    with psycopg.connect(url) as conn:  # the printed URL works for psql and drivers
        assert conn.execute("select 1").fetchone() == (1,)
    shown = _gw(data_dir, "db", "status")
    assert shown.returncode == 0
    assert "kept running by `db start`" in shown.stdout

    stopped = _gw(data_dir, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stderr
    assert _postgres_pids(data_dir) == []
    assert _status(data_dir)[0] == 3
    again = _gw(data_dir, "threads", "list")  # and the next command starts and stops it anew
    assert again.returncode == 0, again.stderr
    assert _postmaster_pid(data_dir) is None


def test_a_killed_user_leaves_it_to_the_next_command(data_dir: Path, tmp_path: Path) -> None:
    """A SIGKILLed worker cannot stop the server; status shows it unused; the next command does."""
    log = tmp_path / "worker.log"
    with log.open("wb") as handle:
        worker = subprocess.Popen(
            [str(SCRIPT), "worker", "--workers", "1"],
            env=_env(data_dir),
            stdout=handle,
            stderr=handle,
        )
    try:
        _wait_until(lambda: b"run slots" in log.read_bytes() or worker.poll() is not None)
        assert worker.poll() is None, log.read_text()
        postmaster = _postmaster_pid(data_dir)
        assert postmaster is not None
    finally:
        worker.kill()
        worker.wait(30)
    assert _postmaster_pid(data_dir) == postmaster  # nobody ran the stop
    code, status = _status(data_dir)
    assert (code, status["running"], status["in_use"], status["users"]) == (0, True, False, [])

    ran = _gw(data_dir, *TRIAGE)
    assert ran.returncode == 0, ran.stderr
    assert _postgres_pids(data_dir) == []


def test_another_client_keeps_it_running(data_dir: Path) -> None:
    """A connection from outside graphwright (psql) is not cut: the server stays up, and says so."""
    started = _gw(data_dir, "db", "start")
    url = started.stdout.strip()
    (data_dir / "pg.keep").unlink()  # as if a command had started it on demand
    with psycopg.connect(url) as outside:
        ran = _gw(data_dir, "threads", "list")
        assert ran.returncode == 0, ran.stderr
        assert "keeps running: 1 other connection(s)" in ran.stderr
        assert "graphwright db stop" in ran.stderr
        assert outside.execute("select 1").fetchone() == (1,)
        assert _postmaster_pid(data_dir) is not None
    stopped = _gw(data_dir, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert _postgres_pids(data_dir) == []


def test_commands_starting_while_others_stop(data_dir: Path) -> None:
    """Overlapping commands, some stopping the server as others start it, all succeed."""
    assert _gw(data_dir, "threads", "list").returncode == 0  # initdb once

    def one(_: int) -> int:
        return _gw(data_dir, "threads", "list", timeout=120).returncode

    with ThreadPoolExecutor(max_workers=3) as pool:
        codes = list(pool.map(one, range(6)))
    assert codes == [0] * 6
    assert _postgres_pids(data_dir) == []


def test_db_commands_with_a_configured_database(data_dir: Path, database_url: str) -> None:
    """With GW_DATABASE_URL set, db status says the embedded server is not used."""
    done = subprocess.run(
        [str(SCRIPT), "db", "status"],
        env=_env(data_dir, GW_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert "GW_DATABASE_URL is set" in done.stderr
    assert "not initialised yet" in done.stdout
