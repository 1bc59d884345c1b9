"""Bearer tokens of an OpenID issuer against a live ``graphwright serve`` (GW_AUTH=jwt).

The issuer is a local HTTP server on a free port publishing its OpenID
configuration and JWKS; the service finds the JWKS by discovery (GW_JWT_JWKS_URL
unset) and reads the caller's scope from the ``scope`` claim.

The verifier refetches keys for an unknown ``kid`` at most once per 30 s, so the
rotation test must be the first to present a key the service has not fetched: the
unknown-kid test therefore comes after it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from langgraph_sdk import get_client

from tests.integration.service.conftest import (
    TEST_WORKFLOWS,
    Server,
    server_env,
    start_server,
)

pytestmark = pytest.mark.integration

AUDIENCE = "graphwright"
JWKS_PATH = "/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class SigningKey:
    """A private RSA key of the issuer and its key id (RS256)."""

    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        """A new 2048-bit key named ``kid``."""
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        """The public key as the issuer publishes it."""
        public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """A token of ``claims`` signed with this key (``kid`` overrides the header's)."""
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": kid or self.kid})


@dataclass
class FakeIssuer:
    """The issuer's published state: its URL, the key it signs with and the keys it serves."""

    key: SigningKey
    base_url: str = ""
    published: list[SigningKey] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def rotate(self, key: SigningKey) -> None:
        """Sign with ``key`` and publish only it from now on."""
        self.key, self.published = key, [key]

    def fetches(self) -> int:
        """How many times the JWKS was requested."""
        return self.requests.count(JWKS_PATH)


def _handler(issuer: FakeIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.requests.append(self.path)
            body: object
            status = 200
            if self.path == JWKS_PATH:
                body = {"keys": [key.jwk() for key in issuer.published]}
            elif self.path == DISCOVERY_PATH:
                body = {"issuer": issuer.base_url, "jwks_uri": issuer.base_url + JWKS_PATH}
            else:
                body, status = {"error": "not found"}, 404
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@dataclass
class JwtService:
    """A live server accepting the fake issuer's tokens."""

    server: Server
    issuer: FakeIssuer

    def token(
        self,
        tenant: str = "acme",
        roles: tuple[str, ...] = ("admin",),
        *,
        key: SigningKey | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """A valid token of ``tenant`` with ``roles`` and scope ``{}``, changed by ``claims``."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.issuer.base_url,
            "aud": AUDIENCE,
            "sub": f"user-{tenant}-{'-'.join(roles)}",
            "iat": now,
            "exp": now + 300,
            "tenant": tenant,
            "roles": list(roles),
            "scope": {},
        }
        base.update(claims)
        signed = {name: value for name, value in base.items() if name not in drop}
        return (key or self.issuer.key).sign(signed)

    def http(self, token: str | None) -> httpx.AsyncClient:
        """An HTTP client sending ``token`` as a bearer token (nothing with None)."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    """The fake issuer on a free loopback port, publishing one RSA key."""
    key = SigningKey.generate("key-1")
    fake = FakeIssuer(key=key, published=[key])
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{http_server.server_address[1]}"
    # A short poll interval: shutdown() waits for the loop to look at its flag.
    thread = threading.Thread(target=http_server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        http_server.shutdown()
        http_server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def service(
    database_url: str, issuer: FakeIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JwtService]:
    """Server with GW_AUTH=jwt for the fake issuer (JWKS discovered), scope claim `scope`."""
    env = server_env(
        database_url,
        GW_AUTH="jwt",
        GW_JWT_ISSUER=issuer.base_url,
        GW_JWT_AUDIENCE=AUDIENCE,
        GW_JWT_SCOPE_CLAIM="scope",
        GW_WORKERS="2",
    )
    server = start_server(env, tmp_path_factory.mktemp("auth-jwt") / "server.log")
    try:
        yield JwtService(server, issuer)
    finally:
        server.stop()


async def test_a_valid_token_publishes_and_the_sdk_runs_to_the_end(service: JwtService) -> None:
    """An acme admin token publishes svc-chain; langgraph-sdk with it as bearer runs it through."""
    token = service.token()
    async with service.http(token) as http:
        published = await http.post("/workflows", json=TEST_WORKFLOWS["svc-chain"])
    assert published.status_code in (200, 201), published.text
    # api_key=None: an API key from the environment would be sent (and checked) instead.
    async with get_client(
        url=service.server.url, api_key=None, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        thread = await client.threads.create()
        result = await client.runs.wait(thread["thread_id"], "svc-chain", input={"token": "jwt"})
    assert isinstance(result, dict)
    assert result["trail"] == ["one", "two", "three"]
    assert DISCOVERY_PATH in service.issuer.requests


@pytest.mark.parametrize(
    ("claims", "drop", "code"),
    [
        (
            {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
            (),
            "auth.expired",
        ),
        ({"aud": "another-service"}, (), "auth.invalid"),
        ({}, ("scope",), "auth.invalid"),
        (None, (), "auth.required"),
    ],
    ids=["expired", "wrong-audience", "no-scope-claim", "no-token"],
)
async def test_refused_tokens_are_401(
    service: JwtService, claims: dict[str, Any] | None, drop: tuple[str, ...], code: str
) -> None:
    """Expired is auth.expired; other audience or no scope is auth.invalid; none, auth.required."""
    token = None if claims is None else service.token(drop=drop, **claims)
    async with service.http(token) as http:
        answer = await http.get("/workflows")
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


async def test_another_tenants_thread_is_404(service: JwtService) -> None:
    """A globex admin token gets 404 thread.not_found for a thread acme's token made."""
    async with service.http(service.token()) as acme:
        thread_id = (await acme.post("/threads", json={})).json()["thread_id"]
        own = await acme.get(f"/threads/{thread_id}")
    async with service.http(service.token("globex")) as globex:
        foreign = await globex.get(f"/threads/{thread_id}")
    assert own.status_code == 200, own.text
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["code"] == "thread.not_found"


async def test_a_viewer_token_cannot_create_threads(service: JwtService) -> None:
    """A token with only the viewer role gets 403 auth.forbidden on POST /threads."""
    async with service.http(service.token(roles=("viewer",))) as http:
        answer = await http.post("/threads", json={})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "auth.forbidden"
    assert answer.json()["details"]["required"] == "operator"


async def test_a_scoped_token_searches_only_its_threads(service: JwtService) -> None:
    """A token with scope {"client_id": "c1"} finds c1's threads in a search, not c2's."""
    async with service.http(service.token()) as admin:
        made = {
            client: (await admin.post("/threads", json={"metadata": {"client_id": client}})).json()
            for client in ("c1", "c2")
        }
    scoped = service.token(roles=("viewer",), scope={"client_id": "c1"})
    async with service.http(scoped) as http:
        answer = await http.post("/threads/search", json={"limit": 1000})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert made["c1"]["thread_id"] in {thread["thread_id"] for thread in found}
    assert {thread["metadata"].get("client_id") for thread in found} == {"c1"}


async def test_a_rotated_key_works_after_one_refetch_and_the_old_one_fails(
    service: JwtService,
) -> None:
    """After the JWKS switches keys, the new key passes after one refetch; the old one is 401."""
    old_token = service.token()
    async with service.http(old_token) as http:
        assert (await http.get("/workflows")).status_code == 200
    before = service.issuer.fetches()

    service.issuer.rotate(SigningKey.generate(f"key-{uuid.uuid4().hex[:8]}"))
    async with service.http(service.token()) as http:
        fresh = await http.get("/workflows")
    assert fresh.status_code == 200, fresh.text
    assert service.issuer.fetches() == before + 1

    async with service.http(old_token) as http:
        stale = await http.get("/workflows")
    assert stale.status_code == 401, stale.text
    assert stale.json()["code"] == "auth.invalid"
    assert service.issuer.fetches() == before + 1  # the refetch just made answers for it too


async def test_a_token_of_an_unpublished_key_is_401(service: JwtService) -> None:
    """A token whose kid the issuer does not publish is 401 auth.invalid."""
    stranger = SigningKey.generate("never-published")
    async with service.http(service.token(key=stranger)) as http:
        answer = await http.get("/workflows")
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "auth.invalid"
