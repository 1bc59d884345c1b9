"""One access-log record per request, with its route template, status and request id."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from graphwright.api.access_log import AccessLog
from graphwright.logs import fields_of


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/mine")
    async def mine(request: Request) -> dict[str, str]:
        request.state.principal = SimpleNamespace(id="key-1", tenant="acme")
        return {}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    app.add_middleware(AccessLog)
    return app


async def _get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        return await http.get(path, headers=headers)


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [fields_of(r) for r in caplog.records if r.name == "graphwright.access"]


async def test_one_line_per_request_with_the_path_template(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request logs one line: method, route template, status, duration, no principal."""
    caplog.set_level(logging.INFO, logger="graphwright.access")
    response = await _get("/things/t-123")
    [line] = _lines(caplog)
    assert response.status_code == 200
    assert line["method"] == "GET"
    assert line["path"] == "/things/{thing_id}"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["tenant"] is None
    assert line["principal"] is None
    assert line["request_id"] == response.headers["x-request-id"]


async def test_principal_set_by_the_request_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The tenant and id of request.state.principal are logged."""
    caplog.set_level(logging.INFO, logger="graphwright.access")
    await _get("/mine")
    [line] = _lines(caplog)
    assert (line["tenant"], line["principal"]) == ("acme", "key-1")


async def test_unmatched_path_is_logged_as_sent(caplog: pytest.LogCaptureFixture) -> None:
    """A path no route matches is logged as it was sent (it has no template)."""
    caplog.set_level(logging.INFO, logger="graphwright.access")
    await _get("/no/such/place")
    [line] = _lines(caplog)
    assert (line["path"], line["status"]) == ("/no/such/place", 404)


async def test_unhandled_error_is_logged_as_500(caplog: pytest.LogCaptureFixture) -> None:
    """A request whose handler raises is logged with status 500."""
    caplog.set_level(logging.INFO, logger="graphwright.access")
    response = await _get("/broken")
    lines = _lines(caplog)
    assert response.status_code == 500
    assert [line["status"] for line in lines] == [500]


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123", True),
        ("Root=1-67891233-abcdef012345678912345678", True),
        ("has space", False),
        ("x" * 200, False),
        ("<script>", False),
    ],
    ids=["token", "trace-header", "space", "too-long", "markup"],
)
async def test_sane_request_id_is_kept_and_others_replaced(
    caplog: pytest.LogCaptureFixture, incoming: str, kept: bool
) -> None:
    """A sane X-Request-Id is echoed and logged; any other is replaced by a new id."""
    caplog.set_level(logging.INFO, logger="graphwright.access")
    response = await _get("/things/1", headers={"X-Request-Id": incoming})
    [line] = _lines(caplog)
    echoed = response.headers["x-request-id"]
    assert (echoed == incoming) is kept
    assert line["request_id"] == echoed
    assert len(echoed) <= 128


async def test_requests_without_an_id_get_distinct_ids() -> None:
    """Two requests without X-Request-Id get two different ids."""
    first = await _get("/things/1")
    second = await _get("/things/1")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
