"""Idle HTTP connections outlive the clients' own idle expiry, so reusing one never races."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _status(sock: socket.socket) -> bytes:
    """Read one whole response (headers and Content-Length body); its status line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return b"closed"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            return b"closed"
        body += chunk
    return head.split(b"\r\n", 1)[0]


async def test_connection_idle_past_client_expiry_is_still_served(server: Server) -> None:
    """A connection idle for 6 s (httpx's expiry is 5 s) still answers the next request."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        first = await asyncio.to_thread(_status, sock)
        await asyncio.sleep(6)
        sock.sendall(REQUEST)
        second = await asyncio.to_thread(_status, sock)
    assert first.startswith(b"HTTP/1.1 200")
    assert second.startswith(b"HTTP/1.1 200")
