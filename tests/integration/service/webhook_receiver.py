"""A real HTTP server that receives webhooks in tests, answering as each test scripts it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

STALL = -1
"""Scripted answer: hold the request open until the receiver is closed."""
HOLD = -2
"""Scripted answer: hold the request until ``Receiver.hold`` is set, then answer 200."""


@dataclass(frozen=True)
class Received:
    """One request the receiver got, and the status it answered (None: it stalled)."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None
    at: float


@dataclass
class Receiver:
    """Records every POST; ``script[path]`` lists the statuses to answer (then 200).

    A 3xx answer says ``Location: /redirected``.
    """

    port: int = 0
    script: dict[str, list[int]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The webhook URL of ``path`` on this receiver."""
        return f"http://{host}:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        """Requests received on ``path``, in order."""
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 60.0) -> list[Received]:
        """Wait until ``path`` received ``count`` requests (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.on(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{path}: {len(self.on(path))} of {count} requests after {timeout}s"
                    )
                self.arrived.wait(min(left, 0.5))
        return self.on(path)

    def _answer(self, path: str) -> int:
        with self.lock:
            planned = self.script.get(path)
            return planned.pop(0) if planned else 200

    def _record(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)
        with self.arrived:
            self.arrived.notify_all()


class _Handler(BaseHTTPRequestHandler):
    receiver: ClassVar[Receiver]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status = self.receiver._answer(self.path)
        if status == HOLD:
            self.receiver._record(Received(self.path, headers, body, None, time.time()))
            self.receiver.hold.wait(120)
            status = 200
        else:
            answered = None if status == STALL else status
            self.receiver._record(Received(self.path, headers, body, answered, time.time()))
        if status == STALL:
            self.receiver.release.wait(120)
            return
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/redirected")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when two deliverers open 16 at once.
    request_queue_size = 128


def running_receiver() -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on 127.0.0.1 in a thread (for a fixture)."""
    receiver = Receiver()
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
