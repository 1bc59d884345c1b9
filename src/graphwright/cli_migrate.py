"""``graphwright migrate``: apply the schema migrations now, as an upgrade step of its own.

Every ``serve`` and ``worker`` process applies missing migrations when it starts,
under one PostgreSQL advisory lock, so processes starting together apply each file
once. An operator upgrading a deployment runs this command first (a release job,
an init container): the new schema is in place before any new process starts, and
the old processes keep running on it (migrations only add).
"""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["migrate"]


def migrate(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {applied, pending, known} as JSON.")
    ] = False,
) -> None:
    """Apply the migrations the database lacks and list what it has; exit 2 if it cannot."""
    from graphwright.cli import _arun, _fail, _print_json, _settings, err
    from graphwright.errors import GraphwrightError
    from graphwright.runtime.database import Database
    from graphwright.store.migrations import applied_migrations, load_migrations
    from graphwright.store.pool import mask_url

    settings = _settings()

    async def go() -> dict[str, object]:
        async with Database(settings) as database:
            recorded = await applied_migrations(database.pool, timeout=10)
            known = [migration.name for migration in load_migrations()]
            return {
                "database": mask_url(database.url),
                "applied": database.applied_migrations,
                "known": known,
                "pending": [name for name in known if name not in recorded],
                "newer": sorted(recorded - set(known)),
            }

    try:
        report = _arun(go)
    except GraphwrightError as exc:
        _fail(exc)
    if json_output:
        _print_json(report)
        return
    applied = report["applied"]
    known = report["known"]
    assert isinstance(applied, list)
    assert isinstance(known, list)
    if applied:
        for name in applied:
            err.print(f"applied {name}", markup=False)
    err.print(
        f"{report['database']}: schema up to date ({len(known)} migrations"
        f"{', ' + str(len(applied)) + ' applied now' if applied else ''})",
        markup=False,
    )
    newer = report["newer"]
    if newer:
        err.print(f"the database also has migrations of a newer release: {newer}", markup=False)
