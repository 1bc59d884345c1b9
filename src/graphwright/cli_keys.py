"""``graphwright keys``: create (shown once), list and revoke API keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from graphwright.cli_secrets import TenantOpt, _settings_for

if TYPE_CHECKING:
    from graphwright.settings import Settings
    from graphwright.store.api_keys import ApiKeyStore

__all__ = ["keys_app"]

keys_app = typer.Typer(
    name="keys",
    help="API keys of a tenant (GW_AUTH=keys): create, list, revoke.",
    no_args_is_help=True,
)


async def _with_keys(settings: Settings, use: Callable[[ApiKeyStore], Awaitable[None]]) -> None:
    from graphwright.runtime.database import Database
    from graphwright.store.api_keys import ApiKeyStore

    async with Database(settings) as database:
        await use(ApiKeyStore(database.pool))


def _scope(pairs: list[str]) -> dict[str, str]:
    scope: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise typer.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="--scope")
        scope[key.strip()] = value
    return scope


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Option("--name", help="Who or what uses the key.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role", help="admin, author, operator, approver or viewer (repeat for several)."
        ),
    ],
    tenant: TenantOpt = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", help="Limit the key to threads with this metadata, KEY=VALUE (repeatable)."
        ),
    ] = None,
    expires_in_days: Annotated[
        float | None, typer.Option("--expires-in-days", min=0.001, help="Lifetime in days.")
    ] = None,
) -> None:
    """Create a key and print it once (it cannot be shown again), with its id as JSON."""
    from graphwright.cli import _arun, _print_json, err

    settings = _settings_for(tenant)
    limits = _scope(scope or [])
    expires = (
        None if expires_in_days is None else datetime.now(UTC) + timedelta(days=expires_in_days)
    )

    async def use(store: ApiKeyStore) -> None:
        key, text = await store.create(
            settings.tenant, name, role, scope=limits, expires_at=expires
        )
        err.print(
            f"key {key.key_id} created for tenant {settings.tenant}; it is shown once, now:",
            markup=False,
        )
        _print_json({**key.to_dict(), "key": text})

    _arun(lambda: _with_keys(settings, use))


@keys_app.command("list")
def list_keys(
    tenant: TenantOpt = None,
    every_tenant: Annotated[bool, typer.Option("--all", help="Keys of every tenant.")] = False,
) -> None:
    """Print the tenant's keys as JSON (ids, names, roles, times; never the key text)."""
    from graphwright.cli import _arun, _print_json

    settings = _settings_for(tenant)

    async def use(store: ApiKeyStore) -> None:
        found = await store.list(None if every_tenant else settings.tenant)
        _print_json([key.to_dict() for key in found])

    _arun(lambda: _with_keys(settings, use))


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")],
) -> None:
    """Revoke a key at once (exit 2 with auth.key_not_found when there is none)."""
    from graphwright.cli import _arun, _print_json, err

    settings = _settings_for(None)

    async def use(store: ApiKeyStore) -> None:
        key = await store.revoke(key_id)
        err.print(f"key {key.key_id} of tenant {key.tenant_id} revoked", markup=False)
        _print_json(key.to_dict())

    _arun(lambda: _with_keys(settings, use))
