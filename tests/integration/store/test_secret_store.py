"""The secret store against a real PostgreSQL: set, list, delete, read, keys and tenants."""

from __future__ import annotations

import pytest

from graphwright.errors import ConfigurationError, InvalidInputError, NotFoundError
from graphwright.store import Pool, apply_migrations
from graphwright.store.secrets import SecretCipher, SecretStore, generate_key

pytestmark = pytest.mark.integration

VALUE = "horse battery staple 7731"


def store(pool: Pool, *keys: str) -> SecretStore:
    """A store over ``pool`` with ``keys`` (none: GW_SECRET_KEY unset)."""
    return SecretStore(pool, cipher=SecretCipher(list(keys)) if keys else None)


async def test_set_list_read_delete(pool: Pool, tenant: str) -> None:
    """Set creates then replaces; list shows names and times only; read decrypts; delete removes."""
    secrets = store(pool, generate_key())
    first = await secrets.set(tenant, "CRM_TOKEN", "one")
    again = await secrets.set(tenant, "CRM_TOKEN", VALUE)
    await secrets.set(tenant, "API.KEY-2", "two")
    assert (first.created, again.created) == (True, False)
    assert again.created_at == first.created_at
    assert again.updated_at >= first.updated_at
    listed = await secrets.list(tenant)
    assert [info.name for info in listed] == ["API.KEY-2", "CRM_TOKEN"]
    assert set(listed[0].to_dict()) == {"name", "created_at", "updated_at"}
    assert await secrets.read(tenant) == {"CRM_TOKEN": VALUE, "API.KEY-2": "two"}
    await secrets.delete(tenant, "CRM_TOKEN")
    assert await secrets.read(tenant) == {"API.KEY-2": "two"}
    with pytest.raises(NotFoundError) as caught:
        await secrets.delete(tenant, "CRM_TOKEN")
    assert caught.value.code == "secrets.not_found"


async def test_the_table_holds_no_plaintext(pool: Pool, tenant: str) -> None:
    """The stored row is a ciphertext; the value is nowhere in it."""
    await store(pool, generate_key()).set(tenant, "CRM_TOKEN", VALUE)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select ciphertext from gw_tenant_secrets where tenant_id = %s", (tenant,)
        )
        row = await cur.fetchone()
    assert row is not None
    assert VALUE.encode() not in bytes(row["ciphertext"])


async def test_tenants_do_not_see_each_other(pool: Pool, tenant: str) -> None:
    """Another tenant lists, reads and deletes none of this tenant's secrets."""
    secrets = store(pool, generate_key())
    await secrets.set(tenant, "CRM_TOKEN", VALUE)
    other = f"{tenant}-other"
    assert await secrets.list(other) == []
    assert await secrets.read(other) == {}
    with pytest.raises(NotFoundError):
        await secrets.delete(other, "CRM_TOKEN")
    assert await secrets.read(tenant) == {"CRM_TOKEN": VALUE}


async def test_a_ciphertext_copied_to_another_tenant_does_not_decrypt(
    pool: Pool, tenant: str
) -> None:
    """A row copied into another tenant (same key) fails secrets.corrupt instead of leaking."""
    secrets = store(pool, generate_key())
    await secrets.set(tenant, "CRM_TOKEN", VALUE)
    other = f"{tenant}-thief"
    async with pool.connection() as conn:
        await conn.execute(
            "insert into gw_tenant_secrets (tenant_id, name, ciphertext)"
            " select %s, name, ciphertext from gw_tenant_secrets where tenant_id = %s",
            (other, tenant),
        )
    with pytest.raises(ConfigurationError) as caught:
        await secrets.read(other)
    assert caught.value.code == "secrets.corrupt"


async def test_without_a_key_setting_fails_and_reading_works_only_while_empty(
    pool: Pool, tenant: str
) -> None:
    """No GW_SECRET_KEY: set is secrets.no_key; read is {} until the tenant has secrets."""
    keyless = store(pool)
    with pytest.raises(ConfigurationError) as caught:
        await keyless.set(tenant, "CRM_TOKEN", VALUE)
    assert caught.value.code == "secrets.no_key"
    assert await keyless.read(tenant) == {}
    await store(pool, generate_key()).set(tenant, "CRM_TOKEN", VALUE)
    assert [info.name for info in await keyless.list(tenant)] == ["CRM_TOKEN"]
    with pytest.raises(ConfigurationError) as caught:
        await keyless.read(tenant)
    assert caught.value.code == "secrets.no_key"
    await keyless.delete(tenant, "CRM_TOKEN")
    assert await keyless.read(tenant) == {}


async def test_a_wrong_key_is_a_coded_error(pool: Pool, tenant: str) -> None:
    """Secrets set with one key and read with another fail with secrets.wrong_key."""
    await store(pool, generate_key()).set(tenant, "CRM_TOKEN", VALUE)
    with pytest.raises(ConfigurationError) as caught:
        await store(pool, generate_key()).read(tenant)
    assert caught.value.code == "secrets.wrong_key"
    assert VALUE not in str(caught.value.to_dict())


async def test_reencrypt_moves_every_secret_to_the_first_key(fresh_pool: Pool) -> None:
    """After reencrypt with NEW,OLD, the new key alone reads what the old key wrote."""
    await apply_migrations(fresh_pool)
    old, new = generate_key(), generate_key()
    await store(fresh_pool, old).set("acme", "CRM_TOKEN", VALUE)
    await store(fresh_pool, old).set("globex", "API_KEY", "two")
    assert await store(fresh_pool, new, old).reencrypt() == 2
    assert await store(fresh_pool, new).read("acme") == {"CRM_TOKEN": VALUE}
    assert await store(fresh_pool, new).read("globex") == {"API_KEY": "two"}


async def test_reencrypt_changes_nothing_when_a_secret_does_not_decrypt(fresh_pool: Pool) -> None:
    """One secret no key decrypts makes reencrypt fail whole: the others stay as they were."""
    await apply_migrations(fresh_pool)
    old, lost = generate_key(), generate_key()
    await store(fresh_pool, old).set("acme", "A", "one")
    await store(fresh_pool, lost).set("acme", "B", "two")
    with pytest.raises(ConfigurationError) as caught:
        await store(fresh_pool, generate_key(), old).reencrypt()
    assert caught.value.code == "secrets.wrong_key"
    assert await store(fresh_pool, old, lost).read("acme") == {"A": "one", "B": "two"}


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("1BAD", "x", "secrets.invalid_name"),
        ("has space", "x", "secrets.invalid_name"),
        ("A" * 129, "x", "secrets.invalid_name"),
        ("OK", "", "secrets.invalid_value"),
        ("OK", "x" * 65_537, "secrets.invalid_value"),
    ],
    ids=["leading-digit", "space", "too-long-name", "empty-value", "too-large-value"],
)
async def test_bad_names_and_values_are_refused(
    pool: Pool, tenant: str, name: str, value: str, code: str
) -> None:
    """Names outside the pattern and empty or oversized values are refused with their code."""
    with pytest.raises(InvalidInputError) as caught:
        await store(pool, generate_key()).set(tenant, name, value)
    assert caught.value.code == code
