"""A TCP proxy in front of the server whose open connections a test can cut.

A browser's own offline switch does not end a response already streaming, so a
dropped SSE connection (laptop sleeps, proxy cuts) is made here: the console is
loaded through the proxy, and :meth:`CuttingProxy.cut` closes every connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_port``; ``cut()`` drops every connection."""

    def __init__(self, target_port: int) -> None:
        """Listen on a free loopback port (see :attr:`url`)."""
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.refusing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with self.lock:
                self.open.discard(source)
                self.open.discard(sink)

    def cut(self, *, refuse: bool = False) -> int:
        """Close every open connection (both ends); returns how many were open.

        With ``refuse``, new connections are closed at once until :meth:`restore`.
        """
        self.refusing = refuse
        with self.lock:
            sockets = list(self.open)
            self.open.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(sockets)

    def restore(self) -> None:
        """Accept and forward connections again."""
        self.refusing = False

    def close(self) -> None:
        """Stop listening and cut what is open."""
        self.listener.close()
        self.cut()
