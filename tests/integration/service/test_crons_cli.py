"""``graphwright cron``: add, list, disable, enable, remove, on the database or through --url."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.service.conftest import Server, server_env

pytestmark = pytest.mark.integration

GRAPHWRIGHT = str(Path(sys.executable).parent / "graphwright")


def cron(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``graphwright cron ...``."""
    return subprocess.run(
        [GRAPHWRIGHT, "cron", *args], env=env, capture_output=True, text=True, timeout=120
    )


def ok(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.mark.parametrize("remote", [False, True], ids=["database", "url"])
def test_cron_commands_round_trip(server: Server, database_url: str, remote: bool) -> None:
    """add prints the cron with its next time; list, disable, enable and remove act on it."""
    env = server_env(database_url)
    where = ["--url", server.url] if remote else []
    tag = uuid.uuid4().hex
    added = ok(
        cron(
            env,
            "add",
            "svc-chain",
            "--schedule",
            "30 8 * * 1-5",
            "--timezone",
            "Asia/Tokyo",
            "--input",
            '{"token": "cli"}',
            "--metadata",
            json.dumps({"tag": tag}),
            "--keep-threads",
            *where,
        )
    )
    cron_id = added["cron_id"]
    assert added["timezone"] == "Asia/Tokyo"
    assert added["on_run_completed"] == "keep"
    assert added["next_run_date"].endswith("+00:00")
    assert added["payload"]["input"] == {"token": "cli"}
    listed = ok(cron(env, "list", "--assistant", "svc-chain", *where))
    assert cron_id in {c["cron_id"] for c in listed}
    disabled = ok(cron(env, "disable", cron_id, *where))
    assert (disabled["enabled"], disabled["next_run_date"]) == (False, None)
    enabled = ok(cron(env, "enable", cron_id, *where))
    assert enabled["enabled"] is True
    assert enabled["next_run_date"] == added["next_run_date"]
    removed = cron(env, "remove", cron_id, *where)
    assert removed.returncode == 0, removed.stderr
    again = cron(env, "remove", cron_id, *where)
    assert again.returncode == 2
    assert "cron.not_found" in again.stderr


@pytest.mark.parametrize("remote", [False, True], ids=["database", "url"])
def test_cron_add_refuses_a_bad_schedule(server: Server, database_url: str, remote: bool) -> None:
    """A bad expression or zone exits 2 with its code and pointer, and adds nothing."""
    env = server_env(database_url)
    where = ["--url", server.url] if remote else []
    bad = cron(env, "add", "svc-chain", "--schedule", "61 * * * *", *where)
    zone = cron(env, "add", "svc-chain", "-s", "* * * * *", "--timezone", "Mars/Base", *where)
    assert bad.returncode == 2
    assert "cron.invalid_schedule" in bad.stderr
    assert "/schedule" in bad.stderr
    assert zone.returncode == 2
    assert "cron.invalid_timezone" in zone.stderr
