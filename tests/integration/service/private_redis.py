"""A Redis server owned by one test, on its own port, safe to stop and restart.

Tests that break Redis on purpose use this instead of the shared server, which
other tests (and other people) rely on staying up.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import redis

from tests.integration.service.conftest import free_port


class PrivateRedis:
    """A ``redis-server`` child process on a free loopback port, keeping nothing on disk.

    Use it as a context manager: the process is started on entry and stopped on
    exit, whatever happened in between.
    """

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._handle: BinaryIO | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server on ``self.port`` and wait until it answers PING.

        Raises:
            RuntimeError: the server exited or did not answer within 10 seconds.
        """
        if self._process is not None:
            raise RuntimeError("private redis is already running")
        self._handle = self.log.open("ab")
        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=self._handle,
            stderr=self._handle,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server exited early:\n{self.log.read_text()[-2000:]}")
            if self.answers():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it; a no-op when stopped."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def kill(self) -> None:
        """Kill the server (SIGKILL, like a crash) and wait for it; a no-op when stopped."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(5)
        self.stop()

    def restart(self) -> None:
        """Stop the server and start a new, empty one on the same port."""
        self.stop()
        self.start()

    def answers(self) -> bool:
        """Whether something on ``self.port`` answers a Redis PING."""
        try:
            with self._client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def pattern_subscriptions(self) -> int:
        """How many pattern subscriptions the server has now (``PUBSUB NUMPAT``)."""
        with self._client() as client:
            return int(client.pubsub_numpat())

    def wait_for_pattern_subscriptions(self, timeout: float = 15) -> int:
        """Wait until some client holds a pattern subscription; return how many (0 if none came)."""
        deadline = time.monotonic() + timeout
        while (count := self.pattern_subscriptions()) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        return count

    def _client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
