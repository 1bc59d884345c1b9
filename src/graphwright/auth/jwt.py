"""Bearer tokens (JWT) of an OpenID Connect issuer, checked against its published keys.

Signatures and claims are checked by PyJWT; this module only fetches the issuer's
JSON Web Key Set (JWKS), picks the key a token names and maps claims to a
:class:`~graphwright.auth.principal.Principal`.

Keys are fetched with httpx on the event loop, not by ``jwt.PyJWKClient`` in a
thread (``asyncio.to_thread``). ``PyJWKClient`` takes one lock for every lookup,
cache hits included, and holds it while ``urllib`` fetches, so each request
arriving during a slow fetch would hold a thread of the default executor for up
to the timeout. Its cool-down starts only after a *successful* fetch, so while the
issuer is down every request with an unknown ``kid``, or any request once the
cache has expired, makes a new fetch and waits for its timeout; and after expiry
a failed refresh fails every request. Here one coroutine fetches while the others
wait on an ``asyncio.Lock`` (or, holding a usable key, do not wait at all); a
failed fetch is remembered so an outage is asked about once per interval; and
held keys stay usable for a while when a refresh fails. PyJWT still parses every
key (``PyJWK``) and checks every signature and claim: no cryptography is written
here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import httpx
import jwt

from graphwright.auth.principal import ROLES, AuthError, Principal
from graphwright.errors import ConfigurationError, GraphwrightError

if TYPE_CHECKING:
    from graphwright.settings import Settings

__all__ = ["JwtVerifier"]

log = logging.getLogger("graphwright.auth")

_TENANT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""A tenant name (the pattern of ``GW_TENANT``)."""

_REQUIRED_CLAIMS: Final = ("exp", "iss", "aud", "sub")
_MAX_DOCUMENT_BYTES: Final = 1024 * 1024
"""Largest discovery document or JWKS read (an issuer's is a few KiB)."""


class JwtVerifier:
    """Verifies bearer tokens of ``GW_JWT_ISSUER`` and maps them to principals.

    A token is accepted when its signature verifies with a key of the issuer's JWKS
    (found by the token's ``kid``) using an algorithm of ``GW_JWT_ALGORITHMS``, its
    ``iss`` equals ``GW_JWT_ISSUER``, its ``aud`` is or contains ``GW_JWT_AUDIENCE``,
    it has ``sub`` and ``exp``, it is neither expired nor not yet valid (within
    ``GW_JWT_LEEWAY_SECONDS``), and its tenant claim (and scope claim, when one is
    configured) is well formed.

    Keys are fetched on first use and again once they are ``keys_max_age`` seconds
    old. A token whose ``kid`` is unknown triggers one refetch (so a rotated key is
    picked up at once), but such refetches happen at most once per
    ``refetch_interval``, so tokens with made-up ``kid`` values cannot make the
    service hammer the issuer; after a failed fetch, nothing is fetched for
    ``refetch_interval`` either. When a refresh fails, the keys already held stay
    usable until they are twice ``keys_max_age`` old.

    Args:
        settings: The ``GW_JWT_*`` settings.
        refetch_interval: Least time between two fetches caused by unknown key ids,
            and between a failed fetch and the next one.
        keys_max_age: Age at which fetched keys are refreshed.
        timeout: Time limit of one HTTP request to the issuer.
        clock: Monotonic clock (seconds), for tests.

    Raises:
        ConfigurationError: ``GW_JWT_ISSUER`` or ``GW_JWT_AUDIENCE`` is not set, or
            the issuer is not an http(s) URL while ``GW_JWT_JWKS_URL`` is unset.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        refetch_interval: float = 30.0,
        keys_max_age: float = 300.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.jwt_issuer or not settings.jwt_audience:
            # Without an audience, a token the issuer made for any other service would do.
            raise ConfigurationError(
                "JWT authentication needs GW_JWT_ISSUER and GW_JWT_AUDIENCE",
                details={"settings": ["GW_JWT_ISSUER", "GW_JWT_AUDIENCE"]},
            )
        if not settings.jwt_jwks_url and not settings.jwt_issuer.startswith(
            ("https://", "http://")
        ):
            raise ConfigurationError(
                "GW_JWT_ISSUER is not an http(s) URL, so its keys cannot be discovered: "
                "set GW_JWT_JWKS_URL",
                details={"settings": ["GW_JWT_ISSUER", "GW_JWT_JWKS_URL"]},
            )
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._algorithms = list(settings.jwt_algorithms)
        self._leeway = settings.jwt_leeway_seconds
        self._tenant_claim = settings.jwt_tenant_claim
        self._roles_claim = settings.jwt_roles_claim
        self._scope_claim = settings.jwt_scope_claim or None
        self._jwks_url = settings.jwt_jwks_url
        self._refetch_interval = refetch_interval
        self._max_age = keys_max_age
        self._timeout = timeout
        self._clock = clock
        # Built once: httpx would otherwise load the CA bundle on every fetch.
        self._ssl = httpx.create_ssl_context()
        self._lock = asyncio.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._built: dict[tuple[str, str], jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._fetches = 0
        self._forced_at: float | None = None
        self._failed_at: float | None = None
        self._failure: str | None = None
        """Message of the last fetch when it failed (raised anew: one exception object
        raised again and again would grow its traceback)."""

    async def verify(self, token: str) -> Principal:
        """The principal a bearer token stands for.

        Args:
            token: The encoded JWT (without ``Bearer``).

        Raises:
            AuthError: ``auth.expired`` for an expired token; ``auth.invalid`` for
                any other refused token (malformed, bad signature, algorithm not
                allowed, unknown key, wrong issuer or audience, not yet valid, a
                claim missing or malformed). Messages never include the token.
            GraphwrightError: ``auth.provider_unavailable`` when the issuer's keys
                (or its discovery document) cannot be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthError(
                f"the token's algorithm is not one of GW_JWT_ALGORITHMS "
                f"({', '.join(self._algorithms)})"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token names no signing key (no `kid` header)")
        key = await self._key(kid, algorithm)
        claims = self._decode(token, key)
        return self._principal(claims)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        """The token's claims once PyJWT has checked its signature and registered claims."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": list(_REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired", code="auth.expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("the token is not valid yet (`nbf` or `iat` is ahead)") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the token's audience does not include GW_JWT_AUDIENCE") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token's issuer is not GW_JWT_ISSUER") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token has no `{exc.claim}` claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise AuthError("the token is malformed or its claims are invalid") from None

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        """Map verified claims to a principal."""
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise AuthError("the token's `sub` claim is empty")
        tenant = _claim(claims, self._tenant_claim)
        if tenant is None:
            raise AuthError(f"the token has no `{self._tenant_claim}` (tenant) claim")
        if not isinstance(tenant, str) or not _TENANT.match(tenant):
            raise AuthError(f"the token's `{self._tenant_claim}` claim is not a tenant name")
        name = claims.get("name")
        return Principal(
            id=f"jwt:{subject}",
            tenant=tenant,
            roles=self._roles(_claim(claims, self._roles_claim)),
            name=name if isinstance(name, str) and name else subject,
            kind="jwt",
            scope=self._scope(claims),
        )

    def _roles(self, value: object) -> frozenset[str]:
        """The graphwright roles among a roles claim (a list or a space-separated string)."""
        if value is None:
            return frozenset()
        if isinstance(value, str):
            names = value.split()
        elif isinstance(value, list) and all(isinstance(name, str) for name in value):
            names = value
        else:
            raise AuthError(
                f"the token's `{self._roles_claim}` claim is not a list of strings or a "
                "space-separated string"
            )
        return frozenset(name for name in names if name in ROLES)

    def _scope(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The thread metadata the caller is limited to (empty: the whole tenant)."""
        if self._scope_claim is None:
            return {}
        value = _claim(claims, self._scope_claim)
        # A missing claim is refused, not read as "the whole tenant": a token the
        # issuer forgot to scope must not see every client's threads.
        if value is None:
            raise AuthError(f"the token has no `{self._scope_claim}` (scope) claim")
        if not isinstance(value, dict):
            raise AuthError(f"the token's `{self._scope_claim}` claim is not an object")
        return dict(value)

    async def _key(self, kid: str, algorithm: str) -> jwt.PyJWK:
        """The issuer's key named ``kid``, for ``algorithm``.

        Raises:
            AuthError: The issuer publishes no such signing key (``auth.invalid``).
            GraphwrightError: ``auth.provider_unavailable``.
        """
        jwk = self._known_key(kid, self._clock())
        if jwk is None:
            fetches = self._fetches
            async with self._lock:
                # A fetch made while this call waited counts as its own.
                jwk = await self._refreshed_key(kid, fetched=self._fetches != fetches)
        return self._build(kid, jwk, algorithm)

    def _known_key(self, kid: str, now: float) -> dict[str, Any] | None:
        """``kid``'s key when no fetch is needed (or one is under way and it is usable)."""
        if self._fetched_at is None or kid not in self._keys:
            return None
        age = now - self._fetched_at
        if age < self._max_age or (self._lock.locked() and age < 2 * self._max_age):
            return self._keys[kid]
        return None

    async def _refreshed_key(self, kid: str, *, fetched: bool) -> dict[str, Any]:
        """``kid``'s key after the fetches the rules allow (called under the lock)."""
        now = self._clock()
        stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
        if stale and self._may_fetch(now):
            fetched = await self._try_fetch(now)
        if kid not in self._keys and not fetched and self._may_refetch(now):
            # One refetch for an unknown kid (a rotated key), at most once per interval.
            self._forced_at = now
            fetched = await self._try_fetch(now)
        usable = self._fetched_at is not None and now - self._fetched_at < 2 * self._max_age
        if self._failure is not None and (not usable or (kid not in self._keys and not fetched)):
            # The issuer could not be asked: say so (503) rather than call the token invalid.
            raise _unavailable(self._failure)
        if kid not in self._keys:
            raise AuthError("the token is signed by a key the issuer does not publish")
        return self._keys[kid]

    def _may_fetch(self, now: float) -> bool:
        """Whether the last failed fetch is at least one refetch interval old."""
        return self._failed_at is None or now - self._failed_at >= self._refetch_interval

    def _may_refetch(self, now: float) -> bool:
        """Whether an unknown kid may refetch keys: they were fetched before, and neither
        a failed fetch nor the last refetch for an unknown kid is under an interval old."""
        return (
            self._fetched_at is not None
            and self._may_fetch(now)
            and (self._forced_at is None or now - self._forced_at >= self._refetch_interval)
        )

    async def _try_fetch(self, now: float) -> bool:
        """Fetch the keys; on failure remember it (and keep the keys held). True on success."""
        try:
            keys = await self._fetch_keys()
        except GraphwrightError as exc:
            self._failed_at, self._failure = now, exc.message
            log.warning(
                "cannot fetch the JWT issuer's keys: %s",
                exc.message,
                extra={"fields": {"code": exc.code, "keys_held": len(self._keys)}},
            )
            return False
        self._keys, self._built = keys, {}
        self._fetched_at, self._failed_at, self._failure = now, None, None
        self._fetches += 1
        return True

    async def _fetch_keys(self) -> dict[str, dict[str, Any]]:
        """The issuer's signing keys (JWKs) by key id."""
        if self._jwks_url is None:
            self._jwks_url = await self._discover()
        document = await self._get_json(self._jwks_url, "the issuer's JWKS")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise _unavailable("the issuer's JWKS has no `keys` list")
        keys: dict[str, dict[str, Any]] = {}
        for entry in entries:
            # Only signature keys with an id; `oct` (shared secret) keys never belong here.
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("kid"), str)
                and entry.get("use", "sig") == "sig"
                and entry.get("kty") != "oct"
            ):
                keys.setdefault(entry["kid"], entry)
        if not keys:
            # Most likely a botched rotation: keep the keys held rather than drop them all.
            raise _unavailable("the issuer's JWKS has no signature keys with a `kid`")
        return keys

    async def _discover(self) -> str:
        """The ``jwks_uri`` of the issuer's OpenID configuration (fetched once)."""
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await self._get_json(url, "the issuer's OpenID configuration")
        if document.get("issuer") != self._issuer:
            raise _unavailable(
                "the issuer's OpenID configuration names another issuer than GW_JWT_ISSUER"
            )
        jwks_url = document.get("jwks_uri")
        if not isinstance(jwks_url, str) or not jwks_url.startswith(("https://", "http://")):
            raise _unavailable("the issuer's OpenID configuration has no http(s) `jwks_uri`")
        return jwks_url

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        """A JSON object from ``url`` (no redirects, at most 1 MiB).

        Raises:
            GraphwrightError: ``auth.provider_unavailable``.
        """
        body = bytearray()
        try:
            async with (
                httpx.AsyncClient(verify=self._ssl, timeout=self._timeout) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise _unavailable(f"{what} answered HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _MAX_DOCUMENT_BYTES:
                        raise _unavailable(f"{what} is larger than 1 MiB")
        except httpx.HTTPError as exc:
            raise _unavailable(f"{what} cannot be fetched ({type(exc).__name__})") from exc
        try:
            document = json.loads(body)
        except ValueError:
            raise _unavailable(f"{what} is not JSON") from None
        if not isinstance(document, dict):
            raise _unavailable(f"{what} is not a JSON object")
        return document

    def _build(self, kid: str, jwk: dict[str, Any], algorithm: str) -> jwt.PyJWK:
        """PyJWT's key for ``jwk`` and ``algorithm`` (built once per pair)."""
        built = self._built.get((kid, algorithm))
        if built is not None:
            return built
        if jwk.get("alg", algorithm) != algorithm:
            raise AuthError("the token's algorithm is not the one its key is published for")
        try:
            built = jwt.PyJWK(jwk, algorithm)
        except jwt.PyJWTError:
            raise AuthError("the token's key cannot verify the token's algorithm") from None
        self._built[(kid, algorithm)] = built
        return built


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, else by dotted path into objects; None when absent.

    The name is tried first, so namespaced claims such as
    ``https://example.com/tenant`` (dots included) are found as they are.
    """
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _unavailable(message: str) -> GraphwrightError:
    """The error of an issuer whose keys cannot be had (HTTP 503)."""
    return GraphwrightError(message, code="auth.provider_unavailable")
