"""Bad input on every endpoint family gets a 4xx problem response, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

# Fixed, not random: parametrize ids must be the same in every xdist worker.
MISSING = "00000000-0000-4000-8000-00000000dead"

# (method, path, body or raw bytes, expected status)
CASES: list[tuple[str, str, Any, int]] = [
    ("POST", "/threads/{thread}/runs", b"{not json", 400),
    ("POST", "/threads/{thread}/runs", {"assistant_id": 5}, 422),
    ("POST", "/threads/{thread}/runs", {"assistant_id": "asset-discovery", "input": "x"}, 422),
    (
        "POST",
        "/threads/{thread}/runs",
        {"assistant_id": "asset-discovery", "input": {"client_id": 7}},
        422,
    ),
    (
        "POST",
        "/threads/{thread}/runs",
        {"assistant_id": "asset-discovery", "stream_mode": ["events"]},
        422,
    ),
    (
        "POST",
        "/threads/{thread}/runs",
        {"assistant_id": "asset-discovery", "multitask_strategy": "sometimes"},
        422,
    ),
    ("POST", "/threads/{thread}/runs", {"assistant_id": "no-such-workflow"}, 404),
    ("POST", f"/threads/{MISSING}/runs", {"assistant_id": "asset-discovery"}, 404),
    ("POST", "/threads/{thread}/runs/wait", b"[]", 422),
    ("POST", "/threads/{thread}/runs/stream", {"assistant_id": ["x"]}, 422),
    ("GET", f"/threads/{{thread}}/runs/{MISSING}", None, 404),
    ("GET", f"/threads/{{thread}}/runs/{MISSING}/join", None, 404),
    ("GET", f"/threads/{{thread}}/runs/{MISSING}/stream", None, 404),
    ("POST", f"/threads/{{thread}}/runs/{MISSING}/cancel", None, 404),
    ("POST", "/threads/{thread}/runs/x/cancel?action=explode", None, 422),
    ("GET", "/threads/{thread}/runs?limit=-1", None, 422),
    ("DELETE", f"/threads/{{thread}}/runs/{MISSING}", None, 404),
    ("POST", "/runs", {"assistant_id": "asset-discovery", "after_seconds": -5}, 422),
    ("POST", "/runs/wait", b"\xff\xfe", 400),
    ("POST", "/threads", b"{", 400),
    ("GET", f"/threads/{MISSING}", None, 404),
    ("GET", f"/threads/{MISSING}/state", None, 404),
    ("POST", "/threads/search", {"limit": "many"}, 422),
    ("GET", "/assistants/no-such-workflow", None, 404),
    ("POST", "/assistants/search", {"limit": -3}, 422),
    ("POST", "/workflows/validate", b"nope", 400),
    ("POST", "/workflows", {"dsl": "graphwright/v1"}, 422),
    ("GET", "/workflows/no-such-workflow", None, 404),
    ("GET", "/approvals/no-such-approval", None, 404),
    ("POST", "/approvals/no-such-approval/decide", {"decision": "approve"}, 404),
    ("GET", "/no/such/route", None, 404),
]


@pytest.fixture(scope="module")
def thread_id(server: Server) -> str:
    """A thread to aim the thread-scoped requests at."""
    response = httpx.post(server.url + "/threads", json={})
    assert response.status_code == 200
    return str(response.json()["thread_id"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    CASES,
    ids=[f"{m} {p} -> {s} #{i}" for i, (m, p, _, s) in enumerate(CASES)],
)
def test_bad_request_is_a_problem(
    server: Server, thread_id: str, method: str, path: str, body: Any, status: int
) -> None:
    """The response is the expected 4xx with a problem+json body carrying a code."""
    url = server.url + path.format(thread=thread_id)
    if isinstance(body, bytes):
        response = httpx.request(
            method, url, content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = httpx.request(method, url, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert isinstance(problem["code"], str)
    assert problem["code"]
    assert problem["detail"]


@pytest.mark.parametrize("path", ["/threads", "/runs/wait", "/workflows/validate"])
def test_body_that_is_not_utf8_is_invalid_json(server: Server, path: str) -> None:
    """A JSON body that is not UTF-8 text is 400 request.invalid_json, as any body not JSON."""
    response = httpx.post(
        server.url + path, content=b'{"a": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "request.invalid_json"


def test_oversize_body_is_413(server: Server, thread_id: str) -> None:
    """A body over GW_MAX_BODY_BYTES is refused with 413 before it is parsed."""
    big = {"assistant_id": "asset-discovery", "input": {"client_id": "x" * 2_000_000}}
    response = httpx.post(server.url + f"/threads/{thread_id}/runs", json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"


def test_oversize_chunked_body_is_413(server: Server, thread_id: str) -> None:
    """A chunked body (no Content-Length) over the limit is refused with 413 too."""

    def chunks() -> Any:
        for _ in range(300):
            yield b"x" * 8192

    response = httpx.post(
        server.url + f"/threads/{thread_id}/runs",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
