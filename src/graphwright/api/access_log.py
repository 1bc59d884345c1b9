"""One structured access-log line per request, and its request id.

Each request gets an id: the caller's ``X-Request-Id`` when it is a sane token
(:data:`REQUEST_ID`), else a new one. It is echoed in the response's
``X-Request-Id``, kept as ``request.state.request_id``, and logged (logger
``graphwright.access``, message ``request``) with the method, the route's path
template (``/threads/{thread_id}``; the raw path when no route matched), the status,
the duration in milliseconds, the client address, and the tenant and id of the
authenticated principal (``request.state.principal``; None when there is none).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_ID", "AccessLog", "request_id_of"]

log = logging.getLogger("graphwright.access")

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,127}")
"""An incoming ``X-Request-Id`` that is used as is; any other is replaced."""

MAX_LOGGED_PATH = 256
"""Longest unmatched path logged (longer ones are cut)."""


def request_id_of(scope: Scope) -> str:
    """The request's id: its ``X-Request-Id`` when that is sane, else a new random one."""
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            incoming: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(incoming):
                return incoming
            break
    return uuid.uuid4().hex


class AccessLog:
    """Log one line per HTTP request when its response ends (a stream: when it closes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Unhandled: the server error handler outside this middleware answers 500.
            status = status or 500
            raise
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            log.info("request", extra={"fields": _fields(scope, status, duration_ms)})


def _fields(scope: Scope, status: int | None, duration_ms: float) -> dict[str, Any]:
    route = scope.get("route")
    template = getattr(route, "path", None)
    path = template if isinstance(template, str) else _printable(scope["path"])
    principal = (scope.get("state") or {}).get("principal")
    client = scope.get("client")
    return {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "tenant": getattr(principal, "tenant", None),
        "principal": getattr(principal, "id", None),
        "request_id": scope["state"]["request_id"],
        "client": client[0] if client else None,
    }


def _printable(path: str) -> str:
    cut = path[:MAX_LOGGED_PATH]
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
