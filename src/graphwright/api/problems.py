"""Errors as ``application/problem+json`` (RFC 9457), mapped in one place.

Every response carries a stable ``code`` and a ``detail`` the LangGraph SDK shows.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from graphwright.auth.principal import AuthError
from graphwright.errors import (
    ApprovalError,
    ConfigurationError,
    GraphwrightError,
    InvalidInputError,
    NotFoundError,
    RunStateError,
    WorkflowConflictError,
    WorkflowValidationError,
)
from graphwright.store.pool import OUTAGE_ERRORS

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem", "problem_body", "status_for"]

log = logging.getLogger("graphwright.api")

PROBLEM_JSON = "application/problem+json"

_BY_CODE: dict[str, int] = {
    "request.too_large": 413,
    "request.invalid_json": 400,
    "request.invalid_text": 422,
    "request.too_deep": 422,
    "approval.already_decided": 409,
    "run.busy": 409,
    "thread.busy": 409,
    "thread.exists": 409,
    "db.unavailable": 503,
    "service.unavailable": 503,
    "stream.limit": 503,
    "auth.provider_unavailable": 503,
}


def status_for(exc: GraphwrightError) -> int:
    """HTTP status of a graphwright error."""
    if exc.code in _BY_CODE:
        return _BY_CODE[exc.code]
    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, WorkflowConflictError | RunStateError):
        return 409
    if isinstance(exc, WorkflowValidationError | InvalidInputError | ApprovalError):
        return 422
    if isinstance(exc, ConfigurationError):
        return 500
    return 400


def problem_body(
    status: int, code: str, detail: str, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of a problem response (for answers written below the framework)."""
    body: dict[str, Any] = {
        "type": f"https://graphwright.dev/errors#{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if extra:
        body.update(extra)
    return body


def problem(
    status: int, code: str, detail: str, *, extra: dict[str, Any] | None = None
) -> JSONResponse:
    """Build a problem response; a 503 carries ``Retry-After``."""
    body = problem_body(status, code, detail, extra=extra)
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    if status == 503:
        # Every 503 is temporary: an outage, a full stream limit, a service not ready yet.
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


RETRY_AFTER_SECONDS = 2
"""``Retry-After`` of every 503 answer (a database outage, ``stream.limit``, ...)."""


def install_problem_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn every failure into a problem response."""

    @app.exception_handler(GraphwrightError)
    async def _graphwright(_: Request, exc: GraphwrightError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if exc.details:
            extra["details"] = exc.details
        if isinstance(exc, WorkflowValidationError):
            extra["problems"] = [p.to_dict() for p in exc.problems]
        elif "problems" in exc.details:
            extra["problems"] = exc.details["problems"]
        status = status_for(exc)
        answer = problem(status, exc.code, exc.message, extra=extra)
        if status == 401:
            answer.headers["WWW-Authenticate"] = 'Bearer realm="graphwright"'
        elif status == 503:
            answer.headers.setdefault("Retry-After", "5")
        return answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            problems.append({"pointer": "/" + "/".join(loc[1:]), "message": err.get("msg", "")})
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return problem(400, "request.invalid_json", "the request body is not valid JSON")
        first = problems[0] if problems else {"pointer": "", "message": "invalid request"}
        return problem(
            422,
            "request.invalid",
            f"invalid request at {first['pointer'] or '/'}: {first['message']}",
            extra={"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "route.not_found", 405: "route.method_not_allowed"}.get(
            exc.status_code, "http.error"
        )
        response = problem(exc.status_code, code, str(exc.detail))
        # Keep what the exception carries, such as the router's ``Allow`` on a 405.
        response.headers.update(exc.headers or {})
        return response

    async def _outage(_: Request, exc: Exception) -> JSONResponse:
        # Handled here (not by the catch-all below) so the connection stays usable.
        log.warning("database unavailable: %s", exc)
        return problem(
            503,
            "db.unavailable",
            "the database is unavailable right now; retry shortly",
        )

    for outage in OUTAGE_ERRORS:
        app.add_exception_handler(outage, _outage)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "internal server error")
