"""The OpenAPI document lists the problem responses each operation really answers.

FastAPI documents a route's success response and a 422 of its own shape, while
the server's errors are ``application/problem+json`` bodies
(:mod:`graphwright.api.problems`). Every route documents, with the ``Problem``
schema (:func:`with_problem_responses`, applied by the routers' route class):

- 422: every route (the input guard checks path, query and headers; bodies and
  parameters are validated),
- 400 and 413: routes that take a body (not JSON, too large),
- 404: routes whose path names something (``*.not_found``, or ``route.not_found``),
- 503 with ``Retry-After``: routes that use the services (``db.unavailable``,
  ``stream.limit``),
- 429 with ``Retry-After``: routes that count against the tenant's request limit
  (every authenticated route but ``/metrics``, when ``GW_API_RATE_LIMIT`` is set),
- and every 4xx/5xx a route declares itself in ``responses=`` (409 ``run.busy``,
  404 ``workflow.not_found`` of a body field, ...), with the route's description.

:func:`install_problem_docs` adds the schemas to the application's document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from graphwright.api.access import METRICS, PUBLIC, RULES
from graphwright.api.deps import get_services
from graphwright.api.problems import PROBLEM_JSON

__all__ = ["PROBLEM_SCHEMAS", "install_problem_docs", "problem_statuses", "with_problem_responses"]

_REF = "#/components/schemas/"

PROBLEM_SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "Problem": {
        "title": "Problem",
        "description": "An error (RFC 9457 problem details). Branch on `code`; every code "
        "is listed in docs/errors.md. Some codes add members (`/readyz`: `checks`, `failed`).",
        "type": "object",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": {"type": "string", "description": "`https://graphwright.dev/errors#<code>`"},
            "title": {"type": "string", "description": "The code."},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {"type": "string", "description": "Stable error code (`area.kind`)."},
            "detail": {"type": "string", "description": "What went wrong, in words."},
            "details": {"type": "object", "description": "Facts about the error (ids, limits)."},
            "problems": {
                "type": "array",
                "description": "Every problem found, each with a pointer.",
                "items": {"$ref": _REF + "ProblemItem"},
            },
        },
    },
    "ProblemItem": {
        "title": "ProblemItem",
        "type": "object",
        "required": ["pointer"],
        "properties": {
            "pointer": {
                "type": "string",
                "description": "JSON pointer (RFC 6901): `/<field>` in the body or document, "
                "`/<name>` of a path or query parameter, `/headers/<name>`.",
            },
            "message": {"type": "string"},
            "code": {"type": "string", "description": "Problem code (workflow documents)."},
            "suggestion": {"type": "string", "description": "The nearest valid name."},
        },
    },
}
"""Schemas of problem bodies, added to ``components.schemas``."""

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "The body is not JSON (`request.invalid_json`).",
    404: "Not found (`*.not_found`; `route.not_found` for a path that names nothing).",
    401: "Authentication is on and the credentials are missing or not valid "
    "(`auth.required`, `auth.invalid`, `auth.expired`).",
    403: "The caller lacks the role this needs (`auth.forbidden`).",
    409: "Conflicts with what is stored.",
    413: "The body is larger than `GW_MAX_BODY_BYTES` (`request.too_large`).",
    429: "The tenant made more requests than `GW_API_RATE_LIMIT` allows "
    "(`rate_limit.exceeded`); retry after `Retry-After`.",
    422: "The request does not fit the operation: `request.invalid` (a problem per field), "
    "`request.invalid_text`, `request.too_deep`.",
    503: "Unavailable right now (`db.unavailable`, `stream.limit`); retry after `Retry-After`.",
}

_RETRY_AFTER: Final[dict[str, Any]] = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}

# FastAPI's own 422 body, replaced by problems everywhere.
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_problem_docs(app: FastAPI) -> None:
    """Add the ``Problem`` schemas to ``app.openapi()`` (FastAPI's own 422 body goes)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI: this adds to it once
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            schemas.update(PROBLEM_SCHEMAS)
            text = json.dumps(document.get("paths", {}))
            for name in _FASTAPI_ERROR_SCHEMAS:
                if _REF + name not in text:
                    schemas.pop(name, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def with_problem_responses(route: APIRoute) -> dict[int | str, dict[str, Any]]:
    """``route.responses`` plus a problem response for each status the route can answer.

    A status the route declares keeps its description and gets the problem content.
    """
    responses: dict[int | str, dict[str, Any]] = {
        status: spec for status, spec in route.responses.items() if _problem_status(status) is None
    }
    declared = {_problem_status(s): spec for s, spec in route.responses.items()}
    for status in problem_statuses(route):
        description = declared.get(status, {}).get("description")
        responses[status] = _problem_response(status, description)
    return responses


def problem_statuses(route: APIRoute) -> list[int]:
    """The 4xx/5xx statuses ``route`` can answer, from its shape and its own ``responses``."""
    statuses = {422}
    if route.body_field is not None:
        statuses |= {400, 413}
    if route.param_convertors:
        statuses.add(404)
    if _depends_on(route.dependant, {get_services}):
        statuses.add(503)
    statuses |= {s for s in map(_problem_status, route.responses) if s is not None}
    rules = [RULES.get((method, route.path)) for method in route.methods or ()]
    if any(rule is not None and rule.role != PUBLIC for rule in rules):
        statuses |= {401, 403}  # when authentication is on (GW_AUTH)
    if any(rule is not None and rule.role not in (PUBLIC, METRICS) for rule in rules):
        statuses.add(429)  # when GW_API_RATE_LIMIT is set
    return sorted(statuses)


def _problem_status(status: int | str) -> int | None:
    """``status`` as an int when it is a 4xx or 5xx status code."""
    text = str(status)
    return int(text) if text.isdigit() and int(text) >= 400 else None


def _problem_response(status: int, description: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or _DESCRIPTIONS.get(status, "A problem."),
        "content": {PROBLEM_JSON: {"schema": {"$ref": _REF + "Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response


def _depends_on(dependant: Dependant, calls: Iterable[Callable[..., Any]]) -> bool:
    wanted = set(calls)
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call in wanted:
            return True
        pending.extend(current.dependencies)
    return False
