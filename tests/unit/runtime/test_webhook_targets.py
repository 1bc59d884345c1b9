"""Webhook destinations: URL checks, address classification, the allow-list, signing, backoff."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest
from pydantic import ValidationError

from graphwright.errors import InvalidInputError
from graphwright.runtime.webhook_targets import (
    WebhookAllow,
    forbidden_reason,
    parse_webhook_url,
    resolve_target,
)
from graphwright.runtime.webhooks import retry_delay, sign
from graphwright.settings import Settings


def resolver_for(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver answering from ``table`` (OSError for names it does not know)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"Name or service not known: {host}")
        return table[host]

    return resolve


NONE = WebhookAllow()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.0.0.5", "private"),
        ("172.20.1.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("0.0.0.0", "'this' network"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique local (private)"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("2002:7f00:1::1", "loopback"),
        ("2002:a9fe:a9fe::1", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),
        ("64:ff9b::a00:1", "private"),
        ("2001:db8::1", "documentation"),
        ("2001::1", "IETF protocol assignments"),
    ],
    ids=lambda value: str(value),
)
def test_non_public_addresses_are_classified(address: str, reason: str) -> None:
    """Loopback, private, link-local, ... (also IPv4 inside IPv6) have a refusal reason."""
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    """Public IPv4 and IPv6 addresses (and public IPv4 mapped into IPv6) are allowed."""
    assert forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "example.com/hook",
        "http:///nohost",
        "https://user:pass@example.com/hook",
        "https://example.com/a b",
        "https://example.com/\x00",
        "https://example.com/" + "a" * 2100,
        "http://[::1/",
    ],
    ids=["ftp", "js", "no-scheme", "no-host", "credentials", "space", "nul", "long", "bracket"],
)
def test_bad_urls_are_refused_with_a_pointer(url: str) -> None:
    """Not an http(s) URL with a host and no credentials: webhook.invalid_url at /webhook."""
    with pytest.raises(InvalidInputError) as caught:
        parse_webhook_url(url)
    assert caught.value.code == "webhook.invalid_url"
    assert caught.value.details["problems"][0]["pointer"] == "/webhook"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:9000/hook", "127.0.0.1"),
        ("http://[::1]:9000/hook", "::1"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://localhost:9000/hook", "127.0.0.1"),
        ("http://rebind.example/hook", "10.0.0.7"),
        ("http://mixed.example/hook", "192.168.0.1"),
        ("http://v6.example/hook", "fe80::1"),
        ("http://127.1/hook", "127.0.0.1"),
    ],
    ids=[
        "v4-literal",
        "v6-literal",
        "mapped-literal",
        "metadata",
        "localhost",
        "private-name",
        "one-of-many",
        "v6-name",
        "short-v4",
    ],
)
async def test_forbidden_destinations_are_refused(url: str, address: str) -> None:
    """A host that is or resolves to a non-public address is refused, naming the address."""
    resolver = resolver_for(
        {
            "localhost": ["127.0.0.1", "::1"],
            "rebind.example": ["10.0.0.7"],
            "mixed.example": ["93.184.216.34", "192.168.0.1"],
            "v6.example": ["fe80::1"],
            "127.1": ["127.0.0.1"],
        }
    )
    with pytest.raises(InvalidInputError) as caught:
        await resolve_target(url, NONE, resolver=resolver)
    assert caught.value.code == "webhook.forbidden_destination"
    assert ipaddress.ip_address(caught.value.details["address"]) == ipaddress.ip_address(address)
    assert caught.value.details["problems"][0]["pointer"] == "/webhook"


async def test_public_destination_resolves_to_its_checked_addresses() -> None:
    """A public name gives every address it resolves to; Host and SNI keep the name."""
    resolver = resolver_for({"hooks.example.com": ["93.184.216.34", "2606:4700::1111"]})
    target = await resolve_target("https://Hooks.Example.com:8443/in?x=1", NONE, resolver=resolver)
    assert [str(a) for a in target.addresses] == ["93.184.216.34", "2606:4700::1111"]
    assert target.host_header == "hooks.example.com:8443"
    assert target.sni_hostname == "hooks.example.com"
    assert str(target.url_for(target.addresses[1])) == "https://[2606:4700::1111]:8443/in?x=1"


async def test_unresolvable_names_are_refused() -> None:
    """A name without addresses is webhook.unresolvable (a typo shows at creation)."""
    with pytest.raises(InvalidInputError) as caught:
        await resolve_target("https://nope.invalid/x", NONE, resolver=resolver_for({}))
    assert caught.value.code == "webhook.unresolvable"


@pytest.mark.parametrize(
    ("entries", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:9000/hook"),
        (["127.0.0.0/8"], "http://[::ffff:127.0.0.1]:9000/hook"),
        (["localhost"], "http://localhost:9000/hook"),
        (["*.corp.example"], "http://hooks.corp.example/hook"),
        (["fd00::/8"], "http://[fd00::5]/hook"),
        (["10.0.0.0/8"], "http://rebind.example/hook"),
    ],
    ids=["address", "network-mapped", "name", "suffix", "v6-network", "network-by-name"],
)
async def test_the_allow_list_admits_listed_destinations(entries: list[str], url: str) -> None:
    """Names, *.domains, addresses and networks in GW_WEBHOOK_ALLOW are allowed."""
    settings = Settings(webhook_allow=entries)
    allow = WebhookAllow.parse(settings.webhook_allow)
    resolver = resolver_for(
        {
            "localhost": ["127.0.0.1"],
            "hooks.corp.example": ["10.9.9.9"],
            "rebind.example": ["10.0.0.7"],
        }
    )
    target = await resolve_target(url, allow, resolver=resolver)
    assert target.addresses


async def test_the_allow_list_admits_nothing_else() -> None:
    """Listing one address does not open its neighbours or other private ranges."""
    allow = WebhookAllow.parse(Settings(webhook_allow=["127.0.0.1"]).webhook_allow)
    for url in ("http://127.0.0.2/", "http://10.0.0.1/", "http://[::1]/"):
        with pytest.raises(InvalidInputError):
            await resolve_target(url, allow, resolver=resolver_for({}))


@pytest.mark.parametrize("entry", ["http://x.example", "x.example:80", "*", "a b", "x.example/p"])
def test_malformed_allow_entries_fail_at_start(entry: str) -> None:
    """GW_WEBHOOK_ALLOW entries are names, *.domains, addresses or networks only."""
    with pytest.raises(ValidationError):
        Settings(webhook_allow=[entry])


def test_allow_list_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_WEBHOOK_ALLOW is comma-separated and normalised (addresses as networks)."""
    monkeypatch.setenv("GW_WEBHOOK_ALLOW", " Hooks.Internal , 10.1.2.3, [::1], 172.16.0.0/12 ")
    assert Settings().webhook_allow == [
        "hooks.internal",
        "10.1.2.3/32",
        "::1/128",
        "172.16.0.0/12",
    ]


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    """v1 = hex HMAC-SHA256(secret, "<t>.<body>"); one v1 per live secret, current first."""
    body = b'{"run_id":"r1"}'
    header = sign(body, ["whsec_new", "whsec_old"], timestamp=1700000000)
    parts = header.split(",")
    assert parts[0] == "t=1700000000"
    expected = [
        hmac.new(key, b"1700000000." + body, hashlib.sha256).hexdigest()
        for key in (b"whsec_new", b"whsec_old")
    ]
    assert parts[1:] == [f"v1={value}" for value in expected]


def test_retry_delay_doubles_up_to_the_cap() -> None:
    """Attempt n waits base * 2**(n-1) (up to 10% more), never more than the cap."""
    for attempt, low in [(1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0)]:
        assert low <= retry_delay(attempt, base=5.0, cap=3600.0) <= low * 1.1
    assert retry_delay(40, base=5.0, cap=3600.0) == 3600.0
