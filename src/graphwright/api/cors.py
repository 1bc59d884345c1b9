"""Cross-origin access for browser clients, from an allow-list of origins."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from graphwright.api.problems import problem
from graphwright.errors import ConfigurationError
from graphwright.settings import Settings

__all__ = ["EXPOSED_HEADERS", "ProblemCORSMiddleware", "check_cors", "install_cors"]

EXPOSED_HEADERS = (
    "Content-Location",
    "Location",
    "Retry-After",
    "X-Pagination-Next",
    "X-Request-Id",
)
"""Response headers a browser client may read (the LangGraph SDK reads ``Content-Location``)."""


def check_cors(settings: Settings) -> None:
    """Refuse a CORS configuration that lets any web page act with a user's credentials.

    Raises:
        ConfigurationError: ``GW_CORS_ORIGINS`` has ``*`` and
            ``GW_CORS_ALLOW_CREDENTIALS`` is on (``config.unsafe_cors``).
    """
    if "*" in settings.cors_origins and settings.cors_allow_credentials:
        raise ConfigurationError(
            "GW_CORS_ORIGINS=* together with GW_CORS_ALLOW_CREDENTIALS=1 would let any web "
            "page send requests with its visitors' credentials; list the allowed origins instead",
            code="config.unsafe_cors",
        )


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Add CORS headers for ``GW_CORS_ORIGINS`` (nothing when the list is empty).

    Raises:
        ConfigurationError: see :func:`check_cors`.
    """
    check_cors(settings)
    if not settings.cors_origins:
        return
    app.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["*"],
        expose_headers=list(EXPOSED_HEADERS),
    )


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, refusing a preflight with a problem (``cors.refused``)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """The preflight answer; a refused one is a 400 problem with the same headers."""
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = problem(
            400,
            code="cors.refused",
            detail=f"cross-origin request refused: {bytes(response.body).decode()}",
        )
        for name, value in response.headers.items():
            if name.lower().startswith(("access-control-", "vary")):
                refused.headers[name] = value
        return refused
