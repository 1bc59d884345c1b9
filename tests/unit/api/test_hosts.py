"""The Host header check: only the service's own names are answered (DNS rebinding fails)."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from graphwright.api import create_app
from graphwright.api.hosts import LOOPBACK_NAMES, HostCheck, allowed_hosts, host_of
from graphwright.settings import Settings


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1", LOOPBACK_NAMES),
        ("0.0.0.0", LOOPBACK_NAMES),
        ("::", LOOPBACK_NAMES),
        ("10.0.0.5", (*LOOPBACK_NAMES, "10.0.0.5")),
        ("Api.Example.com", (*LOOPBACK_NAMES, "api.example.com")),
    ],
    ids=["loopback", "any-ipv4", "any-ipv6", "one-address", "one-name"],
)
def test_default_hosts_are_loopback_plus_a_specific_bind_address(
    bind: str, expected: tuple[str, ...]
) -> None:
    """Unset GW_ALLOWED_HOSTS: the loopback names, and GW_HOST unless it binds every address."""
    assert allowed_hosts(Settings(host=bind)) == expected


def test_configured_hosts_replace_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_ALLOWED_HOSTS is the whole list (normalised), not an addition to the loopback names."""
    monkeypatch.setenv("GW_ALLOWED_HOSTS", "API.example.com, [::1], *.Example.org")
    assert allowed_hosts(Settings()) == ("api.example.com", "::1", "*.example.org")


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:8123", "localhost"),
        ("Example.COM.", "example.com"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:8123", "::1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
    ],
    ids=["port", "case-and-dot", "ipv4", "ipv6-port", "ipv6-long"],
)
def test_host_header_is_read_without_port(header: str, host: str) -> None:
    """The host of a Host header is lower-cased, without port, brackets or final dot."""
    assert host_of(header) == host


@pytest.mark.parametrize(
    "header",
    ["", "a b", "host:port", "[::1", "[zz]:1", "a:1:2", "h\x00st", "h\u00e9st"],
    ids=["empty", "space", "bad-port", "open-bracket", "bad-ipv6", "two-ports", "nul", "non-ascii"],
)
def test_malformed_host_header_has_no_host(header: str) -> None:
    """A Host header that is not name[:port] or [ipv6][:port] names no host."""
    assert host_of(header) is None


@pytest.mark.parametrize(
    ("allowed", "header", "answered"),
    [
        (["*"], "anything.example", True),
        (["*.example.com"], "api.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "evilexample.com", False),
        (list(LOOPBACK_NAMES), "localhost:8123", True),
        (list(LOOPBACK_NAMES), "rebound.attacker.example", False),
        (list(LOOPBACK_NAMES), None, False),
    ],
    ids=["any", "subdomain", "bare-domain", "suffix-trick", "loopback", "rebinding", "missing"],
)
def test_host_patterns(allowed: list[str], header: str | None, answered: bool) -> None:
    """`*` allows any host, `*.domain` its subdomains only, names match exactly."""
    assert HostCheck(_ok, allowed).allows(header) is answered


async def test_foreign_host_gets_a_problem_and_own_names_are_answered() -> None:
    """A request for a name that is not the service's is 400 http.bad_host; its own is served."""
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8123") as http:
        served = await http.get("/healthz")
        refused = await http.get("/healthz", headers={"Host": "rebound.attacker.example"})
    assert served.status_code == 200
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "http.bad_host"


async def test_two_host_headers_are_refused() -> None:
    """A request with two Host headers is refused even when both are allowed."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"host", b"localhost"), (b"host", b"localhost")],
    }
    await HostCheck(_ok, LOOPBACK_NAMES)(scope, _no_body, send)
    assert sent[0]["status"] == 400


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
