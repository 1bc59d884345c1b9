"""The discovery console: static pages under ``/ui`` and offline ``/docs`` / ``/redoc``.

The console is plain HTML, CSS and ES modules shipped in the package (no build
step, no Node.js, no CDN). It holds no data: every page reads the public HTTP
API with the signed-in key, so its files are served without credentials, as
plain Starlette routes outside the API's access rules (like FastAPI's own
``/docs``). Nothing here runs at import time.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC", "install_console"]

STATIC = Path(__file__).resolve().parent / "static"
"""The console's files (``index.html``, ``app/*.js``, ``console.css``, ``vendor/``)."""

_SWAGGER = "/ui/vendor/swagger-ui-5.35.0"
_REDOC = "/ui/vendor/redoc-2.5.0"
_SECURITY_HEADERS = {
    # The console loads only its own files; no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _ConsoleFiles(StaticFiles):
    """Static files with the console's security headers and no caching of the pages."""

    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override,type-arg]
        response = await super().get_response(path, scope)
        response.headers.update(_SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/ui/``, redirect ``/`` there, and serve docs from local assets.

    Also adds the ``GET /auth/whoami`` API route (any authenticated caller).
    The app must be created with ``docs_url=None`` and ``redoc_url=None``; this adds
    ``/docs`` and ``/redoc`` pages that load Swagger UI and ReDoc from ``/ui/vendor``.
    """
    from graphwright.console.identity import router as identity_router

    app.include_router(identity_router)
    openapi_url = app.openapi_url or "/openapi.json"

    async def root(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    async def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{_SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{_SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{_SWAGGER}/favicon-32x32.png",
        )

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{_REDOC}/redoc.standalone.js",
            with_google_fonts=False,
        )

    app.router.routes.extend(
        [
            Route("/", root, methods=["GET", "HEAD"], include_in_schema=False),
            Route("/docs", swagger, methods=["GET", "HEAD"], include_in_schema=False),
            Route("/redoc", redoc, methods=["GET", "HEAD"], include_in_schema=False),
            Mount("/ui", app=_ConsoleFiles(directory=STATIC, html=True), name="console"),
        ]
    )
