"""Where a webhook may be sent: URL checks, the allow-list and address classification.

A webhook URL is ``http`` or ``https`` with a host and no credentials. Its host
is resolved, and every address it resolves to must be public: loopback,
private, link-local, shared (CGNAT), documentation, multicast and reserved
networks are refused, also when embedded in an IPv6 address (IPv4-mapped,
IPv4-compatible, 6to4, NAT64, Teredo). ``GW_WEBHOOK_ALLOW`` lists the host names
(``hooks.internal``, ``*.corp.example``), addresses and networks
(``10.1.2.3``, ``10.0.0.0/8``) that are allowed anyway.

The check runs when a run is created and again before each delivery attempt,
which then connects to the very addresses that were checked (a name that
re-points to a private address in between, DNS rebinding, is refused).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from graphwright.errors import InvalidInputError
from graphwright.settings import Settings

__all__ = [
    "MAX_URL_LENGTH",
    "Resolver",
    "WebhookAllow",
    "WebhookTarget",
    "check_webhook",
    "forbidden_reason",
    "parse_webhook_url",
    "resolve_target",
    "system_resolver",
]

MAX_URL_LENGTH = 2048
"""Longest webhook URL accepted."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves ``(host, port)`` to addresses (as text); raises ``OSError`` when it cannot."""

_POINTER = "/webhook"

_REFUSED_V4: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "'this' network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_REFUSED_V6: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 one carries (mapped, 6to4, NAT64, Teredo)."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def forbidden_reason(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address`` (``"loopback"``, ...), or None when it is public.

    IPv4 addresses an IPv6 address embeds are judged too (``::ffff:127.0.0.1`` is loopback).
    """
    for candidate in _embedded(address):
        if isinstance(candidate, ipaddress.IPv6Address) and candidate.ipv4_mapped is not None:
            continue  # judged by the IPv4 address it maps
        table = _REFUSED_V4 if isinstance(candidate, ipaddress.IPv4Address) else _REFUSED_V6
        for network, why in table:
            if candidate in network:
                return why
    return None


@dataclass(frozen=True)
class WebhookAllow:
    """``GW_WEBHOOK_ALLOW``: names, ``*.domain`` suffixes, addresses and networks allowed
    even though they are (or resolve to) non-public addresses."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> WebhookAllow:
        """Build from entries (as normalised by the settings).

        Raises:
            ValueError: an entry is not a name, ``*.domain``, address or network.
        """
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().removesuffix(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            elif "/" in entry or ":" in entry or "*" in entry or not entry.isascii():
                raise ValueError(f"{raw!r} is not a host name, *.domain, address or network")
            else:
                names.add(entry)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def allows_name(self, host: str) -> bool:
        """Whether the host name itself is listed (then all its addresses are allowed)."""
        return host in self.names or host.endswith(self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        """Whether the address (or the IPv4 address it embeds) is in a listed network."""
        return any(
            candidate.version == network.version and candidate in network
            for candidate in _embedded(address)
            for network in self.networks
        )


@dataclass(frozen=True)
class WebhookTarget:
    """A checked destination: the URL, its host, and the addresses to connect to.

    Attributes:
        url: The webhook URL.
        host: Its host (ASCII, lower case: IDNA names in punycode).
        addresses: The checked addresses, in resolver order.
        literal: The URL names an address rather than a host name.
    """

    url: httpx.URL
    host: str
    addresses: tuple[IPAddress, ...]
    literal: bool = False

    def url_for(self, address: IPAddress) -> httpx.URL:
        """The URL with the host replaced by ``address`` (``Host`` and SNI keep the name)."""
        return self.url.copy_with(host=str(address))

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the URL's host, with the port unless it is the default."""
        host = self.url.raw_host.decode("ascii")
        host = f"[{host}]" if ":" in host else host
        return host if self.url.port is None else f"{host}:{self.url.port}"

    @property
    def sni_hostname(self) -> str | None:
        """The TLS server name (certificates are checked against it); None for an address."""
        if self.literal or self.url.scheme != "https":
            return None
        return self.url.raw_host.decode("ascii").removesuffix(".")


def _refused(message: str, code: str, **details: object) -> InvalidInputError:
    return InvalidInputError(
        f"webhook refused: {message}",
        code=code,
        details={"problems": [{"pointer": _POINTER, "message": message}], **details},
    )


def parse_webhook_url(url: str) -> httpx.URL:
    """Check a webhook URL's syntax: ``http(s)://host[:port][/path][?query]``.

    Raises:
        InvalidInputError: ``webhook.invalid_url`` (pointer ``/webhook``).
    """
    if len(url) > MAX_URL_LENGTH:
        raise _refused(f"the URL is longer than {MAX_URL_LENGTH} characters", "webhook.invalid_url")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise _refused("the URL contains spaces or control characters", "webhook.invalid_url")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise _refused(f"not a URL ({exc})", "webhook.invalid_url") from None
    if parsed.scheme not in ("http", "https"):
        raise _refused("the scheme must be http or https", "webhook.invalid_url")
    if not parsed.host:
        raise _refused("the URL has no host", "webhook.invalid_url")
    if parsed.userinfo:
        raise _refused(
            "credentials in the URL are not accepted (receivers verify the signature instead)",
            "webhook.invalid_url",
        )
    return parsed


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver (``getaddrinfo``)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_target(
    url: str,
    allow: WebhookAllow,
    *,
    resolver: Resolver = system_resolver,
    timeout: float = 5.0,  # noqa: ASYNC109 - bounds the name lookup only
) -> WebhookTarget:
    """Parse ``url``, resolve its host and check every address.

    Raises:
        InvalidInputError: ``webhook.invalid_url``, ``webhook.unresolvable`` (the
            name has no address), ``webhook.forbidden_destination`` (an address is
            not public and not allowed by ``GW_WEBHOOK_ALLOW``); pointer ``/webhook``.
    """
    parsed = parse_webhook_url(url)
    host = parsed.raw_host.decode("ascii").lower().removesuffix(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        raw = [str(literal)]
    else:
        try:
            async with asyncio.timeout(timeout):
                raw = await resolver(host, port)
        except (OSError, TimeoutError) as exc:
            reason = (
                "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            )
            raise _refused(
                f"the host {host!r} does not resolve ({reason})", "webhook.unresolvable", host=host
            ) from None
    addresses = _addresses(raw)
    if not addresses:
        raise _refused(f"the host {host!r} has no address", "webhook.unresolvable", host=host)
    if literal is None and allow.allows_name(host):
        return WebhookTarget(parsed, host, addresses)
    for address in addresses:
        why = forbidden_reason(address)
        if why is not None and not allow.allows_address(address):
            shown = host if literal is not None else f"{host} ({address})"
            raise _refused(
                f"{shown} is a {why} address; list it in GW_WEBHOOK_ALLOW to allow it",
                "webhook.forbidden_destination",
                host=host,
                address=str(address),
            )
    return WebhookTarget(parsed, host, addresses, literal=literal is not None)


def _addresses(raw: Sequence[str]) -> tuple[IPAddress, ...]:
    found: list[IPAddress] = []
    for text in raw:
        try:
            found.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            continue
    return tuple(dict.fromkeys(found))


async def check_webhook(
    url: str, settings: Settings, *, resolver: Resolver = system_resolver
) -> None:
    """Refuse a run's webhook that could not be delivered: a bad or forbidden URL (see
    :func:`resolve_target`), or no ``GW_SECRET_KEY`` to keep its signing secret with.

    Raises:
        InvalidInputError: ``webhook.invalid_url``, ``webhook.unresolvable``,
            ``webhook.forbidden_destination``, ``webhook.no_secret_key`` (pointer ``/webhook``).
    """
    allow = WebhookAllow.parse(settings.webhook_allow)
    timeout = min(settings.webhook_timeout_seconds, 5.0)
    await resolve_target(url, allow, resolver=resolver, timeout=timeout)
    if settings.secret_key is None:
        from graphwright.store.webhook_secrets import no_key_message

        raise _refused(no_key_message(), "webhook.no_secret_key")
