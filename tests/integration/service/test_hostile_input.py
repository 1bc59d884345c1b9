"""Text and numbers PostgreSQL cannot take are a 422 with a pointer, never a 500 or a bad row.

NUL characters and lone surrogates (``"\\ud800"`` in JSON) in any body, path or
query string, bodies nested deeper than 64 levels and out-of-range numbers are
refused before anything is stored, so the tenant's listings keep working.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from tests.integration.service.conftest import Server
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"
# Fixed, not random: parametrize ids must be the same in every xdist worker.
MISSING = "00000000-0000-4000-8000-00000000dead"
NUL = '"a\\u0000b"'  # JSON text of strings PostgreSQL cannot store
SURROGATE = '"a\\ud800b"'
DEEP = 300


def nested(levels: int) -> str:
    """JSON text of ``levels`` nested objects (``{"k":{"k":..."x"}}``)."""
    return '{"k":' * levels + '"x"' + "}" * levels


# method, path, JSON body text or None, code, pointer of the first problem
TEXT_CASES = [
    pytest.param(
        "POST",
        "/threads",
        f'{{"metadata":{{"a":{NUL}}}}}',
        "invalid_text",
        "/metadata/a",
        id="create-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads",
        f'{{"metadata":{{"a":{SURROGATE}}}}}',
        "invalid_text",
        "/metadata/a",
        id="create-metadata-surrogate",
    ),
    pytest.param(
        "POST",
        "/threads",
        '{"metadata":{"a\\u0000":1}}',
        "invalid_text",
        "/metadata/a\\u0000",
        id="create-metadata-key-nul",
    ),
    pytest.param(
        "POST",
        "/threads",
        f'{{"metadata":{nested(DEEP)}}}',
        "too_deep",
        "/metadata" + "/k" * 63,
        id="create-metadata-deep",
    ),
    pytest.param(
        "POST",
        "/threads",
        '{"metadata":' + "[" * 100_000 + "]" * 100_000 + "}",
        "too_deep",
        "",
        id="create-too-deep-to-parse",
    ),
    pytest.param(
        "POST",
        "/workflows/validate",
        "[" * 100_000 + "]" * 100_000,
        "too_deep",
        "",
        id="validate-too-deep-to-parse",
    ),
    pytest.param(
        "POST",
        "/threads",
        f'{{"thread_id":{NUL}}}',
        "invalid_text",
        "/thread_id",
        id="create-thread-id-nul",
    ),
    pytest.param(
        "PATCH",
        "/threads/{thread}",
        f'{{"metadata":{{"a":{{"b":{NUL}}}}}}}',
        "invalid_text",
        "/metadata/a/b",
        id="patch-metadata-nul",
    ),
    pytest.param(
        "PATCH",
        "/threads/{thread}",
        f'{{"metadata":{{"a":{SURROGATE}}}}}',
        "invalid_text",
        "/metadata/a",
        id="patch-metadata-surrogate",
    ),
    pytest.param(
        "PATCH",
        "/threads/{thread}",
        f'{{"metadata":{nested(DEEP)}}}',
        "too_deep",
        "/metadata" + "/k" * 63,
        id="patch-metadata-deep",
    ),
    pytest.param(
        "POST",
        "/threads/search",
        f'{{"metadata":{{"a":{NUL}}}}}',
        "invalid_text",
        "/metadata/a",
        id="search-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads/search",
        f'{{"metadata":{{"a":{SURROGATE}}}}}',
        "invalid_text",
        "/metadata/a",
        id="search-metadata-surrogate",
    ),
    pytest.param(
        "POST",
        "/threads/search",
        f'{{"metadata":{nested(DEEP)}}}',
        "too_deep",
        "/metadata" + "/k" * 63,
        id="search-metadata-deep",
    ),
    pytest.param(
        "POST",
        "/threads/search",
        f'{{"ids":[{NUL}]}}',
        "invalid_text",
        "/ids/0",
        id="search-ids-nul",
    ),
    pytest.param(
        "POST",
        "/threads/count",
        f'{{"metadata":{{"a":{NUL}}}}}',
        "invalid_text",
        "/metadata/a",
        id="count-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":"svc-chain","input":{{"token":{NUL}}}}}',
        "invalid_text",
        "/input/token",
        id="wait-input-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":"svc-chain","metadata":{{"m":{NUL}}}}}',
        "invalid_text",
        "/metadata/m",
        id="wait-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":"svc-chain","config":{{"configurable":{{"c":{NUL}}}}}}}',
        "invalid_text",
        "/config/configurable/c",
        id="wait-config-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":"svc-chain","context":{{"c":{SURROGATE}}}}}',
        "invalid_text",
        "/context/c",
        id="wait-context-surrogate",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":{NUL}}}',
        "invalid_text",
        "/assistant_id",
        id="wait-assistant-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/wait",
        f'{{"assistant_id":"svc-chain","input":{nested(DEEP)}}}',
        "too_deep",
        "/input" + "/k" * 63,
        id="wait-input-deep",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs",
        f'{{"assistant_id":"svc-chain","metadata":{{"m":{NUL}}}}}',
        "invalid_text",
        "/metadata/m",
        id="runs-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/runs/stream",
        f'{{"assistant_id":"svc-chain","input":{{"token":{SURROGATE}}}}}',
        "invalid_text",
        "/input/token",
        id="stream-input-surrogate",
    ),
    pytest.param(
        "POST",
        "/runs/wait",
        f'{{"assistant_id":"svc-chain","metadata":{{"m":{NUL}}}}}',
        "invalid_text",
        "/metadata/m",
        id="stateless-metadata-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/state",
        f'{{"values":{{"token":{NUL}}}}}',
        "invalid_text",
        "/values/token",
        id="state-values-nul",
    ),
    pytest.param(
        "POST",
        "/threads/{thread}/history",
        f'{{"before":{NUL}}}',
        "invalid_text",
        "/before",
        id="history-before-nul",
    ),
    pytest.param(
        "POST",
        "/assistants/search",
        f'{{"metadata":{{"a":{NUL}}}}}',
        "invalid_text",
        "/metadata/a",
        id="assistants-search-nul",
    ),
    pytest.param(
        "POST",
        f"/approvals/{MISSING}/decide",
        f'{{"decision":"approve","comment":{NUL}}}',
        "invalid_text",
        "/comment",
        id="decide-comment-nul",
    ),
    pytest.param("GET", "/threads/%00x", None, "invalid_text", "/thread_id", id="path-thread-nul"),
    pytest.param(
        "GET", "/threads/x%00/state", None, "invalid_text", "/thread_id", id="path-thread-state-nul"
    ),
    pytest.param(
        "GET", "/threads/{thread}/runs/%00x", None, "invalid_text", "/run_id", id="path-run-nul"
    ),
    pytest.param(
        "GET",
        "/threads/{thread}/runs/%00x/join",
        None,
        "invalid_text",
        "/run_id",
        id="path-run-join-nul",
    ),
    pytest.param(
        "GET", "/workflows/%00x", None, "invalid_text", "/workflow_id", id="path-workflow-nul"
    ),
    pytest.param(
        "GET", "/assistants/%00x", None, "invalid_text", "/assistant_id", id="path-assistant-nul"
    ),
    pytest.param(
        "GET", "/approvals/%00x", None, "invalid_text", "/approval_id", id="path-approval-nul"
    ),
    pytest.param(
        "GET",
        "/approvals?thread_id=%00x",
        None,
        "invalid_text",
        "/thread_id",
        id="query-approvals-thread-nul",
    ),
    pytest.param(
        "GET",
        "/approvals?metadata.a=%00",
        None,
        "invalid_text",
        "/metadata.a",
        id="query-approvals-metadata-key-nul",
    ),
    pytest.param(
        "GET",
        "/approvals?metadata=%7B%22a%22%3A%22%5Cud800%22%7D",
        None,
        "invalid_text",
        "/metadata/a",
        id="query-approvals-metadata-json-surrogate",
    ),
    pytest.param(
        "GET",
        "/approvals?metadata=%7B%22a%22%3A%22%5Cu0000%22%7D",
        None,
        "invalid_text",
        "/metadata/a",
        id="query-approvals-metadata-json-nul",
    ),
    pytest.param(
        "GET", "/approvals?x%00=1", None, "invalid_text", "/x\\u0000", id="query-name-nul"
    ),
    pytest.param(
        "GET",
        "/threads/{thread}/stream?last_event_id=%00",
        None,
        "invalid_text",
        "/last_event_id",
        id="query-last-event-id-nul",
    ),
]

# method, path, JSON body text or None, pointer
NUMBER_CASES = [
    pytest.param("GET", "/approvals?offset=1e20", None, "/offset", id="approvals-offset-1e20"),
    pytest.param(
        "GET",
        "/approvals?offset=100000000000000000000",
        None,
        "/offset",
        id="approvals-offset-huge",
    ),
    pytest.param("GET", "/approvals?offset=-1", None, "/offset", id="approvals-offset-negative"),
    pytest.param(
        "GET", "/approvals?limit=100000000000000000000", None, "/limit", id="approvals-limit-huge"
    ),
    pytest.param("GET", "/approvals?limit=-1", None, "/limit", id="approvals-limit-negative"),
    pytest.param(
        "GET", "/approvals?older_than=1e300", None, "/older_than", id="approvals-older-than-1e300"
    ),
    pytest.param(
        "GET", "/approvals?older_than=inf", None, "/older_than", id="approvals-older-than-inf"
    ),
    pytest.param(
        "GET", "/approvals?older_than=nan", None, "/older_than", id="approvals-older-than-nan"
    ),
    pytest.param(
        "GET", "/approvals?older_than=-1", None, "/older_than", id="approvals-older-than-negative"
    ),
    pytest.param(
        "GET", "/approvals?newer_than=1e300", None, "/newer_than", id="approvals-newer-than-1e300"
    ),
    pytest.param(
        "GET",
        "/threads/{thread}/runs?offset=100000000000000000000",
        None,
        "/offset",
        id="runs-offset-huge",
    ),
    pytest.param(
        "GET", "/threads/{thread}/runs?offset=-1", None, "/offset", id="runs-offset-negative"
    ),
    pytest.param("GET", "/threads/{thread}/runs?limit=1e20", None, "/limit", id="runs-limit-1e20"),
    pytest.param(
        "POST", "/threads/search", '{"offset":1e20}', "/offset", id="threads-search-offset-1e20"
    ),
    pytest.param(
        "POST",
        "/threads/search",
        '{"offset":100000000000000000000}',
        "/offset",
        id="threads-search-offset-huge",
    ),
    pytest.param(
        "POST", "/threads/search", '{"offset":-1}', "/offset", id="threads-search-offset-negative"
    ),
    pytest.param(
        "POST", "/threads/search", '{"limit":1e20}', "/limit", id="threads-search-limit-1e20"
    ),
    pytest.param(
        "POST", "/threads/{thread}/history", '{"limit":1e20}', "/limit", id="history-limit-1e20"
    ),
    pytest.param(
        "POST", "/threads/{thread}/history", '{"limit":-1}', "/limit", id="history-limit-negative"
    ),
    pytest.param(
        "POST",
        "/assistants/search",
        '{"offset":1e20}',
        "/offset",
        id="assistants-search-offset-1e20",
    ),
    pytest.param(
        "POST",
        "/assistants/search",
        '{"offset":100000000000000000000}',
        "/offset",
        id="assistants-search-offset-huge",
    ),
    pytest.param(
        "POST",
        "/assistants/svc-chain/versions",
        '{"offset":100000000000000000000}',
        "/offset",
        id="assistants-versions-offset-huge",
    ),
    pytest.param(
        "POST",
        "/assistants/svc-chain/versions",
        '{"limit":-1}',
        "/limit",
        id="assistants-versions-limit-negative",
    ),
    pytest.param(
        "GET",
        "/assistants/svc-chain/schemas?version=100000000000000000000",
        None,
        "/version",
        id="assistant-schemas-version-huge",
    ),
    pytest.param(
        "GET",
        "/assistants/svc-chain/graph?version=100000000000000000000",
        None,
        "/version",
        id="assistant-graph-version-huge",
    ),
    pytest.param(
        "GET",
        "/workflows/svc-chain?version=100000000000000000000",
        None,
        "/version",
        id="workflow-version-huge",
    ),
    pytest.param(
        "GET",
        "/workflows/svc-chain/graph?version=-1",
        None,
        "/version",
        id="workflow-graph-version-negative",
    ),
    pytest.param(
        "POST",
        "/runs",
        '{"assistant_id":"svc-chain","after_seconds":1e300}',
        "/after_seconds",
        id="run-after-seconds-1e300",
    ),
    pytest.param(
        "POST",
        "/runs",
        '{"assistant_id":"svc-chain","after_seconds":NaN}',
        "/after_seconds",
        id="run-after-seconds-nan",
    ),
    pytest.param(
        "POST",
        "/runs",
        '{"assistant_id":"svc-chain","after_seconds":-1}',
        "/after_seconds",
        id="run-after-seconds-negative",
    ),
]


@pytest.fixture(scope="module")
def thread_id(server: Server) -> str:
    """A thread of the svc-chain workflow to aim thread-scoped requests at."""
    response = httpx.post(server.url + "/threads", json={"metadata": {"graph_id": "svc-chain"}})
    assert response.status_code == 200
    return str(response.json()["thread_id"])


def send(server: Server, method: str, path: str, body: str | None) -> httpx.Response:
    """Send ``body`` (JSON text, sent byte for byte) on a fresh connection."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    content = body.encode() if body is not None else None
    return httpx.request(method, server.url + path, content=content, headers=headers, timeout=30)


def assert_problem(response: httpx.Response, code: str, pointer: str) -> None:
    """A 422 problem+json with ``code`` whose first problem points at ``pointer``."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == 422
    assert problem["problems"][0]["pointer"] == pointer
    assert problem["detail"]


def assert_tenant_healthy(server: Server, thread_id: str) -> None:
    """The tenant's thread search and count, the thread and the approvals inbox answer 200."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/threads/search", json={}).status_code == 200
        assert http.post("/threads/search", json={"select": ["thread_id", "metadata"]}).is_success
        assert http.post("/threads/count", json={}).status_code == 200
        assert http.get(f"/threads/{thread_id}").status_code == 200
        assert http.get("/approvals").status_code == 200
        assert http.get("/approvals", params={"status": "any"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "pointer"),
    TEXT_CASES,
)
def test_unstorable_text_is_422_with_pointer(
    server: Server,
    thread_id: str,
    method: str,
    path: str,
    body: str | None,
    code: str,
    pointer: str,
) -> None:
    """NUL, lone surrogates and deep nesting: 422 request.* at their place; the tenant is fine."""
    response = send(server, method, path.format(thread=thread_id), body)
    assert_problem(response, f"request.{code}", pointer)
    json.dumps(response.json()).encode("utf-8")  # nothing unencodable echoed back
    assert_tenant_healthy(server, thread_id)


@pytest.mark.parametrize(
    ("method", "path", "body", "pointer"),
    NUMBER_CASES,
)
def test_out_of_range_number_is_422(
    server: Server, thread_id: str, method: str, path: str, body: str | None, pointer: str
) -> None:
    """Offsets, limits, ages, versions and delays out of range are 422 request.invalid."""
    response = send(server, method, path.format(thread=thread_id), body)
    assert_problem(response, "request.invalid", pointer)


def test_in_range_numbers_still_work(server: Server, thread_id: str) -> None:
    """The largest allowed offset and age are accepted (empty pages, not errors)."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        page = http.get("/approvals", params={"offset": 1_000_000_000, "older_than": 3.1e9})
        assert page.status_code == 200, page.text
        assert page.json() == []
        runs = http.get(f"/threads/{thread_id}/runs", params={"offset": 1_000_000_000})
        assert runs.status_code == 200, runs.text
        found = http.post("/threads/search", json={"offset": 1_000_000_000})
        assert found.status_code == 200, found.text
        assert found.json() == []


def test_deepest_allowed_metadata_is_stored(server: Server, thread_id: str) -> None:
    """Metadata 63 levels deep (64 with the body) is stored and read back; the tenant is fine."""
    response = send(server, "POST", "/threads", f'{{"metadata":{nested(63)}}}')
    assert response.status_code == 200, response.text
    created = response.json()
    read = httpx.get(f"{server.url}/threads/{created['thread_id']}", timeout=30)
    assert read.status_code == 200
    assert read.json()["metadata"]["k"]["k"]["k"]
    assert_tenant_healthy(server, thread_id)


def workflow_text(workflow_id: str, place: str, value_json: str) -> str:
    """JSON text of a valid workflow whose ``place`` key is replaced by ``value_json``."""
    document: dict[str, Any] = chain(workflow_id, ["one"])
    document[place] = "__HOLE__"
    return json.dumps(document).replace('"__HOLE__"', value_json)


WORKFLOW_CASES = [
    pytest.param("title", NUL, "dsl.invalid_text", "/title", id="title-nul"),
    pytest.param("title", SURROGATE, "dsl.invalid_text", "/title", id="title-surrogate"),
    pytest.param("description", NUL, "dsl.invalid_text", "/description", id="description-nul"),
    pytest.param(
        "state",
        '{"a\\u0000":{"type":"string"}}',
        "dsl.invalid_text",
        "/state/a\\u0000",
        id="state-key-nul",
    ),
    pytest.param(
        "description", nested(DEEP), "dsl.too_deep", "/description" + "/k" * 63, id="deep"
    ),
]


@pytest.mark.parametrize(
    ("place", "value_json", "code", "pointer"),
    WORKFLOW_CASES,
)
def test_validate_refuses_what_publish_refuses(
    server: Server, thread_id: str, place: str, value_json: str, code: str, pointer: str
) -> None:
    """/workflows/validate and publish both answer 422 workflow.invalid with the same problem."""
    workflow_id = f"hostile-{secrets.token_hex(4)}"
    text = workflow_text(workflow_id, place, value_json)
    validated = send(server, "POST", "/workflows/validate", text)
    published = send(server, "POST", "/workflows", text)
    for response in (validated, published):
        assert_problem(response, "workflow.invalid", pointer)
        assert response.json()["problems"][0]["code"] == code
    assert validated.json()["problems"] == published.json()["problems"]
    missing = httpx.get(f"{server.url}/workflows/{workflow_id}", timeout=30)
    assert missing.status_code == 404
    assert httpx.get(f"{server.url}/workflows", timeout=30).status_code == 200
    assert_tenant_healthy(server, thread_id)


def test_clean_workflow_text_still_publishes(server: Server) -> None:
    """A document with ordinary Unicode text validates and publishes as before."""
    workflow_id = f"hostile-ok-{secrets.token_hex(4)}"
    text = workflow_text(workflow_id, "title", json.dumps("Ünïcødé ✓ 🚀"))
    assert send(server, "POST", "/workflows/validate", text).status_code == 200
    published = send(server, "POST", "/workflows", text)
    assert published.status_code == 201, published.text
    assert published.json()["title"] == "Ünïcødé ✓ 🚀"
