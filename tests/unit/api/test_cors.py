"""CORS from an allow-list of origins; `*` with credentials refuses to start."""

from __future__ import annotations

import httpx
import pytest

from graphwright.api import create_app
from graphwright.errors import ConfigurationError
from graphwright.settings import Settings

APP = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-api-key",
}


def _client(settings: Settings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


def test_any_origin_with_credentials_refuses_to_build_the_app() -> None:
    """`*` origins with credentials allowed is a ConfigurationError (config.unsafe_cors)."""
    settings = Settings(cors_origins=["*"], cors_allow_credentials=True)
    with pytest.raises(ConfigurationError) as caught:
        create_app(settings)
    assert caught.value.code == "config.unsafe_cors"


async def test_no_origins_means_no_cors_headers() -> None:
    """Without GW_CORS_ORIGINS no response carries CORS headers and a preflight is not answered."""
    async with _client(Settings()) as http:
        simple = await http.get("/healthz", headers={"Origin": APP})
        preflight = await http.options("/threads", headers={"Origin": APP, **PREFLIGHT})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


async def test_listed_origin_gets_cors_headers() -> None:
    """A listed origin is echoed, may read X-Request-Id, and its preflight is allowed."""
    async with _client(Settings(cors_origins=[APP])) as http:
        simple = await http.get("/healthz", headers={"Origin": APP})
        preflight = await http.options("/threads", headers={"Origin": APP, **PREFLIGHT})
    assert simple.headers["access-control-allow-origin"] == APP
    assert "X-Request-Id" in simple.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in simple.headers
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP
    assert "POST" in preflight.headers["access-control-allow-methods"]


async def test_other_origin_is_not_allowed_and_its_preflight_is_a_problem() -> None:
    """An unlisted origin gets no Allow-Origin; its preflight is a 400 cors.refused problem."""
    other = {"Origin": "https://evil.example"}
    async with _client(Settings(cors_origins=[APP], cors_allow_credentials=True)) as http:
        simple = await http.get("/healthz", headers=other)
        preflight = await http.options("/threads", headers={**other, **PREFLIGHT})
    assert "access-control-allow-origin" not in simple.headers
    assert preflight.status_code == 400
    assert preflight.headers["content-type"] == "application/problem+json"
    assert preflight.json()["code"] == "cors.refused"
    assert "access-control-allow-origin" not in preflight.headers


async def test_credentials_are_allowed_for_listed_origins_only_when_configured() -> None:
    """GW_CORS_ALLOW_CREDENTIALS=1 adds Allow-Credentials for a listed origin."""
    async with _client(Settings(cors_origins=[APP], cors_allow_credentials=True)) as http:
        simple = await http.get("/healthz", headers={"Origin": APP})
    assert simple.headers["access-control-allow-origin"] == APP
    assert simple.headers["access-control-allow-credentials"] == "true"


async def test_any_origin_without_credentials_is_allowed() -> None:
    """GW_CORS_ORIGINS=* (without credentials) answers any origin with `*`."""
    async with _client(Settings(cors_origins=["*"])) as http:
        simple = await http.get("/healthz", headers={"Origin": "https://anywhere.example"})
    assert simple.headers["access-control-allow-origin"] == "*"
