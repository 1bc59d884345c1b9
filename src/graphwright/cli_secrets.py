"""``graphwright secrets``: set, list and delete a tenant's secrets; generate a key.

A value is read from stdin (``... < file``, a pipe) or, on a terminal, from a
prompt that does not echo; it is never an argument, so it stays out of shell
history and process listings. Nothing here prints a value.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from graphwright.settings import Settings
    from graphwright.store.secrets import SecretStore

__all__ = ["secrets_app"]

secrets_app = typer.Typer(
    name="secrets",
    help="Tenants' secrets for node code (encrypted with GW_SECRET_KEY).",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Secret name (letters, digits, '_', '.', '-').")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant (default: GW_TENANT).", show_default=False)
]


def _settings_for(tenant: str | None) -> Settings:
    """Settings from the environment, for ``tenant`` (validated like ``GW_TENANT``)."""
    from pydantic import ValidationError

    from graphwright.cli import _settings
    from graphwright.settings import Settings

    settings = _settings()
    if tenant is None or tenant == settings.tenant:
        return settings
    try:
        return Settings(**{**settings.model_dump(), "tenant": tenant})
    except ValidationError:
        raise typer.BadParameter(
            "a tenant is lower-case letters, digits, '_' and '-' (at most 63)",
            param_hint="--tenant",
        ) from None


async def _with_store(settings: Settings, use: Callable[[SecretStore], Awaitable[None]]) -> None:
    from graphwright.runtime.database import Database
    from graphwright.store.secrets import SecretCipher, SecretStore

    cipher = SecretCipher.from_setting(settings.secret_key)
    async with Database(settings) as database:
        await use(SecretStore(database.pool, cipher=cipher))


def _read_value(name: str) -> str:
    """The value from stdin (one trailing newline dropped) or a prompt without echo."""
    from graphwright.store.secrets import MAX_SECRET_BYTES

    if sys.stdin.isatty():
        value: str = typer.prompt(
            f"Value of {name}", hide_input=True, confirmation_prompt=True, err=True
        )
        return value
    value = sys.stdin.read(MAX_SECRET_BYTES + 3)
    if value.endswith("\n"):
        value = value[:-2] if value.endswith("\r\n") else value[:-1]
    if not value:
        raise typer.BadParameter("no value on stdin (pipe it in, or run on a terminal)")
    return value


@secrets_app.command("set")
def set_secret(name: NameArg, tenant: TenantOpt = None) -> None:
    """Create or replace a secret; the value comes from stdin or a hidden prompt."""
    from graphwright.cli import _arun, _fail, _print_json, err
    from graphwright.errors import GraphwrightError
    from graphwright.store.secrets import check_secret_name

    settings = _settings_for(tenant)
    try:
        check_secret_name(name)  # before asking for the value
    except GraphwrightError as exc:
        _fail(exc)
    value = _read_value(name)

    async def use(store: SecretStore) -> None:
        info = await store.set(settings.tenant, name, value)
        state = "created" if info.created else "replaced"
        err.print(f"secret {name} {state} for tenant {settings.tenant}", markup=False)
        _print_json({**info.to_dict(), "created": info.created})

    _arun(lambda: _with_store(settings, use))


@secrets_app.command("list")
def list_secrets(tenant: TenantOpt = None) -> None:
    """Print the tenant's secrets as JSON: names and times, never values."""
    from graphwright.cli import _arun, _print_json

    settings = _settings_for(tenant)

    async def use(store: SecretStore) -> None:
        _print_json([info.to_dict() for info in await store.list(settings.tenant)])

    _arun(lambda: _with_store(settings, use))


@secrets_app.command("delete")
def delete_secret(name: NameArg, tenant: TenantOpt = None) -> None:
    """Delete a secret (exit 2 with secrets.not_found when there is none)."""
    from graphwright.cli import _arun, err

    settings = _settings_for(tenant)

    async def use(store: SecretStore) -> None:
        await store.delete(settings.tenant, name)
        err.print(f"secret {name} deleted for tenant {settings.tenant}", markup=False)

    _arun(lambda: _with_store(settings, use))


@secrets_app.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt every tenant's secrets with the first key of GW_SECRET_KEY (rotation)."""
    from graphwright.cli import _arun, err

    settings = _settings_for(None)

    async def use(store: SecretStore) -> None:
        count = await store.reencrypt()
        err.print(f"{count} secret(s) re-encrypted with the first key", markup=False)

    _arun(lambda: _with_store(settings, use))


@secrets_app.command("keygen")
def keygen() -> None:
    """Print a new random key for GW_SECRET_KEY (to rotate, put it first: KEY_NEW,KEY_OLD)."""
    from graphwright.store.secrets import generate_key

    typer.echo(generate_key())
