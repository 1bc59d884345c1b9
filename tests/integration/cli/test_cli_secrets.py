"""``graphwright secrets`` as an operator runs it, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
import json

import pytest
import typer.testing
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from graphwright.cli import app
from graphwright.store import Pool
from graphwright.store.secrets import SecretCipher, SecretStore, generate_key

pytestmark = pytest.mark.integration

VALUE = "horse battery staple 5501"


@pytest.fixture
def key() -> str:
    """The GW_SECRET_KEY of the test."""
    return generate_key()


@pytest.fixture
def cli(database_url: str, tenant: str, key: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose environment points at the test database, tenant and key."""
    monkeypatch.setenv("GW_DATABASE_URL", database_url)
    monkeypatch.setenv("GW_TENANT", tenant)
    monkeypatch.setenv("GW_SECRET_KEY", key)
    monkeypatch.delenv("GW_REGISTRY_MODULES", raising=False)
    return CliRunner()


async def invoke(cli: CliRunner, *args: str, stdin: str | None = None) -> Result:
    """Run the command in a thread: it runs its own event loop, as it does for a user."""
    return await asyncio.to_thread(functools.partial(cli.invoke, app, list(args), input=stdin))


def stored(pool: Pool, key: str) -> SecretStore:
    """The store as the runtime reads it."""
    return SecretStore(pool, cipher=SecretCipher.from_setting(SecretStr(key)))


async def test_set_list_delete(cli: CliRunner, pool: Pool, key: str, tenant: str) -> None:
    """set reads stdin (trailing newline dropped), list shows names only, delete removes."""
    created = await invoke(cli, "secrets", "set", "CRM_TOKEN", stdin=VALUE + "\n")
    replaced = await invoke(cli, "secrets", "set", "CRM_TOKEN", "--tenant", tenant, stdin=VALUE)
    listed = await invoke(cli, "secrets", "list")

    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["created"] is True
    assert f"secret CRM_TOKEN created for tenant {tenant}" in created.stderr
    assert json.loads(replaced.stdout)["created"] is False
    assert listed.exit_code == 0, listed.output
    assert [item["name"] for item in json.loads(listed.stdout)] == ["CRM_TOKEN"]
    assert set(json.loads(listed.stdout)[0]) == {"name", "created_at", "updated_at"}
    assert all(VALUE not in r.output for r in (created, replaced, listed))
    assert await stored(pool, key).read(tenant) == {"CRM_TOKEN": VALUE}

    deleted = await invoke(cli, "secrets", "delete", "CRM_TOKEN")
    again = await invoke(cli, "secrets", "delete", "CRM_TOKEN")

    assert deleted.exit_code == 0, deleted.output
    assert json.loads((await invoke(cli, "secrets", "list")).stdout) == []
    assert again.exit_code == 2
    assert "[secrets.not_found]" in again.stderr


async def test_tenant_option_scopes_every_command(cli: CliRunner, tenant: str) -> None:
    """--tenant picks the tenant; another tenant lists none of this one's secrets."""
    await invoke(cli, "secrets", "set", "CRM_TOKEN", "--tenant", f"{tenant}-a", stdin=VALUE)
    mine = await invoke(cli, "secrets", "list", "--tenant", f"{tenant}-a")
    other = await invoke(cli, "secrets", "list", "--tenant", f"{tenant}-b")
    bad = await invoke(cli, "secrets", "list", "--tenant", "Not A Tenant")

    assert [item["name"] for item in json.loads(mine.stdout)] == ["CRM_TOKEN"]
    assert json.loads(other.stdout) == []
    assert bad.exit_code == 2


async def test_on_a_terminal_the_value_is_prompted_without_echo(
    cli: CliRunner, pool: Pool, key: str, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a TTY the value is asked twice, hidden; it appears in no output and is stored."""
    monkeypatch.setattr(typer.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    result = await invoke(cli, "secrets", "set", "CRM_TOKEN", stdin=f"{VALUE}\n{VALUE}\n")

    assert result.exit_code == 0, result.output
    assert "Value of CRM_TOKEN" in result.output
    assert VALUE not in result.output
    assert await stored(pool, key).read(tenant) == {"CRM_TOKEN": VALUE}


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["secrets", "set", "1BAD"], VALUE, "[secrets.invalid_name]"),
        (["secrets", "set", "CRM_TOKEN"], "", "no value on stdin"),
        (["secrets", "set", "CRM_TOKEN", VALUE], "", "unexpected extra argument"),
    ],
    ids=["bad-name", "empty-stdin", "value-on-argv"],
)
def test_bad_invocations_exit_2(cli: CliRunner, args: list[str], stdin: str, expected: str) -> None:
    """A bad name, no value, or a value given as an argument: exit 2 with the reason."""
    result = cli.invoke(app, args, input=stdin)
    assert result.exit_code == 2
    assert expected in result.stderr.lower() or expected in result.stderr


def test_without_a_key_set_fails_with_a_code(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without GW_SECRET_KEY, set exits 2 with secrets.no_key and the keygen hint."""
    monkeypatch.delenv("GW_SECRET_KEY")
    result = cli.invoke(app, ["secrets", "set", "CRM_TOKEN"], input=VALUE)
    assert result.exit_code == 2
    assert "[secrets.no_key]" in result.stderr
    assert "graphwright secrets keygen" in result.stderr


async def test_keygen_makes_a_key_reencrypt_rotates_to_it(
    cli: CliRunner, pool: Pool, key: str, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new key from keygen, put first, takes over every secret after reencrypt."""
    await invoke(cli, "secrets", "set", "CRM_TOKEN", stdin=VALUE)
    new = (await invoke(cli, "secrets", "keygen")).stdout.strip()
    # Other tests' secrets in this database were set with other keys; keep only this one's.
    async with pool.connection() as conn:
        await conn.execute("delete from gw_tenant_secrets where tenant_id <> %s", (tenant,))
    monkeypatch.setenv("GW_SECRET_KEY", f"{new},{key}")

    result = await invoke(cli, "secrets", "reencrypt")

    assert result.exit_code == 0, result.output
    assert await stored(pool, new).read(tenant) == {"CRM_TOKEN": VALUE}
