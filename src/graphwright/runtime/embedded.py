"""The embedded PostgreSQL (``pgserver``): started on demand, stopped by its last user.

Lifecycle, for one data directory (``GW_DATA_DIR``, the server in its ``pg/``):

* Every process that uses the server holds a shared ``flock`` on
  ``GW_DATA_DIR/pg.lock`` while it does (a :class:`EmbeddedLease`), and starts
  the server when it is not running (about 0.15 s once initialised).
* When a process releases its lease it tries to take that lock exclusively. If
  it gets it, no other graphwright process uses the server, and it stops the
  server (fast shutdown, about 0.1 s), unless ``graphwright db start`` asked to
  keep it (the ``pg.keep`` marker) or someone else (``psql``...) is still
  connected; then it leaves it running and says why.
* A process killed with SIGKILL releases its lock (the kernel does) but stops
  nothing: the server then stops with the next process that uses it, or with
  ``graphwright db stop``.

The lock is POSIX ``flock``; it lives next to the data directory, so processes
sharing ``GW_DATA_DIR`` coordinate and others do not interfere.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Literal

from graphwright.errors import ConfigurationError

__all__ = [
    "EmbeddedLease",
    "EmbeddedPostgres",
    "EmbeddedStatus",
    "ReleaseOutcome",
    "StopOutcome",
]

log = logging.getLogger("graphwright.database")

STOP_WAIT_SECONDS = 30.0
"""How long a fast shutdown may take before the server is stopped immediately."""
OTHERS_GRACE_SECONDS = 1.0
"""How long to wait for other connections to go (a just-closed pool's backends linger)."""

ReleaseOutcome = Literal["stopped", "in_use", "kept", "connected", "not_running"]
"""What releasing a lease did: stopped the server, or left it running and why."""
StopOutcome = Literal["stopped", "not_running", "in_use"]


@dataclass(frozen=True)
class Postmaster:
    """The running server, from ``postmaster.pid``."""

    pid: int
    started_at: datetime
    port: int
    socket_dir: str
    status: str

    @property
    def url(self) -> str:
        """A connection URL (unix socket, user ``postgres``, trust auth)."""
        port = "" if self.port == 5432 else f"&port={self.port}"
        return f"postgresql://postgres:@/postgres?host={self.socket_dir}{port}"


@dataclass(frozen=True)
class EmbeddedStatus:
    """What ``graphwright db status`` shows.

    Attributes:
        data_dir: The server's data directory (``GW_DATA_DIR/pg``).
        initialised: Whether the cluster exists (``initdb`` ran).
        postmaster: The running server, or None.
        kept: ``graphwright db start`` asked to keep it running.
        users: Process ids of the graphwright processes using it (Linux; else
            empty), and ``in_use`` whether any does (every platform).
        connections: Client connections (None when not running or unknown).
    """

    data_dir: Path
    initialised: bool
    postmaster: Postmaster | None
    kept: bool
    in_use: bool
    users: list[int] = field(default_factory=list)
    connections: int | None = None

    @property
    def running(self) -> bool:
        """Whether the server runs."""
        return self.postmaster is not None


class EmbeddedLease:
    """One user's hold on the embedded server; :meth:`release` may stop it."""

    def __init__(self, server: EmbeddedPostgres, fd: int, url: str) -> None:
        self._server = server
        self._fd: int | None = fd
        self.url = url

    def release(self) -> ReleaseOutcome:
        """Stop using the server; stop it when this was its last user (blocking call).

        Returns:
            ``stopped``, or why it still runs: ``in_use`` (another graphwright
            process), ``kept`` (``db start``), ``connected`` (another client).
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return "not_running"
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return self._server.stop_if_unused()


class EmbeddedPostgres:
    """The embedded PostgreSQL of one data directory.

    Args:
        data_dir: ``GW_DATA_DIR``; the cluster is ``data_dir / "pg"``.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.expanduser().resolve()
        self.pgdata = self.root / "pg"
        self.lock_path = self.root / "pg.lock"
        self.keep_path = self.root / "pg.keep"

    # -- using it --------------------------------------------------------------------

    def acquire(self) -> EmbeddedLease:
        """Hold the server (start it if needed) until :meth:`EmbeddedLease.release`.

        Blocking: waits while another process is stopping the server.

        Raises:
            ConfigurationError: ``db.unavailable`` when pgserver is missing or the
                server does not start.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = self._open_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            url = self._start()
        except BaseException:
            os.close(fd)
            raise
        return EmbeddedLease(self, fd, url)

    def stop_if_unused(self) -> ReleaseOutcome:
        """Stop the server when no graphwright process holds it and nothing is kept."""
        if not self.lock_path.exists():
            return "not_running"
        fd = self._open_lock()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "in_use"
            postmaster = self.postmaster()
            if postmaster is None:
                return "not_running"
            if self.keep_path.exists():
                return "kept"
            others = self._wait_for_others(postmaster)
            if others:
                log.warning(
                    "the embedded PostgreSQL in %s keeps running: %d other connection(s) "
                    "(psql?); stop it with `graphwright db stop`",
                    self.pgdata,
                    others,
                )
                return "connected"
            self._stop(postmaster)
            return "stopped"
        finally:
            os.close(fd)  # releases the exclusive lock, if taken

    # -- db start / stop / status --------------------------------------------------------

    def start_kept(self) -> Postmaster:
        """Start the server and keep it running after this process (``db start``).

        Raises:
            ConfigurationError: ``db.unavailable`` when it does not start.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = self._open_lock()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._start()
            self.keep_path.write_text("started by `graphwright db start`\n")
        finally:
            os.close(fd)
        postmaster = self.postmaster()
        if postmaster is None:  # pragma: no cover - _start returned, so it runs
            raise ConfigurationError(f"the embedded PostgreSQL in {self.pgdata} did not start")
        return postmaster

    def stop(self, *, force: bool = False) -> StopOutcome:
        """Stop the server now (``db stop``) and forget ``db start``'s keep marker.

        Without ``force`` a server that a graphwright process uses is left alone
        (``in_use``); with it, that process's connections are closed.
        """
        self.keep_path.unlink(missing_ok=True)
        if not self.lock_path.exists() and self.postmaster() is None:
            return "not_running"
        self.root.mkdir(parents=True, exist_ok=True)
        fd = self._open_lock()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not force:
                    return "in_use"
            postmaster = self.postmaster()
            if postmaster is None:
                return "not_running"
            self._stop(postmaster)
            return "stopped"
        finally:
            os.close(fd)

    def status(self) -> EmbeddedStatus:
        """The server's state, its users and connections (reads only)."""
        postmaster = self.postmaster()
        in_use = False
        if self.lock_path.exists():
            fd = self._open_lock()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                in_use = True
            finally:
                os.close(fd)
        return EmbeddedStatus(
            data_dir=self.pgdata,
            initialised=(self.pgdata / "PG_VERSION").exists(),
            postmaster=postmaster,
            kept=self.keep_path.exists(),
            in_use=in_use,
            users=self._lock_holders() if in_use else [],
            connections=self._connections(postmaster) if postmaster else None,
        )

    def postmaster(self) -> Postmaster | None:
        """The running server of this data directory, or None (a stale pid file is ignored)."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            pid, started, port = int(lines[0]), int(lines[2]), int(lines[3])
            socket_dir, status = lines[4].strip(), lines[7].strip() if len(lines) > 7 else ""
        except (OSError, ValueError, IndexError):
            return None
        if not _is_postmaster(pid, self.pgdata):
            return None
        return Postmaster(
            pid=pid,
            started_at=datetime.fromtimestamp(started, UTC),
            port=port,
            socket_dir=socket_dir,
            status=status,
        )

    # -- internals -------------------------------------------------------------------

    def _open_lock(self) -> int:
        return os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)

    def _start(self) -> str:
        """Start (or find) the server; its URL. The caller holds the lock (shared)."""
        pgserver = _import_pgserver()
        try:
            self.pgdata.mkdir(exist_ok=True)
            # Not pgserver.get_server: it caches a handle per directory that still
            # names a server this process (or another) has stopped since.
            server = pgserver.postgres_server.PostgresServer(self.pgdata, cleanup_mode=None)
            url: str = server.get_uri()
        except (OSError, subprocess.SubprocessError, AssertionError) as exc:
            raise ConfigurationError(
                f"the embedded PostgreSQL in {self.pgdata} did not start ({exc}); "
                f"see {self.pgdata / 'log'}, or set GW_DATABASE_URL",
                code="db.unavailable",
                details={"data_dir": str(self.pgdata)},
            ) from exc
        return url

    def _stop(self, postmaster: Postmaster) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT) past ``STOP_WAIT_SECONDS``."""
        for sig, wait in ((signal.SIGINT, STOP_WAIT_SECONDS), (signal.SIGQUIT, 5.0)):
            try:
                os.kill(postmaster.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _is_postmaster(postmaster.pid, self.pgdata):
                    return
                time.sleep(0.02)
        raise ConfigurationError(
            f"the embedded PostgreSQL (pid {postmaster.pid}) did not stop",
            code="db.stop_failed",
            details={"pid": postmaster.pid, "data_dir": str(self.pgdata)},
        )

    def _wait_for_others(self, postmaster: Postmaster) -> int:
        """Other client connections, after letting just-closed ones go."""
        deadline = time.monotonic() + OTHERS_GRACE_SECONDS
        while True:
            others = self._connections(postmaster) or 0
            if others == 0 or time.monotonic() >= deadline:
                return others
            time.sleep(0.05)

    def _connections(self, postmaster: Postmaster) -> int | None:
        """Client connections other than the one asking (None: could not ask)."""
        import psycopg

        try:
            with psycopg.connect(postmaster.url, connect_timeout=5, autocommit=True) as conn:
                row = conn.execute(
                    "select count(*) from pg_stat_activity"
                    " where backend_type = 'client backend' and pid <> pg_backend_pid()"
                ).fetchone()
        except psycopg.Error:
            return None
        return int(row[0]) if row else 0

    def _lock_holders(self) -> list[int]:
        """Pids holding ``pg.lock`` (Linux ``/proc/locks``; empty elsewhere)."""
        try:
            inode = self.lock_path.stat().st_ino
            text = Path("/proc/locks").read_text()
        except OSError:
            return []
        pids: set[int] = set()
        for line in text.splitlines():
            parts = line.split()
            # 1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF  (a "->" marks a waiter)
            if len(parts) < 6 or parts[1] != "FLOCK" or "->" in parts:
                continue
            if parts[5].rsplit(":", 1)[-1] == str(inode) and parts[4].isdigit():
                pids.add(int(parts[4]))
        return sorted(pids)


def process_command(pid: int) -> str:
    """The command line of a process (Linux), or ``?``."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part) or "?"


def _is_postmaster(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a live (not zombie) postgres serving ``pgdata``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process exists
    if sys.platform.startswith("linux"):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            return False
        return state != "Z" and str(pgdata).encode() in command
    return True


def _import_pgserver() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # pgserver looks up a runtime directory at import; platformdirs warns
            # when XDG_RUNTIME_DIR is unset (containers, services) and falls back.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pgserver
            import pgserver.postgres_server
    except ImportError as exc:
        raise ConfigurationError(
            "GW_DATABASE_URL is not set and the embedded PostgreSQL (package "
            "'pgserver') is not installed",
            code="db.unavailable",
        ) from exc
    return pgserver
