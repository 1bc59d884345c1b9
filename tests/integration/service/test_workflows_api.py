"""graphwright's ``/workflows`` endpoints (validate, publish, read, render) on a live server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient

from tests.integration.service.conftest import Server

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"


def document(workflow_id: str, prompt: str = "Ship it?") -> dict[str, Any]:
    """A small valid workflow: normalise assets, then an approval gate."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "title": "API test",
        "description": "Published by the workflows API tests.",
        "state": {
            "client_id": {"type": "string"},
            "raw_assets": {"type": "array", "items": {"type": "object"}, "default": []},
            "assets": {"type": "array", "items": {"type": "object"}, "default": []},
            "review": {"type": "object", "nullable": True},
        },
        "input": ["client_id", "raw_assets"],
        "nodes": {
            "normalise": {"kind": "function", "ref": "discovery.normalise"},
            "gate": {"kind": "approval", "prompt": prompt, "writes": "review"},
        },
        "edges": [
            {"from": "START", "to": "normalise"},
            {"from": "normalise", "to": "gate"},
            {"from": "gate", "to": "END"},
        ],
    }


def broken(workflow_id: str) -> dict[str, Any]:
    """A structurally valid document with three problems (typo'd ref, bad edge, no start)."""
    doc = document(workflow_id)
    doc["nodes"]["normalise"]["ref"] = "discovery.normalis"
    doc["edges"][0]["to"] = "normalize_assets"
    return doc


@pytest.fixture
def workflow_id() -> str:
    """A workflow id no other test publishes."""
    return f"wf-api-{secrets.token_hex(4)}"


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on the live server."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as session:
        yield session


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a problem+json response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["detail"]
    return body


async def test_validate_a_valid_document(http: httpx.AsyncClient, workflow_id: str) -> None:
    """validate answers 200 valid for a good document and publishes nothing."""
    response = await http.post("/workflows/validate", json=document(workflow_id))

    assert response.status_code == 200
    assert response.json() == {"valid": True, "workflow_id": workflow_id}
    assert_problem(await http.get(f"/workflows/{workflow_id}"), 404, "workflow.not_found")


async def test_validate_lists_every_problem_with_pointers(
    http: httpx.AsyncClient, workflow_id: str
) -> None:
    """validate answers 422 with every problem: code, JSON pointer, message, suggestion."""
    response = await http.post("/workflows/validate", json=broken(workflow_id))

    body = assert_problem(response, 422, "workflow.invalid")
    problems = {p["pointer"]: p for p in body["problems"]}
    assert problems["/nodes/normalise/ref"]["code"] == "registry.unknown_name"
    assert problems["/nodes/normalise/ref"]["suggestion"] == "discovery.normalise"
    assert problems["/edges/0/to"]["code"] == "edge.unknown_node"
    assert len(body["problems"]) >= 3
    assert all(set(p) >= {"code", "pointer", "message"} for p in body["problems"])


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [
        pytest.param({"dsl": "graphwright/v1"}, "/id", "dsl.missing", id="missing-fields"),
        pytest.param([1, 2], "", "dsl.wrong_type", id="array"),
        pytest.param("{}", "", "dsl.wrong_type", id="json-string"),
        pytest.param(
            {**document("wf-typed"), "state": {"client_id": {"type": "strin"}}},
            "/state/client_id/type",
            "dsl.invalid_value",
            id="bad-type",
        ),
    ],
)
async def test_validate_refuses_malformed_documents(
    http: httpx.AsyncClient, body: Any, pointer: str, code: str
) -> None:
    """Documents of the wrong shape are 422 problems pointing at the offending place."""
    response = await http.post("/workflows/validate", json=body)

    problems = assert_problem(response, 422, "workflow.invalid")["problems"]
    assert {"pointer": pointer, "code": code} in [
        {"pointer": p["pointer"], "code": p["code"]} for p in problems
    ], problems


async def test_invalid_json_is_a_400_problem(http: httpx.AsyncClient) -> None:
    """A body that is not JSON is 400 request.invalid_json on validate and publish."""
    for path in ("/workflows/validate", "/workflows"):
        response = await http.post(
            path, content=b'{"dsl": ', headers={"content-type": "application/json"}
        )
        assert_problem(response, 400, "request.invalid_json")


async def test_publish_versions_and_read_back(http: httpx.AsyncClient, workflow_id: str) -> None:
    """publish is 201 for new content, 200 (created false) for the same; versions count up."""
    first = await http.post("/workflows", json=document(workflow_id))
    assert first.status_code == 201
    v1 = first.json()
    assert v1["workflow_id"] == workflow_id
    assert (v1["version"], v1["created"]) == (1, True)
    assert len(v1["content_hash"]) == 64
    assert first.headers["location"] == f"/workflows/{workflow_id}?version=1"

    again = await http.post("/workflows", json=document(workflow_id))
    assert again.status_code == 200
    assert (again.json()["version"], again.json()["created"]) == (1, False)
    assert again.json()["content_hash"] == v1["content_hash"]

    second = await http.post("/workflows", json=document(workflow_id, prompt="Really ship it?"))
    assert second.status_code == 201
    assert second.json()["version"] == 2

    latest = (await http.get(f"/workflows/{workflow_id}")).json()
    assert latest["version"] == 2
    assert latest["document"]["nodes"]["gate"]["prompt"] == "Really ship it?"
    older = (await http.get(f"/workflows/{workflow_id}", params={"version": 1})).json()
    assert older["document"]["nodes"]["gate"]["prompt"] == "Ship it?"
    assert older["content_hash"] == v1["content_hash"]
    versions = (await http.get(f"/workflows/{workflow_id}/versions")).json()
    assert [v["version"] for v in versions] == [1, 2]
    listed = {w["workflow_id"]: w for w in (await http.get("/workflows")).json()}
    assert listed[workflow_id]["version"] == 2
    assert "asset-discovery" in listed


async def test_published_workflow_is_an_assistant(
    http: httpx.AsyncClient, client: LangGraphClient, workflow_id: str
) -> None:
    """A published workflow is an assistant at its latest version, and can be run."""
    await http.post("/workflows", json=document(workflow_id))
    await http.post("/workflows", json=document(workflow_id, prompt="Second?"))

    assistant = await client.assistants.get(workflow_id)
    assert (assistant["graph_id"], assistant["version"], assistant["name"]) == (
        workflow_id,
        2,
        "API test",
    )
    assert [v["version"] for v in await client.assistants.get_versions(workflow_id)] == [2, 1]
    result = await client.runs.wait(None, workflow_id, input={"client_id": "acme"})
    assert isinstance(result, dict)
    assert result["__interrupt__"][0]["value"]["prompt"] == "Second?"


async def test_publish_refuses_invalid_documents(http: httpx.AsyncClient, workflow_id: str) -> None:
    """publish answers 422 with every problem and stores nothing."""
    response = await http.post("/workflows", json=broken(workflow_id))

    body = assert_problem(response, 422, "workflow.invalid")
    assert {p["pointer"] for p in body["problems"]} >= {"/nodes/normalise/ref", "/edges/0/to"}
    assert_problem(await http.get(f"/workflows/{workflow_id}"), 404, "workflow.not_found")


async def test_graph_as_json_and_mermaid(http: httpx.AsyncClient, workflow_id: str) -> None:
    """graph renders the document as nodes/edges JSON or Mermaid text, per version."""
    await http.post("/workflows", json=document(workflow_id))
    changed = document(workflow_id)
    changed["nodes"]["gate"]["decisions"] = ["approve", "hold"]
    await http.post("/workflows", json=changed)

    graph = (await http.get(f"/workflows/{workflow_id}/graph")).json()
    assert graph["id"] == workflow_id
    assert {n["id"] for n in graph["nodes"]} == {"START", "normalise", "gate", "END"}
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("START", "normalise"),
        ("normalise", "gate"),
        ("gate", "END"),
    }
    gate = next(n for n in graph["nodes"] if n["id"] == "gate")
    assert gate["detail"] == ["approval: approve / hold"]
    first = (await http.get(f"/workflows/{workflow_id}/graph", params={"version": 1})).json()
    assert next(n for n in first["nodes"] if n["id"] == "gate")["detail"] == [
        "approval: approve / reject"
    ]

    mermaid = await http.get(f"/workflows/{workflow_id}/graph", params={"format": "mermaid"})
    assert mermaid.status_code == 200
    assert mermaid.headers["content-type"].startswith("text/plain")
    assert mermaid.text.startswith("flowchart TD\n")
    assert "n_normalise --> n_gate" in mermaid.text

    bad = await http.get(f"/workflows/{workflow_id}/graph", params={"format": "svg"})
    assert_problem(bad, 422, "request.invalid")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/workflows/no-such-workflow", "workflow.not_found", id="get"),
        pytest.param("/workflows/no-such-workflow/versions", "workflow.not_found", id="versions"),
        pytest.param("/workflows/no-such-workflow/graph", "workflow.not_found", id="graph"),
        pytest.param(
            "/workflows/asset-discovery?version=99", "workflow.version_not_found", id="version"
        ),
        pytest.param(
            "/workflows/asset-discovery/graph?version=99",
            "workflow.version_not_found",
            id="graph-version",
        ),
    ],
)
async def test_unknown_workflows_are_404_problems(
    http: httpx.AsyncClient, path: str, code: str
) -> None:
    """Unknown workflow ids and versions are 404 problems with a stable code."""
    assert_problem(await http.get(path), 404, code)
