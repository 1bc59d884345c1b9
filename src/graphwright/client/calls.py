"""The client's endpoints as data: each function describes one HTTP call and its result.

Pure (no I/O), shared by :class:`~graphwright.client.Client` and
:class:`~graphwright.client.AsyncClient`, which only send the :class:`Call`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter

from graphwright.client.errors import problem_body
from graphwright.client.models import (
    Approval,
    Health,
    OpsSummary,
    PublishedWorkflow,
    Readiness,
    Run,
    RunOutput,
    Thread,
    ThreadState,
    ValidationResult,
)

__all__ = [
    "ApprovalStatus",
    "Call",
    "CancelAction",
    "Document",
    "RunOptions",
    "StreamMode",
    "client_headers",
    "run_body",
    "run_location",
    "runs_path",
    "segment",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Document = Mapping[str, Any] | str | BaseModel
"""A workflow document: a JSON object, its JSON text, or a model (``WorkflowSpec``)."""
ApprovalStatus = Literal["pending", "decided", "expired", "cancelled", "any"]
CancelAction = Literal["interrupt", "rollback"]
StreamMode = str | Sequence[str]


class RunOptions(TypedDict, total=False):
    """Run options of the LangGraph Server API that the client passes through.

    ``input`` and ``command`` (``{"resume": ...}``, ``{"update": ...}``) exclude
    each other; ``multitask_strategy`` says what happens when the thread is busy.
    """

    input: Mapping[str, Any] | None
    command: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    config: Mapping[str, Any] | None
    context: Mapping[str, Any] | None
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] | None
    if_not_exists: Literal["create", "reject"] | None
    interrupt_before: Literal["*"] | Sequence[str] | None
    interrupt_after: Literal["*"] | Sequence[str] | None
    checkpoint_id: str | None
    durability: Literal["sync", "async", "exit"] | None
    on_completion: Literal["delete", "keep"] | None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP call: what to send and how to read the answer.

    Attributes:
        idempotent: Safe to send again after the connection broke mid-request.
        accept: Error responses that are results, not errors (``validate``'s 422).
        long_poll: The server answers when a run ends: no read timeout by default.
        read_timeout: Read timeout of a ``long_poll`` call (None: wait as long as it takes).
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Sequence[tuple[str, str]] | None = None
    json: Any = None
    content: bytes | None = None
    idempotent: bool = False
    accept: Callable[[httpx.Response], bool] | None = None
    long_poll: bool = False
    read_timeout: float | None = None

    def accepts(self, response: httpx.Response) -> bool:
        """Whether an error response is this call's result."""
        return self.accept is not None and self.accept(response)


def segment(value: str) -> str:
    """A path segment (ids may contain ``/``, ``:`` or spaces)."""
    return quote(value, safe="")


def run_location(response: httpx.Response) -> tuple[str, str] | None:
    """``(thread_id, run_id)`` from ``Content-Location: /threads/{tid}/runs/{rid}``."""
    location = response.headers.get("content-location", "")
    parts = urlsplit(location).path.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "threads" and parts[2] == "runs":
        return unquote(parts[1]), unquote(parts[3])
    return None


def _model(kind: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: kind.model_validate(response.json())


def _models(kind: type[M]) -> Callable[[httpx.Response], list[M]]:
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]
    return lambda response: list(adapter.validate_python(response.json()))


def _nothing(response: httpx.Response) -> None:
    return None


def _document(doc: Document) -> tuple[Any, bytes | None]:
    """``(json, content)`` for a document: JSON text is sent as it is."""
    if isinstance(doc, str):
        return None, doc.encode()
    if isinstance(doc, BaseModel):
        return doc.model_dump(mode="json", by_alias=True, exclude_unset=True), None
    return dict(doc), None


def _has_code(status: int, code: str) -> Callable[[httpx.Response], bool]:
    def check(response: httpx.Response) -> bool:
        return response.status_code == status and problem_body(response).get("code") == code

    return check


# -- workflows ------------------------------------------------------------------------


def _validation(response: httpx.Response) -> ValidationResult:
    body = problem_body(response)
    if response.is_error:
        return ValidationResult.model_validate(
            {"valid": False, "problems": body.get("problems") or []}
        )
    return ValidationResult.model_validate(body)


def validate_workflow(doc: Document) -> Call[ValidationResult]:
    """``POST /workflows/validate``: problems come back as a result, not an error."""
    data, content = _document(doc)
    return Call(
        "POST",
        "/workflows/validate",
        _validation,
        json=data,
        content=content,
        idempotent=True,
        accept=_has_code(422, "workflow.invalid"),
    )


def publish_workflow(doc: Document) -> Call[PublishedWorkflow]:
    """``POST /workflows`` (publishing identical content again is a no-op)."""
    data, content = _document(doc)
    return Call(
        "POST", "/workflows", _model(PublishedWorkflow), json=data, content=content, idempotent=True
    )


def get_workflow(workflow_id: str, version: int | None) -> Call[PublishedWorkflow]:
    """``GET /workflows/{id}``, with its document."""
    params = [("version", str(version))] if version is not None else None
    return Call(
        "GET",
        f"/workflows/{segment(workflow_id)}",
        _model(PublishedWorkflow),
        params=params,
        idempotent=True,
    )


def workflow_versions(workflow_id: str) -> Call[list[PublishedWorkflow]]:
    """``GET /workflows/{id}/versions``, oldest first."""
    path = f"/workflows/{segment(workflow_id)}/versions"
    return Call("GET", path, _models(PublishedWorkflow), idempotent=True)


def list_workflows() -> Call[list[PublishedWorkflow]]:
    """``GET /workflows``: the latest version of each."""
    return Call("GET", "/workflows", _models(PublishedWorkflow), idempotent=True)


def workflow_graph(
    workflow_id: str, fmt: Literal["json", "mermaid"], version: int | None
) -> Call[dict[str, Any] | str]:
    """``GET /workflows/{id}/graph``: nodes and edges (JSON) or Mermaid text."""
    params = [("format", fmt)] + ([("version", str(version))] if version is not None else [])

    def parse(response: httpx.Response) -> dict[str, Any] | str:
        if fmt == "mermaid":
            return response.text
        body: dict[str, Any] = response.json()
        return body

    return Call(
        "GET", f"/workflows/{segment(workflow_id)}/graph", parse, params=params, idempotent=True
    )


# -- approvals ------------------------------------------------------------------------


def list_approvals(
    *,
    status: ApprovalStatus,
    workflow_id: str | None,
    thread_id: str | None,
    metadata: Mapping[str, Any] | None,
    older_than: float | None,
    newer_than: float | None,
    limit: int,
    offset: int,
) -> Call[list[Approval]]:
    """``GET /approvals`` with filters (``metadata``: containment in the thread's metadata)."""
    params = [("status", status), ("limit", str(limit)), ("offset", str(offset))]
    optional = {
        "workflow_id": workflow_id,
        "thread_id": thread_id,
        "metadata": json.dumps(dict(metadata)) if metadata else None,
        "older_than": None if older_than is None else str(older_than),
        "newer_than": None if newer_than is None else str(newer_than),
    }
    params += [(name, value) for name, value in optional.items() if value is not None]
    return Call("GET", "/approvals", _models(Approval), params=params, idempotent=True)


def get_approval(approval_id: str) -> Call[Approval]:
    """``GET /approvals/{id}``."""
    return Call("GET", f"/approvals/{segment(approval_id)}", _model(Approval), idempotent=True)


def decide_approval(
    approval_id: str,
    decision: str,
    *,
    comment: str | None,
    edits: Mapping[str, Any] | None,
    by: str | None,
) -> Call[Approval]:
    """``POST /approvals/{id}/decide`` (not retried: a second decision is a 409)."""
    body: dict[str, Any] = {"decision": decision}
    if comment is not None:
        body["comment"] = comment
    if edits is not None:
        body["edits"] = dict(edits)
    if by is not None:
        body["by"] = by
    return Call("POST", f"/approvals/{segment(approval_id)}/decide", _model(Approval), json=body)


# -- health ------------------------------------------------------------------------------


def healthz() -> Call[Health]:
    """``GET /healthz``."""
    return Call("GET", "/healthz", _model(Health), idempotent=True)


def ops_summary() -> Call[OpsSummary]:
    """``GET /ops/summary``."""
    return Call("GET", "/ops/summary", _model(OpsSummary), idempotent=True)


def _readiness(response: httpx.Response) -> Readiness:
    body = problem_body(response)
    return Readiness(
        ready=not response.is_error,
        checks=body.get("checks") or {},
        failed=body.get("failed") or [],
        detail=body.get("detail"),
    )


def readyz() -> Call[Readiness]:
    """``GET /readyz``: a 503 ``service.not_ready`` is a result (``ready=False``)."""
    return Call(
        "GET", "/readyz", _readiness, idempotent=True, accept=_has_code(503, "service.not_ready")
    )


# -- runs ------------------------------------------------------------------------------------


def run_body(workflow_id: str, **options: Any) -> dict[str, Any]:
    """A run creation body: ``assistant_id`` and the options that were given (not None)."""
    body: dict[str, Any] = {"assistant_id": workflow_id}
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, Sequence) and not isinstance(value, str):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        body[name] = value
    return body


def runs_path(thread_id: str | None, suffix: str = "") -> str:
    """``/threads/{tid}/runs<suffix>``, or ``/runs<suffix>`` without a thread."""
    base = "/runs" if thread_id is None else f"/threads/{segment(thread_id)}/runs"
    return base + suffix


def create_run(thread_id: str | None, body: dict[str, Any]) -> Call[Run]:
    """``POST /threads/{tid}/runs`` (or ``/runs`` on a new thread)."""
    return Call("POST", runs_path(thread_id), _model(Run), json=body)


def _output(response: httpx.Response) -> RunOutput:
    where = run_location(response)
    thread_id, run_id = where if where is not None else (None, None)
    return RunOutput.from_body(response.json(), run_id=run_id, thread_id=thread_id)


def wait_run(
    thread_id: str | None, body: dict[str, Any], *, timeout: float | None
) -> Call[RunOutput]:
    """``POST .../runs/wait``: create a run and return what it left."""
    return Call(
        "POST",
        runs_path(thread_id, "/wait"),
        _output,
        json=body,
        long_poll=True,
        read_timeout=timeout,
    )


def get_run(thread_id: str, run_id: str) -> Call[Run]:
    """``GET /threads/{tid}/runs/{rid}``."""
    return Call("GET", runs_path(thread_id, f"/{segment(run_id)}"), _model(Run), idempotent=True)


def list_runs(thread_id: str, *, status: str | None, limit: int, offset: int) -> Call[list[Run]]:
    """``GET /threads/{tid}/runs``, newest first."""
    params = [("limit", str(limit)), ("offset", str(offset))]
    if status is not None:
        params.append(("status", status))
    return Call("GET", runs_path(thread_id), _models(Run), params=params, idempotent=True)


def join_run(thread_id: str, run_id: str, *, timeout: float | None) -> Call[RunOutput]:
    """``GET /threads/{tid}/runs/{rid}/join``: wait for the run's end."""

    def parse(response: httpx.Response) -> RunOutput:
        return RunOutput.from_body(response.json(), run_id=run_id, thread_id=thread_id)

    return Call(
        "GET",
        runs_path(thread_id, f"/{segment(run_id)}/join"),
        parse,
        idempotent=True,
        long_poll=True,
        read_timeout=timeout,
    )


def cancel_run(
    thread_id: str, run_id: str, *, wait: bool, action: CancelAction
) -> Call[Run | None]:
    """``POST .../cancel``; with ``wait`` the stopped run (None when rolled back)."""

    def parse(response: httpx.Response) -> Run | None:
        if response.status_code in (202, 204) or not response.content:
            return None
        return Run.model_validate(response.json())

    params = [("wait", "true" if wait else "false"), ("action", action)]
    return Call(
        "POST",
        runs_path(thread_id, f"/{segment(run_id)}/cancel"),
        parse,
        params=params,
        long_poll=wait,
    )


# -- threads ----------------------------------------------------------------------------------


def create_thread(
    metadata: Mapping[str, Any] | None,
    *,
    thread_id: str | None,
    if_exists: Literal["raise", "do_nothing"] | None,
) -> Call[Thread]:
    """``POST /threads`` (``metadata.graph_id`` binds the thread to that workflow)."""
    body: dict[str, Any] = {"metadata": dict(metadata or {})}
    if thread_id is not None:
        body["thread_id"] = thread_id
    if if_exists is not None:
        body["if_exists"] = if_exists
    return Call("POST", "/threads", _model(Thread), json=body)


def get_thread(thread_id: str) -> Call[Thread]:
    """``GET /threads/{tid}``."""
    return Call("GET", f"/threads/{segment(thread_id)}", _model(Thread), idempotent=True)


def thread_state(thread_id: str) -> Call[ThreadState]:
    """``GET /threads/{tid}/state``."""
    path = f"/threads/{segment(thread_id)}/state"
    return Call("GET", path, _model(ThreadState), idempotent=True)


def delete_thread(thread_id: str) -> Call[None]:
    """``DELETE /threads/{tid}`` with its runs, events and approvals."""
    return Call("DELETE", f"/threads/{segment(thread_id)}", _nothing, idempotent=True)


def client_headers(
    *, api_key: str | None, bearer_token: str | None, headers: Mapping[str, str] | None
) -> dict[str, str]:
    """Headers of every request: credentials (``X-Api-Key``, bearer token) and extras."""
    out = {"User-Agent": "graphwright-client", "Accept": "application/json"}
    if api_key is not None:
        out["X-Api-Key"] = api_key
    if bearer_token is not None:
        out["Authorization"] = f"Bearer {bearer_token}"
    out.update(headers or {})
    return out
