"""Plain calls of both clients: headers, typed results, typed errors and retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from graphwright.client import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    GraphwrightAPIError,
    GraphwrightConnectionError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
)
from tests.unit.client.fakes import BASE_URL, run_json

Handler = Callable[[httpx.Request], httpx.Response]
KINDS = [pytest.param("sync", id="sync"), pytest.param("async", id="async")]


class Recorder:
    """A MockTransport handler answering from a list, recording every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        # A fresh copy: parametrized responses are shared by the sync and async cases.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


async def call(
    kind: str, handler: Handler, resource: str, method: str, *args: Any, **kw: Any
) -> Any:
    """Call ``client.<resource>.<method>(...)`` on a ``kind`` client over ``handler``."""
    transport = httpx.MockTransport(handler)
    options: dict[str, Any] = {"transport": transport, "backoff": 0, "api_key": "k"}
    if kind == "sync":
        with Client(BASE_URL, **options) as client:
            return getattr(getattr(client, resource), method)(*args, **kw)
    async with AsyncClient(BASE_URL, **options) as aclient:
        return await getattr(getattr(aclient, resource), method)(*args, **kw)


def problem(status: int, code: str, **extra: Any) -> httpx.Response:
    """A problem+json response."""
    body = {"status": status, "code": code, "detail": f"{code} happened", **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@pytest.mark.parametrize("kind", KINDS)
async def test_credentials_and_extra_headers_are_sent(kind: str) -> None:
    """The API key goes in X-Api-Key, a bearer token in Authorization, extras as given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    transport = httpx.MockTransport(handler)
    options: dict[str, Any] = {
        "transport": transport,
        "api_key": "key-1",
        "bearer_token": "tok-2",
        "headers": {"X-Trace": "abc"},
    }
    if kind == "sync":
        with Client(BASE_URL, **options) as client:
            assert client.health.healthz().status == "ok"
    else:
        async with AsyncClient(BASE_URL, **options) as aclient:
            assert (await aclient.health.healthz()).status == "ok"

    headers = seen[0].headers
    assert (headers["x-api-key"], headers["authorization"]) == ("key-1", "Bearer tok-2")
    assert headers["x-trace"] == "abc"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("response", "kind_of_error", "code"),
    [
        pytest.param(
            problem(404, "workflow.not_found"), NotFoundError, "workflow.not_found", id="404"
        ),
        pytest.param(problem(409, "run.busy"), ConflictError, "run.busy", id="409"),
        pytest.param(
            problem(400, "request.invalid_json"),
            InvalidRequestError,
            "request.invalid_json",
            id="400",
        ),
        pytest.param(problem(401, "auth.missing"), AuthenticationError, "auth.missing", id="401"),
        pytest.param(problem(500, "internal"), ServerError, "internal", id="500"),
        pytest.param(
            httpx.Response(502, text="bad gateway"), ServerError, "http.502", id="502-not-json"
        ),
        pytest.param(problem(418, "teapot"), GraphwrightAPIError, "teapot", id="other-4xx"),
    ],
)
async def test_error_responses_become_typed_errors(
    kind: str, response: httpx.Response, kind_of_error: type[GraphwrightAPIError], code: str
) -> None:
    """Each status maps to its error class, keeping the problem's code and detail."""
    with pytest.raises(kind_of_error) as caught:
        await call(kind, Recorder(response), "workflows", "get", "w")

    assert type(caught.value) is kind_of_error
    assert (caught.value.status, caught.value.code) == (response.status_code, code)
    assert caught.value.detail


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_publish_carries_typed_problems(kind: str) -> None:
    """A 422 keeps every problem with its pointer, code and suggestion."""
    problems = [
        {"code": "registry.unknown_name", "pointer": "/nodes/a", "message": "no", "suggestion": "b"}
    ]
    recorder = Recorder(problem(422, "workflow.invalid", problems=problems))

    with pytest.raises(InvalidRequestError) as caught:
        await call(kind, recorder, "workflows", "publish", {"id": "w"})

    (found,) = caught.value.problems
    assert (found.pointer, found.code, found.suggestion) == (
        "/nodes/a",
        "registry.unknown_name",
        "b",
    )
    assert json.loads(recorder.requests[0].content) == {"id": "w"}


@pytest.mark.parametrize("kind", KINDS)
async def test_validate_returns_problems_as_a_result(kind: str) -> None:
    """``validate`` answers valid=False with problems instead of raising on workflow.invalid."""
    problems = [{"code": "dsl.wrong_type", "pointer": "", "message": "a workflow is an object"}]
    recorder = Recorder(problem(422, "workflow.invalid", problems=problems))

    result = await call(kind, recorder, "workflows", "validate", '"text"')

    assert not result.valid
    assert [p.code for p in result.problems] == ["dsl.wrong_type"]
    assert recorder.requests[0].content == b'"text"'
    assert recorder.requests[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize("kind", KINDS)
async def test_readiness_failure_is_a_result(kind: str) -> None:
    """``readyz`` answers ready=False with the failed checks on 503 service.not_ready."""
    recorder = Recorder(
        problem(503, "service.not_ready", checks={"redis": {"ok": False}}, failed=["redis"])
    )

    readiness = await call(kind, recorder, "health", "readyz")

    assert (readiness.ready, readiness.failed) == (False, ["redis"])
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("failure", "resource", "method", "args", "attempts", "outcome"),
    [
        pytest.param(
            httpx.ConnectError("refused"),
            "runs",
            "get",
            ("t1", "r1"),
            2,
            "ok",
            id="get-connect-error-retried",
        ),
        pytest.param(
            httpx.ReadError("reset"),
            "runs",
            "get",
            ("t1", "r1"),
            2,
            "ok",
            id="get-read-error-retried",
        ),
        pytest.param(
            problem(503, "db.unavailable"),
            "runs",
            "get",
            ("t1", "r1"),
            2,
            "ok",
            id="get-503-retried",
        ),
        pytest.param(
            httpx.ConnectError("refused"),
            "runs",
            "create",
            ("t1", "wf"),
            2,
            "ok",
            id="post-never-sent-retried",
        ),
        pytest.param(
            httpx.ReadError("reset"),
            "runs",
            "create",
            ("t1", "wf"),
            1,
            "connection",
            id="post-maybe-sent-not-retried",
        ),
        pytest.param(
            problem(503, "db.unavailable"),
            "runs",
            "create",
            ("t1", "wf"),
            1,
            "503",
            id="post-503-not-retried",
        ),
        pytest.param(
            problem(404, "run.not_found"),
            "runs",
            "get",
            ("t1", "r1"),
            1,
            "404",
            id="4xx-never-retried",
        ),
    ],
)
async def test_retries_only_where_safe(
    kind: str,
    failure: httpx.Response | Exception,
    resource: str,
    method: str,
    args: tuple[str, ...],
    attempts: int,
    outcome: str,
) -> None:
    """Connect errors are retried for any call; others only for idempotent ones; 4xx never."""
    recorder = Recorder(failure, httpx.Response(200, json=run_json("running")))

    if outcome == "ok":
        run = await call(kind, recorder, resource, method, *args)
        assert run.run_id == "r1"
    elif outcome == "connection":
        with pytest.raises(GraphwrightConnectionError):
            await call(kind, recorder, resource, method, *args)
    else:
        with pytest.raises(GraphwrightAPIError) as caught:
            await call(kind, recorder, resource, method, *args)
        assert caught.value.status == int(outcome)
    assert len(recorder.requests) == attempts


@pytest.mark.parametrize("kind", KINDS)
async def test_retries_give_up_after_the_limit(kind: str) -> None:
    """An unreachable server costs 1 + retries attempts, then a GraphwrightConnectionError."""
    recorder = Recorder(httpx.ConnectError("refused"))

    with pytest.raises(GraphwrightConnectionError):
        await call(kind, recorder, "health", "healthz")

    assert len(recorder.requests) == 4


@pytest.mark.parametrize("kind", KINDS)
async def test_wait_splits_interrupts_and_errors(kind: str) -> None:
    """``runs.wait`` returns values, typed interrupts and the run named by Content-Location."""
    body = {
        "trail": ["first"],
        "__interrupt__": [
            {"id": "i-1", "value": {"prompt": "Continue?", "decisions": ["approve"]}}
        ],
    }
    headers = {"content-location": "/threads/t9/runs/r9"}
    recorder = Recorder(httpx.Response(200, json=body, headers=headers))

    output = await call(kind, recorder, "runs", "wait", None, "wf", input={"token": "x"})

    assert (output.thread_id, output.run_id) == ("t9", "r9")
    assert output.values == {"trail": ["first"]}
    assert [(i.id, i.value["prompt"]) for i in output.interrupts] == [("i-1", "Continue?")]
    assert output.error is None
    request = recorder.requests[0]
    assert request.url.path == "/runs/wait"
    assert json.loads(request.content) == {"assistant_id": "wf", "input": {"token": "x"}}


@pytest.mark.parametrize("kind", KINDS)
async def test_join_reports_a_failed_run(kind: str) -> None:
    """``runs.join`` turns ``__error__`` into a typed RunError."""
    body = {"__error__": {"error": "node.failed", "message": "boom"}}
    output = await call(kind, Recorder(httpx.Response(200, json=body)), "runs", "join", "t1", "r1")

    assert output.error is not None
    assert (output.error.error, output.error.message) == ("node.failed", "boom")
    assert output.values == {}


@pytest.mark.parametrize("kind", KINDS)
async def test_approval_filters_are_query_parameters(kind: str) -> None:
    """``approvals.list`` sends status, ids, limit and a JSON metadata filter."""
    recorder = Recorder(httpx.Response(200, json=[]))

    found = await call(
        kind, recorder, "approvals", "list", workflow_id="wf", metadata={"client_id": "acme"}
    )

    assert found == []
    params = dict(recorder.requests[0].url.params)
    assert params == {
        "status": "pending",
        "limit": "50",
        "offset": "0",
        "workflow_id": "wf",
        "metadata": '{"client_id": "acme"}',
    }


@pytest.mark.parametrize("kind", KINDS)
async def test_decide_sends_only_given_fields_and_is_not_retried(kind: str) -> None:
    """``approvals.decide`` posts the decision once; a 409 is a ConflictError."""
    recorder = Recorder(problem(409, "approval.already_decided"))

    with pytest.raises(ConflictError):
        await call(kind, recorder, "approvals", "decide", "a/1", "approve", by="ana")

    (request,) = recorder.requests
    assert request.url.raw_path == b"/approvals/a%2F1/decide"
    assert json.loads(request.content) == {"decision": "approve", "by": "ana"}


@pytest.mark.parametrize("kind", KINDS)
async def test_cancel_without_wait_returns_nothing(kind: str) -> None:
    """``runs.cancel`` answers None for 202 and the run when asked to wait."""
    assert await call(kind, Recorder(httpx.Response(202)), "runs", "cancel", "t1", "r1") is None
    waited = await call(
        kind,
        Recorder(httpx.Response(200, json=run_json("interrupted"))),
        "runs",
        "cancel",
        "t1",
        "r1",
        wait=True,
    )
    assert waited.status == "interrupted"


def test_service_unavailable_is_a_server_error() -> None:
    """A 503 is both ServiceUnavailableError and ServerError (callers may catch either)."""
    assert issubclass(ServiceUnavailableError, ServerError)
