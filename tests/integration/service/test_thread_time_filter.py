"""Thread search and count filtered by creation and update time (graphwright's extension)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server (the SDK has no time filters)."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as session:
        yield session


async def found(http: httpx.AsyncClient, mark: str, **filters: Any) -> list[str]:
    """Ids of this test's threads matching ``filters``, oldest first."""
    body = {"metadata": {"batch": mark}, "sort_by": "created_at", "sort_order": "asc", **filters}
    response = await http.post("/threads/search", json={**body, "limit": 100})
    assert response.status_code == 200, response.text
    return [t["thread_id"] for t in response.json()]


async def test_search_and_count_filter_by_created_and_updated_time(
    http: httpx.AsyncClient,
) -> None:
    """created_after/updated_after are inclusive, *_before exclusive; count agrees with search."""
    mark = secrets.token_hex(6)
    made = []
    for i in range(3):
        response = await http.post("/threads", json={"metadata": {"batch": mark, "i": i}})
        made.append(response.json())
    a, b, c = (t["thread_id"] for t in made)
    b_created, c_created = made[1]["created_at"], made[2]["created_at"]

    assert await found(http, mark) == [a, b, c]
    assert await found(http, mark, created_after=b_created) == [b, c]
    assert await found(http, mark, created_before=b_created) == [a]
    assert await found(http, mark, created_after=b_created, created_before=c_created) == [b]
    count = await http.post(
        "/threads/count", json={"metadata": {"batch": mark}, "created_after": b_created}
    )
    assert count.json() == 2

    patched = (await http.patch(f"/threads/{a}", json={"metadata": {"seen": True}})).json()
    assert await found(http, mark, updated_after=patched["updated_at"]) == [a]
    assert await found(http, mark, updated_before=patched["updated_at"]) == [b, c]
    # Offsets other than Z name the same instant.
    assert await found(http, mark, created_after=b_created.replace("+00:00", "Z")) == [b, c]
    assert await found(http, mark, created_after="2000-01-01T05:00:00+05:00") == [a, b, c]
    assert await found(http, mark, created_before="2000-01-01T00:00:00-08:00") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("created_after", "2026-01-01T00:00:00", id="no-offset"),
        pytest.param("updated_before", "yesterday", id="not-a-time"),
        pytest.param("created_before", "9999-12-31T23:59:59-05:00", id="past-the-calendar"),
        pytest.param("updated_after", "0001-01-01T00:00:00+05:00", id="before-the-calendar"),
    ],
)
async def test_bad_times_are_422_problems_at_their_key(
    http: httpx.AsyncClient, field: str, value: str
) -> None:
    """A time without an offset, or that cannot be put in UTC, is a 422 pointing at its key."""
    for path in ("/threads/search", "/threads/count"):
        response = await http.post(path, json={field: value})

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert f"/{field}" in [p.get("pointer") for p in response.json()["problems"]]
