"""Bearer tokens checked against an issuer's JWKS, served from a local HTTP server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import ValidationError

from graphwright.auth.jwt import JwtVerifier
from graphwright.auth.principal import AuthError, Principal
from graphwright.errors import ConfigurationError, GraphwrightError
from graphwright.settings import Settings

AUDIENCE = "graphwright-api"
JWKS_PATH = "/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass
class FakeIssuer:
    """An OpenID issuer on a local port serving its JWKS and OpenID configuration."""

    base_url: str = ""
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    status: int = 200
    config_issuer: str | None = None
    requests: list[str] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        """URL of the JWKS."""
        return self.base_url + JWKS_PATH

    def publish(self, *keys: SigningKey) -> None:
        """Serve exactly these keys from now on."""
        self.jwks = {"keys": [key.jwk() for key in keys]}

    def fetches(self, path: str = JWKS_PATH) -> int:
        """How many times ``path`` was requested."""
        return self.requests.count(path)


def _handler(issuer: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.requests.append(self.path)
            if self.path == JWKS_PATH:
                body: object = issuer.jwks
            elif self.path == DISCOVERY_PATH:
                body = {
                    "issuer": issuer.config_issuer or issuer.base_url,
                    "jwks_uri": issuer.jwks_url,
                }
            else:
                body = {"error": "not found"}
            status = issuer.status if self.path in (JWKS_PATH, DISCOVERY_PATH) else 404
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    """A fake issuer on a free loopback port, for one test."""
    fake = FakeIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval: shutdown() waits for the loop to look at its flag.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class SigningKey:
    """A private key of the issuer, with its key id and algorithm."""

    kid: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str

    def jwk(self) -> dict[str, Any]:
        """The public key as the issuer publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            data = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            data = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**data, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """A token of ``claims`` signed with this key."""
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": kid or self.kid}
        )


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    """The issuer's current RSA key (RS256)."""
    return SigningKey(
        "rsa-1", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
    )


@pytest.fixture(scope="module")
def next_rsa_key() -> SigningKey:
    """The RSA key the issuer rotates to."""
    return SigningKey(
        "rsa-2", rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
    )


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    """An EC key (ES256)."""
    return SigningKey("ec-1", ec.generate_private_key(ec.SECP256R1()), "ES256")


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def make_verifier(
    issuer: FakeIssuer,
    clock: FakeClock | None = None,
    *,
    discover: bool = False,
    jwks_url: str | None = None,
    **settings: Any,
) -> JwtVerifier:
    """A verifier of ``issuer``'s tokens for AUDIENCE (30 s refetch interval, 300 s max age)."""
    configured = Settings(
        jwt_issuer=issuer.base_url,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=None if discover else (jwks_url or issuer.jwks_url),
        **settings,
    )
    return JwtVerifier(configured, clock=clock or FakeClock(), timeout=5.0)


def claims_of(issuer: FakeIssuer, *, drop: tuple[str, ...] = (), **claims: Any) -> dict[str, Any]:
    """Valid claims for ``issuer`` (tenant ``acme``, role ``operator``), changed by ``claims``."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": issuer.base_url,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "tenant": "acme",
        "roles": ["operator"],
    }
    base.update(claims)
    return {name: value for name, value in base.items() if name not in drop}


async def refusal(verifier: JwtVerifier, token: str, code: str = "auth.invalid") -> AuthError:
    """The AuthError refusing ``token`` (checked: its code, and no trace of the token)."""
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    assert caught.value.code == code
    signature = token.rsplit(".", 1)[-1]
    assert not token or token not in str(caught.value)
    assert not signature or signature not in str(caught.value)
    return caught.value


async def test_a_valid_token_becomes_a_jwt_principal(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """A valid token maps to id jwt:<sub>, its tenant, its roles, its name and kind jwt."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, name="Ada Lovelace"))
    principal = await make_verifier(issuer).verify(token)
    assert principal == Principal(
        id="jwt:user-1",
        tenant="acme",
        roles=frozenset({"operator"}),
        name="Ada Lovelace",
        kind="jwt",
        scope={},
    )


async def test_an_es256_token_verifies_and_the_name_defaults_to_the_subject(
    issuer: FakeIssuer, ec_key: SigningKey
) -> None:
    """ES256 is accepted by default; without a `name` claim the name is the subject."""
    issuer.publish(ec_key)
    principal = await make_verifier(issuer).verify(ec_key.sign(claims_of(issuer)))
    assert (principal.id, principal.name) == ("jwt:user-1", "user-1")


async def test_keys_are_fetched_once_for_many_tokens(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """Fresh keys are reused: ten verifications make one JWKS request."""
    issuer.publish(rsa_key)
    verifier = make_verifier(issuer)
    for number in range(10):
        await verifier.verify(rsa_key.sign(claims_of(issuer, sub=f"user-{number}")))
    assert issuer.fetches() == 1


@pytest.mark.parametrize(
    ("expired_for", "code"),
    [(10, None), (60, "auth.expired")],
    ids=["within-leeway", "expired"],
)
async def test_expired_tokens_are_refused_beyond_the_leeway(
    issuer: FakeIssuer, rsa_key: SigningKey, expired_for: int, code: str | None
) -> None:
    """A token expired for longer than the 30 s leeway fails with auth.expired."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, exp=int(time.time()) - expired_for))
    verifier = make_verifier(issuer)
    if code is None:
        assert (await verifier.verify(token)).tenant == "acme"
    else:
        await refusal(verifier, token, code)


async def test_a_token_not_valid_yet_is_refused(issuer: FakeIssuer, rsa_key: SigningKey) -> None:
    """A token whose nbf is beyond the leeway in the future fails with auth.invalid."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, nbf=int(time.time()) + 120))
    error = await refusal(make_verifier(issuer), token)
    assert "not valid yet" in error.message


@pytest.mark.parametrize(
    ("audience", "accepted"),
    [
        (AUDIENCE, True),
        (["another-api", AUDIENCE], True),
        ("another-api", False),
        (["another-api", "a-third-api"], False),
    ],
    ids=["equal", "list-containing-it", "other", "list-without-it"],
)
async def test_the_audience_must_be_or_contain_ours(
    issuer: FakeIssuer, rsa_key: SigningKey, audience: str | list[str], accepted: bool
) -> None:
    """`aud` equal to GW_JWT_AUDIENCE, or a list holding it, passes; any other is auth.invalid."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, aud=audience))
    verifier = make_verifier(issuer)
    if accepted:
        assert (await verifier.verify(token)).id == "jwt:user-1"
    else:
        error = await refusal(verifier, token)
        assert "audience" in error.message


@pytest.mark.parametrize("missing", ["aud", "exp", "sub", "iss"])
async def test_required_registered_claims_must_be_present(
    issuer: FakeIssuer, rsa_key: SigningKey, missing: str
) -> None:
    """A token without aud, exp, sub or iss is auth.invalid, naming the missing claim."""
    issuer.publish(rsa_key)
    error = await refusal(make_verifier(issuer), rsa_key.sign(claims_of(issuer, drop=(missing,))))
    assert f"`{missing}`" in error.message


async def test_a_token_of_another_issuer_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """An `iss` other than GW_JWT_ISSUER is auth.invalid, even when the signature verifies."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, iss="https://evil.example.com"))
    error = await refusal(make_verifier(issuer), token)
    assert "issuer" in error.message


async def test_a_forged_signature_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    """A token signed by another key under a published kid is auth.invalid."""
    issuer.publish(rsa_key)
    token = next_rsa_key.sign(claims_of(issuer), kid=rsa_key.kid)
    error = await refusal(make_verifier(issuer), token)
    assert "signature" in error.message


async def test_an_unknown_kid_is_refused_after_one_refetch(
    issuer: FakeIssuer, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    """A kid the JWKS lacks triggers one refetch, then fails with auth.invalid."""
    issuer.publish(rsa_key)
    verifier = make_verifier(issuer)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    error = await refusal(verifier, next_rsa_key.sign(claims_of(issuer)))
    assert "does not publish" in error.message
    assert issuer.fetches() == 2


async def test_a_rotated_key_is_picked_up_and_the_old_one_dropped(
    issuer: FakeIssuer, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    """After rotation the new key's token verifies after one refetch; the old key's fails."""
    issuer.publish(rsa_key)
    verifier = make_verifier(issuer)
    old_token = rsa_key.sign(claims_of(issuer))
    await verifier.verify(old_token)

    issuer.publish(next_rsa_key)
    principal = await verifier.verify(next_rsa_key.sign(claims_of(issuer, sub="user-2")))
    assert principal.id == "jwt:user-2"
    assert issuer.fetches() == 2

    await refusal(verifier, old_token)
    assert issuer.fetches() == 2  # the refetch just made answers for the old kid too


async def test_unknown_kids_refetch_at_most_once_per_interval(
    issuer: FakeIssuer, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    """Tokens with unknown kids cause at most one JWKS refetch per 30 s interval."""
    issuer.publish(rsa_key)
    clock = FakeClock()
    verifier = make_verifier(issuer, clock)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    unknown = next_rsa_key.sign(claims_of(issuer))

    for _ in range(5):
        await refusal(verifier, unknown)
    assert issuer.fetches() == 2
    clock.advance(29)
    await refusal(verifier, unknown)
    assert issuer.fetches() == 2
    clock.advance(1)
    await refusal(verifier, unknown)
    assert issuer.fetches() == 3


async def test_concurrent_unknown_kids_share_one_refetch(
    issuer: FakeIssuer, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    """Concurrent verifications of tokens with an unknown kid wait on a single refetch."""
    issuer.publish(rsa_key)
    verifier = make_verifier(issuer)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    issuer.publish(rsa_key, next_rsa_key)
    tokens = [next_rsa_key.sign(claims_of(issuer, sub=f"user-{n}")) for n in range(8)]
    principals = await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert {principal.id for principal in principals} == {f"jwt:user-{n}" for n in range(8)}
    assert issuer.fetches() == 2


async def test_keys_are_refreshed_once_they_are_old(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """Keys older than 300 s are fetched again before use."""
    issuer.publish(rsa_key)
    clock = FakeClock()
    verifier = make_verifier(issuer, clock)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    clock.advance(299)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    assert issuer.fetches() == 1
    clock.advance(1)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    assert issuer.fetches() == 2


def _unsigned(claims: dict[str, Any], kid: str) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})


def _hmac(claims: dict[str, Any], kid: str) -> str:
    return jwt.encode(
        claims, "a-shared-secret-of-32-bytes-long", algorithm="HS256", headers={"kid": kid}
    )


@pytest.mark.parametrize("forge", [_unsigned, _hmac], ids=["alg-none", "hs256"])
async def test_unsigned_and_hmac_tokens_are_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, forge: Any
) -> None:
    """`alg: none` and HS256 tokens are auth.invalid without asking the issuer for keys."""
    issuer.publish(rsa_key)
    error = await refusal(make_verifier(issuer), forge(claims_of(issuer), rsa_key.kid))
    assert "algorithm" in error.message
    assert issuer.fetches() == 0


async def test_an_algorithm_other_than_the_keys_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    """An ES256 token naming an RS256 key's kid is auth.invalid (no algorithm confusion)."""
    issuer.publish(rsa_key)
    error = await refusal(make_verifier(issuer), ec_key.sign(claims_of(issuer), kid=rsa_key.kid))
    assert "algorithm" in error.message


async def test_an_algorithm_not_configured_is_refused(
    issuer: FakeIssuer, ec_key: SigningKey
) -> None:
    """With GW_JWT_ALGORITHMS=RS256, an ES256 token is auth.invalid."""
    issuer.publish(ec_key)
    verifier = make_verifier(issuer, jwt_algorithms="RS256")
    await refusal(verifier, ec_key.sign(claims_of(issuer)))


@pytest.mark.parametrize(
    "algorithms",
    ["none", "HS256", "RS256,HS512", "", "RS257"],
    ids=["none", "hs256", "with-hs512", "empty", "unknown"],
)
def test_unsafe_algorithm_settings_are_refused(algorithms: str) -> None:
    """GW_JWT_ALGORITHMS refuses none, HS*, unknown names and an empty list at start."""
    with pytest.raises(ValidationError, match="GW_JWT_ALGORITHMS"):
        Settings(jwt_algorithms=algorithms)


def test_algorithm_settings_are_comma_separated() -> None:
    """GW_JWT_ALGORITHMS is a comma-separated list, blanks and repeats dropped."""
    assert Settings(jwt_algorithms=" RS256, EdDSA,RS256 ").jwt_algorithms == ["RS256", "EdDSA"]


@pytest.mark.parametrize(
    ("claims", "drop"),
    [({}, ("tenant",)), ({"tenant": ""}, ()), ({"tenant": "Acme Corp"}, ()), ({"tenant": 7}, ())],
    ids=["missing", "empty", "not-a-tenant-name", "not-a-string"],
)
async def test_a_token_without_a_valid_tenant_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, claims: dict[str, Any], drop: tuple[str, ...]
) -> None:
    """A token whose tenant claim is missing or not a tenant name is auth.invalid."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, drop=drop, **claims))
    error = await refusal(make_verifier(issuer), token)
    assert "`tenant`" in error.message


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("app_metadata.tenant", {"app_metadata": {"tenant": "globex"}}),
        ("https://graphwright.dev/tenant", {"https://graphwright.dev/tenant": "globex"}),
    ],
    ids=["dotted-path", "namespaced-name"],
)
async def test_the_tenant_claim_may_be_a_dotted_path_or_a_namespaced_name(
    issuer: FakeIssuer, rsa_key: SigningKey, claim: str, value: dict[str, Any]
) -> None:
    """GW_JWT_TENANT_CLAIM reaches into objects by a dotted path, or names a claim with dots."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, drop=("tenant",), **value))
    principal = await make_verifier(issuer, jwt_tenant_claim=claim).verify(token)
    assert principal.tenant == "globex"


async def test_a_dotted_tenant_claim_missing_its_leaf_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """`app_metadata.tenant` with app_metadata lacking `tenant` is auth.invalid."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, app_metadata={"plan": "pro"}))
    await refusal(make_verifier(issuer, jwt_tenant_claim="app_metadata.tenant"), token)


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["admin", "root", "viewer"], {"admin", "viewer"}),
        ("author  superuser approver", {"author", "approver"}),
        ([], set()),
        ("Admin OPERATOR", set()),
    ],
    ids=["list", "space-separated", "empty", "case-sensitive"],
)
async def test_only_graphwright_roles_are_kept(
    issuer: FakeIssuer, rsa_key: SigningKey, roles: str | list[str], expected: set[str]
) -> None:
    """Roles come from a list or a space-separated string; unknown names are dropped."""
    issuer.publish(rsa_key)
    principal = await make_verifier(issuer).verify(rsa_key.sign(claims_of(issuer, roles=roles)))
    assert principal.roles == frozenset(expected)


async def test_a_token_without_roles_has_none(issuer: FakeIssuer, rsa_key: SigningKey) -> None:
    """A token without the roles claim maps to a principal with no roles."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, drop=("roles",)))
    assert (await make_verifier(issuer).verify(token)).roles == frozenset()


@pytest.mark.parametrize(
    "roles", [7, ["admin", 7], {"admin": True}], ids=["number", "mixed", "object"]
)
async def test_a_malformed_roles_claim_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, roles: object
) -> None:
    """A roles claim that is neither a list of strings nor a string is auth.invalid."""
    issuer.publish(rsa_key)
    await refusal(make_verifier(issuer), rsa_key.sign(claims_of(issuer, roles=roles)))


async def test_roles_may_come_from_a_dotted_path(issuer: FakeIssuer, rsa_key: SigningKey) -> None:
    """GW_JWT_ROLES_CLAIM=realm_access.roles reads Keycloak-style nested roles."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, realm_access={"roles": ["approver", "offline"]}))
    principal = await make_verifier(issuer, jwt_roles_claim="realm_access.roles").verify(token)
    assert principal.roles == frozenset({"approver"})


async def test_the_scope_claim_scopes_the_principal(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """With GW_JWT_SCOPE_CLAIM, the claim's object becomes the principal's scope."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, gw_scope={"client_id": "acme-eu"}))
    principal = await make_verifier(issuer, jwt_scope_claim="gw_scope").verify(token)
    assert principal.scope == {"client_id": "acme-eu"}


@pytest.mark.parametrize(
    ("claims", "drop"),
    [({}, ()), ({"gw_scope": "acme-eu"}, ()), ({"gw_scope": ["acme-eu"]}, ())],
    ids=["missing", "string", "list"],
)
async def test_a_missing_or_malformed_scope_claim_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey, claims: dict[str, Any], drop: tuple[str, ...]
) -> None:
    """With GW_JWT_SCOPE_CLAIM set, a token without an object there is auth.invalid."""
    issuer.publish(rsa_key)
    token = rsa_key.sign(claims_of(issuer, drop=drop, **claims))
    error = await refusal(make_verifier(issuer, jwt_scope_claim="gw_scope"), token)
    assert "`gw_scope`" in error.message


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"],
    ids=["empty", "word", "junk", "two-parts"],
)
async def test_malformed_tokens_are_refused(issuer: FakeIssuer, token: str) -> None:
    """Anything that is not a JWS compact token is auth.invalid, without a key fetch."""
    await refusal(make_verifier(issuer), token)
    assert issuer.fetches() == 0


async def test_a_token_without_a_kid_is_refused(issuer: FakeIssuer, rsa_key: SigningKey) -> None:
    """A token whose header names no key is auth.invalid."""
    issuer.publish(rsa_key)
    token = jwt.encode(claims_of(issuer), rsa_key.private, algorithm="RS256")
    error = await refusal(make_verifier(issuer), token)
    assert "kid" in error.message


async def test_keys_are_found_by_discovery(issuer: FakeIssuer, rsa_key: SigningKey) -> None:
    """Without GW_JWT_JWKS_URL, the JWKS is found in the issuer's OpenID configuration, once."""
    issuer.publish(rsa_key)
    clock = FakeClock()
    verifier = make_verifier(issuer, clock, discover=True)
    assert (await verifier.verify(rsa_key.sign(claims_of(issuer)))).tenant == "acme"
    assert issuer.requests == [DISCOVERY_PATH, JWKS_PATH]
    clock.advance(300)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))
    assert issuer.requests == [DISCOVERY_PATH, JWKS_PATH, JWKS_PATH]


async def test_a_discovery_document_of_another_issuer_is_refused(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """An OpenID configuration naming another issuer makes keys unavailable (no JWKS fetch)."""
    issuer.publish(rsa_key)
    issuer.config_issuer = "https://evil.example.com"
    with pytest.raises(GraphwrightError) as caught:
        await make_verifier(issuer, discover=True).verify(rsa_key.sign(claims_of(issuer)))
    assert caught.value.code == "auth.provider_unavailable"
    assert issuer.fetches() == 0


async def test_an_issuer_answering_errors_is_unavailable_and_not_hammered(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """A JWKS answering 500 gives auth.provider_unavailable; it is retried only after 30 s."""
    issuer.publish(rsa_key)
    issuer.status = 500
    clock = FakeClock()
    verifier = make_verifier(issuer, clock)
    token = rsa_key.sign(claims_of(issuer))
    for _ in range(3):
        with pytest.raises(GraphwrightError) as caught:
            await verifier.verify(token)
        assert not isinstance(caught.value, AuthError)
        assert caught.value.code == "auth.provider_unavailable"
    assert issuer.fetches() == 1

    issuer.status = 200
    clock.advance(30)
    assert (await verifier.verify(token)).tenant == "acme"
    assert issuer.fetches() == 2


async def test_an_unreachable_issuer_is_unavailable() -> None:
    """A JWKS URL nothing listens on gives auth.provider_unavailable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = FakeIssuer(base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(GraphwrightError) as caught:
        await make_verifier(closed).verify("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln")
    assert caught.value.code == "auth.provider_unavailable"


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": []},
        {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]},
        ["not", "an", "object"],
    ],
    ids=["no-keys", "only-a-shared-secret", "not-an-object"],
)
async def test_a_jwks_without_signature_keys_is_unavailable(
    issuer: FakeIssuer, rsa_key: SigningKey, jwks: Any
) -> None:
    """A JWKS with no usable signature key is auth.provider_unavailable, not an invalid token."""
    issuer.jwks = jwks
    with pytest.raises(GraphwrightError) as caught:
        await make_verifier(issuer).verify(rsa_key.sign(claims_of(issuer)))
    assert caught.value.code == "auth.provider_unavailable"


async def test_held_keys_outlive_a_failed_refresh_for_a_while(
    issuer: FakeIssuer, rsa_key: SigningKey
) -> None:
    """When a refresh fails, held keys serve until twice their max age, then 503."""
    issuer.publish(rsa_key)
    clock = FakeClock()
    verifier = make_verifier(issuer, clock)
    await verifier.verify(rsa_key.sign(claims_of(issuer)))

    issuer.status = 500
    clock.advance(300)
    assert (await verifier.verify(rsa_key.sign(claims_of(issuer)))).tenant == "acme"
    assert issuer.fetches() == 2
    clock.advance(299)
    assert (await verifier.verify(rsa_key.sign(claims_of(issuer)))).tenant == "acme"
    clock.advance(1)
    with pytest.raises(GraphwrightError) as caught:
        await verifier.verify(rsa_key.sign(claims_of(issuer)))
    assert caught.value.code == "auth.provider_unavailable"


@pytest.mark.parametrize(
    "settings",
    [
        {"jwt_issuer": "https://id.example.com"},
        {"jwt_audience": AUDIENCE},
        {"jwt_issuer": "id-service", "jwt_audience": AUDIENCE},
    ],
    ids=["no-audience", "no-issuer", "issuer-not-a-url-without-jwks-url"],
)
def test_incomplete_settings_are_refused(settings: dict[str, str]) -> None:
    """A verifier needs an issuer, an audience and a way to find the keys."""
    with pytest.raises(ConfigurationError):
        JwtVerifier(Settings(**settings))


def test_a_jwks_url_must_be_http() -> None:
    """GW_JWT_JWKS_URL refuses schemes other than https and http."""
    with pytest.raises(ValidationError, match="GW_JWT_JWKS_URL"):
        Settings(jwt_jwks_url="file:///etc/jwks.json")
