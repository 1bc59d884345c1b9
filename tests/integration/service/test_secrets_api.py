"""``/secrets`` on the in-process app: set, list, delete; values never in a response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graphwright.api import create_app
from graphwright.runtime.process import Runtime
from graphwright.settings import Settings
from graphwright.store import Pool
from graphwright.store.secrets import generate_key

pytestmark = pytest.mark.integration

VALUE = "horse battery staple 9002"
PROBLEM_JSON = "application/problem+json"

OpenApi = Callable[..., Awaitable[tuple[httpx.AsyncClient, Runtime]]]


@pytest.fixture
async def open_api(database_url: str, pool: Pool, tenant: str) -> AsyncIterator[OpenApi]:
    """Return a function starting the app (lifespan included) for a tenant and key.

    Depends on ``pool`` so the session's database is migrated first.
    """
    async with AsyncExitStack() as stack:

        async def open_(
            *, key: str | None, tenant: str = tenant
        ) -> tuple[httpx.AsyncClient, Runtime]:
            options: dict[str, Any] = {
                "database_url": database_url,
                "tenant": tenant,
                "workers": 0,
                "pool_min_size": 1,
                "pool_max_size": 2,
                "checkpointers": 1,
                "registry_modules": [],
                "secret_key": key,
            }
            app: FastAPI = create_app(Settings(**options), start_workers=False)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
                )
            )
            return client, app.state.services

        yield open_


async def test_put_get_delete(
    open_api: OpenApi, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PUT creates (201) then replaces (200), GET lists names, DELETE removes (204, then 404)."""
    caplog.set_level(logging.DEBUG)
    api, services = await open_api(key=generate_key())

    created = await api.put("/secrets/CRM_TOKEN", json={"value": "first"})
    replaced = await api.put("/secrets/CRM_TOKEN", json={"value": VALUE})
    listed = await api.get("/secrets")
    stored = await services.secrets.read(tenant)
    deleted = await api.delete("/secrets/CRM_TOKEN")
    missing = await api.delete("/secrets/CRM_TOKEN")

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert created.json()["created"] is True
    assert replaced.json()["created"] is False
    assert set(replaced.json()) == {"name", "created_at", "updated_at", "created"}
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["secrets"]] == ["CRM_TOKEN"]
    assert stored == {"CRM_TOKEN": VALUE}
    assert deleted.status_code == 204
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM_JSON
    assert missing.json()["code"] == "secrets.not_found"
    assert all(VALUE not in r.text for r in (created, replaced, listed, deleted, missing))
    assert VALUE not in caplog.text


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/secrets/1BAD", {"value": VALUE}, "request.invalid"),
        ("/secrets/CRM_TOKEN", {"value": ""}, "request.invalid"),
        ("/secrets/CRM_TOKEN", {"value": VALUE + "x" * 65_536}, "request.invalid"),
        ("/secrets/CRM_TOKEN", {"value": VALUE, "tenant": "other"}, "request.invalid"),
        ("/secrets/CRM_TOKEN", {"value": VALUE + "\u0000"}, "request.invalid_text"),
        ("/secrets/CRM_TOKEN", {"value": "é" * 40_000}, "secrets.invalid_value"),
    ],
    ids=["bad-name", "empty", "too-long", "extra-key", "nul", "too-many-bytes"],
)
async def test_bad_requests_are_refused_without_echoing_the_value(
    open_api: OpenApi, path: str, body: dict[str, Any], code: str
) -> None:
    """Invalid names and values get a 422 problem that never repeats the value."""
    api, _ = await open_api(key=generate_key())
    response = await api.put(path, json=body)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert VALUE not in response.text
    assert "éé" not in response.text


async def test_without_a_key_set_is_refused_and_list_works(open_api: OpenApi) -> None:
    """No GW_SECRET_KEY: PUT answers secrets.no_key; GET still lists (nothing)."""
    api, _ = await open_api(key=None)
    refused = await api.put("/secrets/CRM_TOKEN", json={"value": VALUE})
    listed = await api.get("/secrets")
    assert refused.status_code == 500
    assert refused.json()["code"] == "secrets.no_key"
    assert VALUE not in refused.text
    assert listed.json() == {"secrets": []}


async def test_each_tenant_sees_only_its_own_secrets(open_api: OpenApi, tenant: str) -> None:
    """A secret set by one tenant is not listed, deletable or readable for another."""
    key = generate_key()
    mine, _ = await open_api(key=key)
    theirs, services = await open_api(key=key, tenant=f"{tenant}-other")
    await mine.put("/secrets/CRM_TOKEN", json={"value": VALUE})

    assert (await theirs.get("/secrets")).json() == {"secrets": []}
    assert (await theirs.delete("/secrets/CRM_TOKEN")).status_code == 404
    assert await services.secrets.read(f"{tenant}-other") == {}
    assert [item["name"] for item in (await mine.get("/secrets")).json()["secrets"]] == [
        "CRM_TOKEN"
    ]
