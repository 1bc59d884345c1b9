"""Run the API under uvicorn: guarded connections, graphwright log lines, logged drain."""

from __future__ import annotations

import logging
import resource
import socket
import time
from collections.abc import Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from graphwright.api.connections import ConnectionGuard, guarded_protocol
from graphwright.api.hosts import allowed_hosts
from graphwright.logs import configure_logging
from graphwright.settings import Settings

__all__ = ["FD_HEADROOM", "run_server"]

log = logging.getLogger("graphwright.serve")

FD_HEADROOM = 256
"""File descriptors kept free beyond ``GW_MAX_CONNECTIONS`` (pool, Redis, files)."""


def run_server(app: FastAPI, settings: Settings) -> None:
    """Serve ``app`` on ``GW_HOST:GW_PORT`` until SIGTERM/SIGINT, then drain.

    One access line per request comes from the app (uvicorn's own access log is
    off); connections are guarded by :mod:`graphwright.api.connections`.
    """
    configure_logging(settings.log_format)
    _raise_open_file_limit(settings.max_connections + FD_HEADROOM)
    guard = ConnectionGuard(
        max_connections=settings.max_connections,
        header_timeout=settings.header_timeout_seconds,
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(guard),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.drain_seconds) + 5,
        timeout_keep_alive=int(settings.keep_alive_seconds),
    )
    _Server(config, settings=settings, guard=guard).run()


class _Server(uvicorn.Server):
    """uvicorn's server, logging where it listens and how it drains."""

    def __init__(self, config: uvicorn.Config, *, settings: Settings, guard: ConnectionGuard):
        super().__init__(config)
        self.settings = settings
        self.guard = guard

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Bind, then log the address and the exposure settings."""
        await super().startup(sockets)
        if not self.started:
            return
        settings = self.settings
        fields: dict[str, Any] = {
            "url": _url(self.servers[0].sockets if self.servers else ()),
            "workers": settings.workers,
            "allowed_hosts": ",".join(allowed_hosts(settings)),
            "cors_origins": ",".join(settings.cors_origins) or None,
            "max_connections": settings.max_connections,
            "header_timeout_seconds": settings.header_timeout_seconds,
            "body_timeout_seconds": settings.body_timeout_seconds,
        }
        auth = getattr(settings, "auth", None)
        if auth is not None:
            fields["auth"] = str(auth)
        log.info("serving", extra={"fields": fields})

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Log the drain: open connections and requests in flight, then how long it took."""
        began = time.monotonic()
        log.info(
            "shutting down",
            extra={
                "fields": {
                    "open_connections": len(self.server_state.connections),
                    "requests_in_flight": len(self.server_state.tasks),
                    "grace_seconds": self.config.timeout_graceful_shutdown,
                }
            },
        )
        await super().shutdown(sockets)
        log.info(
            "stopped",
            extra={
                "fields": {
                    "drain_seconds": round(time.monotonic() - began, 2),
                    "requests_served": self.server_state.total_requests,
                    "heads_timed_out": self.guard.timed_out,
                    "idle_connections_closed_for_room": self.guard.evicted,
                    "connections_refused": self.guard.refused,
                }
            },
        )


def _url(listeners: Sequence[socket.socket]) -> str | None:
    if not listeners:
        return None
    host, port = listeners[0].getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _raise_open_file_limit(needed: int) -> None:
    """Raise the soft open-file limit to ``needed`` if the hard limit allows; warn if not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-file limit: %s", exc)
        target = soft
    if target < needed:
        log.warning(
            "the open-file limit (%d) is below GW_MAX_CONNECTIONS + %d (%d): lower "
            "GW_MAX_CONNECTIONS or raise the limit (ulimit -n)",
            target,
            FD_HEADROOM,
            needed,
        )
