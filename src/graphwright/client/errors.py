"""Errors of the graphwright HTTP client.

Every error response of the server is ``application/problem+json`` with a
stable ``code``; :func:`error_from_response` turns it into the subclass of
:class:`GraphwrightAPIError` for its status, keeping code, detail and problems.
"""

from __future__ import annotations

from typing import Any

import httpx

from graphwright.client.models import ProblemDetail

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "GraphwrightAPIError",
    "GraphwrightClientError",
    "GraphwrightConnectionError",
    "InvalidRequestError",
    "NotFoundError",
    "ServerError",
    "ServiceUnavailableError",
    "StreamError",
    "error_from_response",
]


class GraphwrightClientError(Exception):
    """Base of every error the client raises."""


class GraphwrightConnectionError(GraphwrightClientError):
    """The server could not be reached, or the connection broke, after the allowed retries."""


class StreamError(GraphwrightClientError):
    """A stream could not be resumed within the allowed reconnection attempts.

    Attributes:
        last_event_id: Id of the last event delivered; follow again from it.
    """

    def __init__(self, message: str, *, last_event_id: str | None) -> None:
        super().__init__(message)
        self.last_event_id = last_event_id


class GraphwrightAPIError(GraphwrightClientError):
    """The server answered with an error.

    Attributes:
        status: HTTP status.
        code: Stable error code (``workflow.not_found``, ``run.busy``...).
        detail: Human-readable explanation.
        problems: Itemised problems (invalid documents and requests).
        details: Structured details the server attached.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        problems: list[ProblemDetail] | None = None,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"[{code}] {detail} (HTTP {status})")
        self.status = status
        self.code = code
        self.detail = detail
        self.problems = problems or []
        self.details = details or {}


class InvalidRequestError(GraphwrightAPIError):
    """400, 413 or 422: the request or document is invalid (see ``problems``)."""


class AuthenticationError(GraphwrightAPIError):
    """401 or 403: missing, wrong or insufficient credentials."""


class NotFoundError(GraphwrightAPIError):
    """404: no such workflow, thread, run, approval or route."""


class ConflictError(GraphwrightAPIError):
    """409: the resource's state forbids it (``run.busy``, ``approval.already_decided``)."""


class ServerError(GraphwrightAPIError):
    """5xx: the server failed."""


class ServiceUnavailableError(ServerError):
    """503: a dependency (database, Redis) is unavailable; worth retrying later."""


_BY_STATUS: dict[int, type[GraphwrightAPIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    503: ServiceUnavailableError,
}


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an error response ({} when the body is not one)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from_response(response: httpx.Response) -> GraphwrightAPIError:
    """The typed error for an error response (read its body first when streaming)."""
    body = problem_body(response)
    status = response.status_code
    code = body.get("code")
    detail = body.get("detail")
    problems = body.get("problems")
    details = body.get("details")
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else GraphwrightAPIError)
    return kind(
        status,
        code if isinstance(code, str) else f"http.{status}",
        detail if isinstance(detail, str) else (response.text[:500] or response.reason_phrase),
        [ProblemDetail.model_validate(p) for p in problems if isinstance(p, dict)]
        if isinstance(problems, list)
        else None,
        details=details if isinstance(details, dict) else None,
    )
