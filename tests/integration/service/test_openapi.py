"""The OpenAPI document is served and describes every route, streams included."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

EXPECTED = {
    ("post", "/threads"),
    ("post", "/threads/search"),
    ("get", "/threads/{thread_id}/state"),
    ("post", "/threads/{thread_id}/history"),
    ("post", "/threads/{thread_id}/runs"),
    ("post", "/threads/{thread_id}/runs/stream"),
    ("post", "/threads/{thread_id}/runs/wait"),
    ("get", "/threads/{thread_id}/runs/{run_id}/join"),
    ("get", "/threads/{thread_id}/runs/{run_id}/stream"),
    ("post", "/threads/{thread_id}/runs/{run_id}/cancel"),
    ("get", "/threads/{thread_id}/stream"),
    ("post", "/runs/wait"),
    ("post", "/assistants/search"),
    ("get", "/assistants/{assistant_id}/schemas"),
    ("post", "/workflows"),
    ("post", "/workflows/validate"),
    ("get", "/approvals"),
    ("post", "/approvals/{approval_id}/decide"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


def test_openapi_lists_every_route_and_stream_media_type(server: Server) -> None:
    """/openapi.json has every route; stream routes declare text/event-stream responses."""
    spec = httpx.get(server.url + "/openapi.json").json()
    operations = {(m, path) for path, item in spec["paths"].items() for m in item}
    assert operations >= EXPECTED
    for path, item in spec["paths"].items():
        if path.endswith("/stream"):
            for operation in item.values():
                assert "text/event-stream" in operation["responses"]["200"]["content"]
    run_create = spec["paths"]["/threads/{thread_id}/runs"]["post"]
    assert "requestBody" in run_create
