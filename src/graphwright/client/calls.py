"""Calls as data: :class:`Call` describes one HTTP request and how to read its answer.

Pure (no I/O). The endpoints (:mod:`graphwright.client.resources`) build calls with
the helpers here; :class:`~graphwright.client.Client` and
:class:`~graphwright.client.AsyncClient` only send them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter

from graphwright.client.errors import problem_body

__all__ = [
    "ApprovalStatus",
    "Call",
    "CancelAction",
    "Document",
    "RunOptions",
    "StreamMode",
    "client_headers",
    "document_body",
    "has_code",
    "parse_model",
    "parse_models",
    "parse_nothing",
    "query",
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


def parse_model(kind: type[M]) -> Callable[[httpx.Response], M]:
    """A parser of one ``kind`` model."""
    return lambda response: kind.model_validate(response.json())


def parse_models(kind: type[M]) -> Callable[[httpx.Response], list[M]]:
    """A parser of a list of ``kind`` models."""
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]
    return lambda response: list(adapter.validate_python(response.json()))


def parse_nothing(response: httpx.Response) -> None:
    """The parser of an answer without a body worth reading."""
    return None


def document_body(doc: Document) -> tuple[Any, bytes | None]:
    """``(json, content)`` for a document: JSON text is sent as it is."""
    if isinstance(doc, str):
        return None, doc.encode()
    if isinstance(doc, BaseModel):
        return doc.model_dump(mode="json", by_alias=True, exclude_unset=True), None
    return dict(doc), None


def has_code(status: int, code: str) -> Callable[[httpx.Response], bool]:
    """Whether an error response has ``status`` and the problem ``code`` (see ``Call.accept``)."""

    def check(response: httpx.Response) -> bool:
        return response.status_code == status and problem_body(response).get("code") == code

    return check


def query(**params: str | int | float | None) -> list[tuple[str, str]]:
    """Query parameters of the given values (None: left out)."""
    return [(name, str(value)) for name, value in params.items() if value is not None]


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
