"""``graphwright prune``: prune the checkpoints of finished threads (and remove expired ones).

Against the configured database (``GW_DATABASE_URL``) or the embedded one, like
every command. The same work as the background job of ``serve``/``worker``
(``GW_PRUNE_INTERVAL_SECONDS``), done now, with the options given here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from graphwright.store.pruning import PruneReport
    from graphwright.store.thread_ttl import ExpiryReport

__all__ = ["parse_duration", "prune"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SHOWN = ("checkpoints", "checkpoint_writes", "checkpoint_blobs")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number with an optional unit (``90``, ``30m``, ``12h``, ``7d``).

    Raises:
        typer.BadParameter: not a duration.
    """
    match = _DURATION.match(text.lower())
    if match is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration: a number with s, m, h, d or w (30m, 12h, 7d)",
            param_hint="--older-than",
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _figures(rows: Mapping[tuple[str, Any], int], tables: tuple[str, ...] = _SHOWN) -> str:
    totals = {table: 0 for table in tables}
    for (table, _), n in rows.items():
        if table in totals:
            totals[table] += n
    names = {"checkpoint_writes": "writes", "checkpoint_blobs": "blobs"}
    return ", ".join(f"{n:,} {names.get(table, table)}" for table, n in totals.items())


def _describe(prune_report: PruneReport, expiry: ExpiryReport | None, *, dry_run: bool) -> None:
    from graphwright.cli import err

    verb = "would prune" if dry_run else "pruned"
    if dry_run:
        for ref in prune_report.threads:
            mine = {k: n for k, n in prune_report.rows.items() if k[1] == ref}
            typer.echo(f"{verb} {ref.tenant_id}/{ref.thread_id}: {_figures(mine)}")
        if expiry is not None:
            for ref in expiry.deleted:
                mine = {k: n for k, n in expiry.rows.items() if k[1] == ref}
                typer.echo(
                    f"would delete expired {ref.tenant_id}/{ref.thread_id}: "
                    f"{sum(mine.values()):,} rows"
                )
    if expiry is not None:
        gone = "would delete" if dry_run else "deleted"
        err.print(
            f"{gone} {len(expiry.deleted):,} expired threads ({sum(expiry.rows.values()):,} rows),"
            f" {'would prune' if dry_run else 'pruned'} {len(expiry.pruned):,} (keep_latest)",
            markup=False,
        )
    err.print(
        f"{verb} {len(prune_report.threads):,} threads: {_figures(prune_report.rows)}"
        + (" (dry run: nothing was deleted)" if dry_run else ""),
        markup=False,
    )


def _summary(report: PruneReport, expiry: ExpiryReport | None, *, dry_run: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dry_run": dry_run,
        "pruned_threads": [f"{r.tenant_id}/{r.thread_id}" for r in report.threads],
        "pruned_rows": report.table_totals(),
    }
    if expiry is not None:
        out["expired_threads"] = [f"{r.tenant_id}/{r.thread_id}" for r in expiry.deleted]
        out["kept_latest_threads"] = [f"{r.tenant_id}/{r.thread_id}" for r in expiry.pruned]
        totals: dict[str, int] = {}
        for (table, _), n in expiry.rows.items():
            totals[table] = totals.get(table, 0) + n
        out["expired_rows"] = totals
    return out


def prune(
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            min=1,
            help="Checkpoints kept per thread and namespace, newest first (default: "
            "GW_PRUNE_KEEP).",
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Only threads idle at least this long: 90s, 30m, 12h, 7d (default: "
            "GW_PRUNE_OLDER_THAN_SECONDS).",
            show_default=False,
        ),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Only this tenant's threads (default: every tenant's)."),
    ] = None,
    expired: Annotated[
        bool,
        typer.Option(
            "--expired", help="Also remove the threads past their TTL, as the sweeper does."
        ),
    ] = False,
    again: Annotated[
        bool,
        typer.Option("--again", help="Also threads pruned before and unchanged since."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print what would be deleted; delete nothing."),
    ] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=10_000, help="Threads per transaction.")
    ] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Prune the checkpoints of finished threads, keeping the newest; threads waiting at a
    gate or running are left whole. History stays readable from the oldest kept checkpoint."""
    from graphwright.cli import _arun, _fail, _print_json, _settings
    from graphwright.cli_secrets import _settings_for
    from graphwright.errors import ConfigurationError
    from graphwright.runtime.database import Database
    from graphwright.store.pool import OUTAGE_ERRORS
    from graphwright.store.pruning import PrunePolicy, prune_threads
    from graphwright.store.thread_ttl import expire_threads

    settings = _settings() if tenant is None else _settings_for(tenant)
    policy = PrunePolicy(
        keep=keep if keep is not None else settings.prune_keep,
        older_than_seconds=(
            parse_duration(older_than)
            if older_than is not None
            else settings.prune_older_than_seconds
        ),
        tenant=tenant,
        again=again,
    )

    async def go() -> tuple[PruneReport, ExpiryReport | None]:
        async with Database(settings) as database:
            expiry = None
            if expired:
                expiry = await expire_threads(
                    database.pool,
                    default_minutes=settings.thread_ttl_minutes,
                    batch=batch,
                    tenant=tenant,
                    dry_run=dry_run,
                )
            report = await prune_threads(database.pool, policy, batch=batch, dry_run=dry_run)
            return report, expiry

    try:
        report, expiry = _arun(go)
    except OUTAGE_ERRORS as exc:
        _fail(
            ConfigurationError(
                f"the database became unavailable: {exc}; what was done before stays done",
                code="db.unavailable",
            )
        )
    if json_output:
        _print_json(_summary(report, expiry, dry_run=dry_run))
        return
    _describe(report, expiry, dry_run=dry_run)
