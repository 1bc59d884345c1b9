"""Request body size limit, enforced before the body reaches any handler."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class BodyLimit:
    """Refuse bodies larger than ``max_bytes`` with 413 (problem+json)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0
        exceeded = False
        responded = False

        async def limited() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once the limit is exceeded, whatever the app answers (a parse error)
            # is replaced by one 413 problem response.
            nonlocal responded
            if not exceeded:
                await send(message)
                return
            if not responded:
                responded = True
                await _too_large(send, self.max_bytes)

        try:
            await self.app(scope, limited, guarded_send)
        except _TooLarge:
            if not responded:
                await _too_large(send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send, max_bytes: int) -> None:
    body: dict[str, Any] = {
        "type": "https://graphwright.dev/errors#request.too_large",
        "title": "request.too_large",
        "status": 413,
        "code": "request.too_large",
        "detail": f"request body is larger than {max_bytes} bytes",
    }
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
