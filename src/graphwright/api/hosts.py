"""The ``Host`` header check: a request names one of the service's own host names.

A page on ``evil.example`` whose name an attacker re-points at 127.0.0.1 (DNS
rebinding) reaches a loopback server from the victim's browser, but its requests
still say ``Host: evil.example``; refusing names the service does not answer to
defeats that. Starlette's ``TrustedHostMiddleware`` answers plain text; this
answers a problem, like every other refusal.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from graphwright.api.problems import PROBLEM_JSON, problem_body
from graphwright.settings import Settings

__all__ = ["LOOPBACK_NAMES", "HostCheck", "allowed_hosts", "host_of"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""Names a loopback server answers to by default."""

_WILDCARD_BINDS = {"", "0.0.0.0", "::"}


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The host names the service answers: ``GW_ALLOWED_HOSTS``, or by default the
    loopback names plus the bind address ``GW_HOST`` (unless it binds every address)."""
    if settings.allowed_hosts is not None:
        return tuple(settings.allowed_hosts)
    bind = _normalised(settings.host)
    if bind in _WILDCARD_BINDS or bind in LOOPBACK_NAMES:
        return LOOPBACK_NAMES
    return (*LOOPBACK_NAMES, bind)


def host_of(header: str) -> str | None:
    """The host name of a ``Host`` header (lower-cased, without port or brackets).

    None when the header is not ``name[:port]`` or ``[ipv6][:port]``.
    """
    value = header.strip()
    if value.startswith("["):
        address, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not _is_port_suffix(rest)):
            return None
        try:
            return str(ipaddress.IPv6Address(address))
        except ValueError:
            return None
    name, colon, port = value.partition(":")
    if colon and not _is_port_suffix(colon + port):
        return None
    name = _normalised(name)
    if not name or any(not (c.isalnum() or c in "-._") for c in name) or not name.isascii():
        return None
    return name


class HostCheck:
    """Refuse requests whose ``Host`` is not allowed: 400 ``http.bad_host`` (problem+json)."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        patterns = tuple(allowed)
        self.any = "*" in patterns
        self.names = frozenset(p for p in patterns if not p.startswith("*"))
        self.suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: none sent) is answered."""
        if self.any:
            return True
        host = host_of(header) if header is not None else None
        if host is None:
            return False
        return host in self.names or host.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.any:
            await self.app(scope, receive, send)
            return
        hosts = [v for k, v in scope.get("headers") or [] if k == b"host"]
        header = hosts[0].decode("latin-1") if len(hosts) == 1 else None
        if self.allows(header):
            await self.app(scope, receive, send)
            return
        detail = "the Host header does not name this service (see GW_ALLOWED_HOSTS)"
        data = json.dumps(problem_body(400, code="http.bad_host", detail=detail)).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def _normalised(name: str) -> str:
    name = name.strip().lower().removesuffix(".").removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(name))  # one spelling per address
    except ValueError:
        return name


def _is_port_suffix(text: str) -> bool:
    return len(text) > 1 and text[0] == ":" and text[1:].isdigit() and len(text) <= 6
