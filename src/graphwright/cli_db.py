"""``graphwright db``: see, start and stop the embedded PostgreSQL.

Without ``GW_DATABASE_URL`` every command that needs a database starts the
embedded server in ``GW_DATA_DIR/pg`` and the last one to finish stops it (see
:mod:`graphwright.runtime.embedded`). ``db start`` keeps it running until
``db stop``, for ``psql`` or for many commands in a row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from graphwright.cli_common import JsonOpt, _fail, _print_json, _settings, age, err
from graphwright.errors import GraphwrightError

if TYPE_CHECKING:
    from graphwright.runtime.embedded import EmbeddedPostgres, EmbeddedStatus
    from graphwright.settings import Settings

__all__ = ["db_app"]

db_app = typer.Typer(
    name="db",
    help="The embedded PostgreSQL (used when GW_DATABASE_URL is unset): status, start, stop.",
    no_args_is_help=True,
)

NOT_RUNNING_EXIT = 3
"""Exit status of ``db status`` for a server that is not running (as ``pg_ctl status``)."""


def _server(settings: Settings) -> EmbeddedPostgres:
    from graphwright.runtime.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.data_dir)


def _configured_note(settings: Settings) -> None:
    if settings.database_url is not None:
        err.print(
            "note: GW_DATABASE_URL is set, so graphwright does not use this embedded server",
            markup=False,
        )


def _status_json(status: EmbeddedStatus) -> dict[str, object]:
    from graphwright.runtime.embedded import process_command

    postmaster = status.postmaster
    return {
        "data_dir": str(status.data_dir),
        "initialised": status.initialised,
        "running": status.running,
        "pid": postmaster.pid if postmaster else None,
        "started_at": postmaster.started_at.isoformat() if postmaster else None,
        "url": postmaster.url if postmaster else None,
        "kept": status.kept,
        "in_use": status.in_use,
        "users": [{"pid": pid, "command": process_command(pid)} for pid in status.users],
        "connections": status.connections,
    }


@db_app.command("status")
def db_status(json_output: JsonOpt = False) -> None:
    """Whether the embedded server runs, who uses it, and how it will stop (exit 3: stopped)."""
    settings = _settings()
    status = _server(settings).status()
    report = _status_json(status)
    if json_output:
        _print_json(report)
        raise typer.Exit(0 if status.running else NOT_RUNNING_EXIT)
    _configured_note(settings)
    lines = [f"data directory: {status.data_dir}"]
    if status.postmaster is None:
        state = "not initialised yet" if not status.initialised else "stopped"
        lines.append(f"state:          {state}")
    else:
        started = status.postmaster.started_at
        lines += [
            f"state:          running (pid {status.postmaster.pid}, up {age(started)})",
            f"connect:        psql '{status.postmaster.url}'",
            f"connections:    {'?' if status.connections is None else status.connections}",
        ]
    users = report["users"]
    if isinstance(users, list) and users:
        lines += [f"used by:        pid {u['pid']}: {u['command']}" for u in users]
    elif status.in_use:
        lines.append("used by:        another graphwright process")
    if status.running:
        if status.kept:
            stop = "kept running by `db start`; stops with `db stop`"
        else:
            stop = "stops when the last graphwright command using it exits"
        lines.append(f"lifecycle:      {stop}")
    for line in lines:
        typer.echo(line)
    raise typer.Exit(0 if status.running else NOT_RUNNING_EXIT)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded server and keep it running after commands exit, until `db stop`."""
    settings = _settings()
    _configured_note(settings)
    try:
        postmaster = _server(settings).start_kept()
    except GraphwrightError as exc:
        _fail(exc)
    err.print(f"embedded PostgreSQL running (pid {postmaster.pid}); it stays up until", end=" ")
    err.print("`graphwright db stop`", markup=False)
    typer.echo(postmaster.url)


@db_app.command("stop")
def db_stop(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Stop it even while a graphwright process (serve, worker) uses it."
        ),
    ] = False,
) -> None:
    """Stop the embedded server now (exit 1 if a graphwright process uses it; see --force)."""
    from graphwright.runtime.embedded import process_command

    settings = _settings()
    _configured_note(settings)
    server = _server(settings)
    try:
        outcome = server.stop(force=force)
    except GraphwrightError as exc:
        _fail(exc)
    if outcome == "in_use":
        users = server.status().users
        err.print("error: [db.in_use] the embedded PostgreSQL is in use by:", markup=False)
        for pid in users or []:
            err.print(f"  pid {pid}: {process_command(pid)}", markup=False)
        if not users:
            err.print("  another graphwright process", markup=False)
        err.print("  stop those first, or pass --force (their connections are closed)")
        raise typer.Exit(1)
    err.print(
        "embedded PostgreSQL stopped" if outcome == "stopped" else "not running", markup=False
    )
