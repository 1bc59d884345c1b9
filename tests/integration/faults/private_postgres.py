"""A PostgreSQL server of a test's own, on a free port, that the test may stop and restart.

Fault tests never touch the shared servers on 5432/6379. The server runs from the
distribution's binaries (``/usr/lib/postgresql/*/bin``) as the ``postgres`` user
when the tests run as root (``initdb`` refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.integration.service.conftest import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL binary {name!r} not found")
    return path


@dataclass
class PrivatePostgres:
    """One throw-away cluster: ``url`` of its ``postgres`` database."""

    data: Path
    port: int
    log: Path
    extra_options: str = ""
    """More ``-c name=value`` server options; they override the defaults (e.g. ``-c fsync=on``)."""

    @property
    def url(self) -> str:
        """Connection URL (trust auth)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [*args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """Create the cluster (trust auth, no fsync: tests do not need crash safety of disks)."""
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c fsync=off -c max_connections=200 {self.extra_options}"
        )
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast`` or ``immediate``, the latter like a crash)."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        """Whether the server accepts TCP connections now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


def start_private_postgres(extra_options: str = "") -> PrivatePostgres:
    """Init and start a cluster in a new directory the ``postgres`` user may write."""
    folder = Path(tempfile.mkdtemp(prefix="gw_fault_pg_"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PrivatePostgres(
        data=folder / "data", port=free_port(), log=folder / "pg.log", extra_options=extra_options
    )
    server.init()
    server.start()
    deadline = time.monotonic() + 30
    while not server.running():
        if time.monotonic() > deadline:
            raise RuntimeError(server.log.read_text()[-2000:])
        time.sleep(0.1)
    return server


def remove_private_postgres(server: PrivatePostgres) -> None:
    """Stop the cluster (if running) and delete its directory."""
    if server.running():
        server.stop("immediate")
    shutil.rmtree(server.data.parent, ignore_errors=True)
