"""The OpenAPI document lists each operation's problem responses (built without a server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from graphwright.api import create_app
from graphwright.settings import Settings

PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The application's OpenAPI document (nothing is opened: the lifespan does not run)."""
    settings = Settings(database_url="postgresql://unused@127.0.0.1:1/unused")
    return create_app(settings, start_workers=False).openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``METHOD /path``, operation) of every operation."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_response_is_a_problem(document: dict[str, Any]) -> None:
    """Each 4xx/5xx of every operation is application/problem+json with the Problem schema."""
    checked = 0
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (
                    label,
                    status,
                )
                checked += 1
    assert checked > 100
    assert {"Problem", "ProblemItem"} <= set(document["components"]["schemas"])
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("label", "statuses"),
    [
        ("GET /healthz", {"422"}),
        ("GET /threads/{thread_id}", {"401", "403", "404", "422", "429", "503"}),
        ("POST /workflows/validate", {"400", "401", "403", "413", "422", "429", "503"}),
        ("POST /threads", {"400", "401", "403", "404", "409", "413", "422", "429", "503"}),
        (
            "POST /threads/{thread_id}/runs/{run_id}/cancel",
            {"401", "403", "404", "409", "422", "429", "503"},
        ),
    ],
    ids=["no-input", "path-id", "body", "body-and-declared", "path-and-declared"],
)
def test_statuses_follow_the_route(
    document: dict[str, Any], label: str, statuses: set[str]
) -> None:
    """422 always; 400/413 with a body, 404 with a path id, 503 with the database, 401/403
    and 429 unless public; plus declared."""
    operation = dict(operations(document))[label]
    assert {s for s in operation["responses"] if int(s) >= 400} == statuses


def test_unavailable_requires_retry_after(document: dict[str, Any]) -> None:
    """Every documented 503 says it carries a Retry-After header."""
    found = [op["responses"]["503"] for _, op in operations(document) if "503" in op["responses"]]
    assert len(found) > 30
    for response in found:
        assert response["headers"]["Retry-After"]["required"] is True


def test_declared_status_keeps_its_description(document: dict[str, Any]) -> None:
    """A status a route declares keeps the route's words (POST /threads: 409 thread.exists)."""
    conflict = dict(operations(document))["POST /threads"]["responses"]["409"]
    assert "thread.exists" in conflict["description"]
