"""The long-running commands: ``serve`` (HTTP API with workers), ``worker``, ``watch``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from graphwright.cli_common import RegistryOpt, ThreadOpt, _arun, _fail, _registry, _settings, err
from graphwright.errors import GraphwrightError

if TYPE_CHECKING:
    from graphwright.registry import Registry
    from graphwright.settings import Settings

__all__ = ["serve", "watch", "worker"]

EXAMPLES_DIR = Path(__file__).parent / "examples"


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (GW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GW_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Run slots in this process (GW_WORKERS; 0: API only).")
    ] = None,
    registry: RegistryOpt = None,
    examples: Annotated[
        bool,
        typer.Option(
            "--examples", help="Publish the bundled example workflows to GW_TENANT first."
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (LangGraph Server API + graphwright endpoints) with workers."""
    from graphwright.api import create_app
    from graphwright.api.serving import run_server

    settings = _settings()
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if overrides:
        settings = settings.model_copy(update=overrides)
    reg = _registry(settings, registry)
    try:
        api = create_app(settings, registry=reg)
    except GraphwrightError as exc:
        _fail(exc)  # an unsafe configuration (config.unsafe_cors): exit 2
    if examples:
        _arun(lambda: _publish_examples(settings, reg))
    run_server(api, settings)


async def _publish_examples(settings: Settings, reg: Registry) -> None:
    """Publish every bundled example (identical content is a no-op)."""
    from graphwright.cli import _publish_file
    from graphwright.runtime.engine import Engine

    async with Engine(settings, registry=reg) as engine:
        for path in sorted(EXAMPLES_DIR.glob("*.json")):
            await _publish_file(engine, path)


def worker(
    workers: Annotated[int | None, typer.Option(help="Concurrent run slots (GW_WORKERS).")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Run workers only: claim and execute queued runs until SIGTERM (then drain)."""
    import asyncio
    import signal

    from graphwright.runtime.process import open_runtime

    settings = _settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if settings.workers < 1:
        raise typer.BadParameter("a worker needs at least one run slot")
    reg = _registry(settings, registry)
    from graphwright.logs import configure_logging

    configure_logging(settings.log_format)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_runtime(
            settings, registry=reg, wait_for_database=settings.startup_wait_seconds
        ) as services:
            err.print(
                f"graphwright worker {services.owner}: {settings.workers} run slots",
                markup=False,
            )
            await stop.wait()
            err.print("draining in-flight runs...", markup=False)

    _arun(go)


def watch(
    thread: ThreadOpt,
    run: Annotated[
        str | None, typer.Option("--run", help="Follow only this run, and exit when it ends.")
    ] = None,
    url: Annotated[
        str, typer.Option("--url", envvar="GW_URL", help="The graphwright server.")
    ] = "http://127.0.0.1:8123",
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="GW_API_KEY", help="Sent as X-Api-Key.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="GW_TOKEN", help="Bearer token.")
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="One line per event, and exit once the thread is idle, interrupted or failed "
            "(lines without --once are implied without a TTY).",
        ),
    ] = False,
) -> None:
    """Watch progress live: nodes, map progress, pending approvals (Ctrl-C stops a thread)."""
    from graphwright.watch import watch as follow

    code = follow(
        url=url, thread_id=thread, run_id=run, once=once, api_key=api_key, bearer_token=token
    )
    raise typer.Exit(code)
