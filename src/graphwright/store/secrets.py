"""Tenants' secrets for node code, encrypted at rest with ``GW_SECRET_KEY`` (Fernet).

Values are encrypted with ``cryptography``'s ``MultiFernet``: the first key of
``GW_SECRET_KEY`` encrypts, every key decrypts, so keys can be rotated by
putting a new key first. Each ciphertext also seals the tenant and name it
was stored under, so a ciphertext copied to another row does not decrypt
there. Listing returns names and times only; values leave this module only
through :meth:`SecretStore.read`, for the runtime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from psycopg.rows import DictRow
from pydantic import SecretStr

from graphwright.errors import ConfigurationError, InvalidInputError, NotFoundError
from graphwright.store.pool import Pool

__all__ = [
    "MAX_SECRET_BYTES",
    "SECRET_NAME_PATTERN",
    "SecretCipher",
    "SecretInfo",
    "SecretStore",
    "check_secret_name",
    "generate_key",
]

SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
"""Secret names: a letter, then letters, digits, ``_``, ``.`` or ``-`` (128 at most)."""

MAX_SECRET_BYTES = 65_536
"""Largest secret value, in UTF-8 bytes."""

_NO_KEY = (
    "GW_SECRET_KEY is not set, so secrets cannot be {what}; generate a key with "
    "`graphwright secrets keygen` and set GW_SECRET_KEY in every graphwright process"
)


def generate_key() -> str:
    """A new random key for ``GW_SECRET_KEY`` (Fernet: 32 url-safe base64-encoded bytes)."""
    return Fernet.generate_key().decode("ascii")


def check_secret_name(name: str) -> None:
    """Refuse a name outside :data:`SECRET_NAME_PATTERN`.

    Raises:
        InvalidInputError: ``secrets.invalid_name``.
    """
    if not SECRET_NAME_PATTERN.fullmatch(name):
        raise InvalidInputError(
            "a secret name is a letter followed by at most 127 letters, digits, '_', '.' or '-'",
            code="secrets.invalid_name",
            details={"pattern": SECRET_NAME_PATTERN.pattern},
        )


class SecretCipher:
    """Encrypts and decrypts secret values with the keys of ``GW_SECRET_KEY``."""

    def __init__(self, keys: Sequence[str]) -> None:
        """Use ``keys``: the first encrypts, all decrypt.

        Raises:
            ConfigurationError: ``secrets.no_key`` without keys, ``config.invalid``
                for a key that is not a Fernet key (the key is never shown).
        """
        if not keys:
            raise ConfigurationError(_NO_KEY.format(what="used"), code="secrets.no_key")
        try:
            self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError):
            raise ConfigurationError(
                "GW_SECRET_KEY holds a value that is not a Fernet key"
            ) from None

    @classmethod
    def from_setting(cls, secret_key: SecretStr | None) -> SecretCipher | None:
        """The cipher of ``settings.secret_key`` (comma-separated keys), None when unset."""
        if secret_key is None:
            return None
        keys = [k.strip() for k in secret_key.get_secret_value().split(",") if k.strip()]
        return cls(keys) if keys else None

    def encrypt(self, tenant: str, name: str, value: str) -> bytes:
        """Encrypt ``value``, sealed to ``tenant`` and ``name``, with the first key."""
        sealed = json.dumps({"tenant": tenant, "name": name, "value": value})
        return self._fernet.encrypt(sealed.encode("utf-8"))

    def decrypt(self, tenant: str, name: str, token: bytes) -> str:
        """Decrypt a value stored as ``tenant``/``name``.

        Raises:
            ConfigurationError: ``secrets.wrong_key`` when no key decrypts it,
                ``secrets.corrupt`` when it was sealed to another tenant or name.
        """
        try:
            sealed = json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ConfigurationError(
                f"secret '{name}' of tenant '{tenant}' cannot be decrypted with any key in "
                "GW_SECRET_KEY (was it set with a key that is no longer listed?)",
                code="secrets.wrong_key",
                details={"tenant": tenant, "name": name},
            ) from None
        if not (
            isinstance(sealed, dict)
            and sealed.get("tenant") == tenant
            and sealed.get("name") == name
            and isinstance(sealed.get("value"), str)
        ):
            raise ConfigurationError(
                f"secret '{name}' of tenant '{tenant}' holds a value sealed for another "
                "tenant or name; set it again",
                code="secrets.corrupt",
                details={"tenant": tenant, "name": name},
            )
        value: str = sealed["value"]
        return value

    def rotate(self, tenant: str, name: str, token: bytes) -> bytes:
        """Re-encrypt a stored value with the first key.

        Raises:
            ConfigurationError: ``secrets.wrong_key`` when no key decrypts it.
        """
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise ConfigurationError(
                f"secret '{name}' of tenant '{tenant}' cannot be decrypted with any key in "
                "GW_SECRET_KEY",
                code="secrets.wrong_key",
                details={"tenant": tenant, "name": name},
            ) from None


@dataclass(frozen=True)
class SecretInfo:
    """A stored secret, without its value.

    Attributes:
        name: The secret's name.
        created_at: When it was first set.
        updated_at: When its value was last set.
        created: Whether the call that returned it created it (False: replaced, or read).
    """

    name: str
    created_at: datetime
    updated_at: datetime
    created: bool = False

    def to_dict(self) -> dict[str, str]:
        """Name and ISO times (never the value)."""
        return {
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class SecretStore:
    """Tenants' secrets in ``gw_tenant_secrets``; every call is limited to one tenant."""

    def __init__(self, pool: Pool, *, cipher: SecretCipher | None) -> None:
        """Use ``pool``; ``cipher`` is None when ``GW_SECRET_KEY`` is unset."""
        self._pool = pool
        self._cipher = cipher

    @property
    def has_key(self) -> bool:
        """Whether values can be encrypted and decrypted (``GW_SECRET_KEY`` is set)."""
        return self._cipher is not None

    async def set(self, tenant: str, name: str, value: str) -> SecretInfo:
        """Create or replace a secret's value.

        Raises:
            InvalidInputError: ``secrets.invalid_name``, ``secrets.invalid_value``
                (empty, or larger than :data:`MAX_SECRET_BYTES`).
            ConfigurationError: ``secrets.no_key`` when ``GW_SECRET_KEY`` is unset.
        """
        check_secret_name(name)
        size = len(value.encode("utf-8", "surrogatepass"))
        if not value or size > MAX_SECRET_BYTES:
            raise InvalidInputError(
                f"a secret value has 1 to {MAX_SECRET_BYTES} bytes (this one: {size})",
                code="secrets.invalid_value",
                details={"name": name, "bytes": size, "max_bytes": MAX_SECRET_BYTES},
            )
        if self._cipher is None:
            raise ConfigurationError(_NO_KEY.format(what="set"), code="secrets.no_key")
        ciphertext = self._cipher.encrypt(tenant, name, value)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "insert into gw_tenant_secrets (tenant_id, name, ciphertext) values (%s, %s, %s)"
                " on conflict (tenant_id, name) do update"
                " set ciphertext = excluded.ciphertext, updated_at = now()"
                " returning name, created_at, updated_at, (xmax = 0) as created",
                (tenant, name, ciphertext),
            )
            row = await cur.fetchone()
        if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise RuntimeError("insert into gw_tenant_secrets returned no row")
        return _info(row)

    async def list(self, tenant: str) -> list[SecretInfo]:
        """The tenant's secrets by name: names and times, never values (no key needed)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select name, created_at, updated_at from gw_tenant_secrets"
                " where tenant_id = %s order by name",
                (tenant,),
            )
            rows = await cur.fetchall()
        return [_info(row) for row in rows]

    async def delete(self, tenant: str, name: str) -> None:
        """Delete a secret (no key needed).

        Raises:
            NotFoundError: ``secrets.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "delete from gw_tenant_secrets where tenant_id = %s and name = %s returning name",
                (tenant, name),
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(
                f"tenant '{tenant}' has no secret named '{name}'",
                code="secrets.not_found",
                details={"name": name},
            )

    async def read(self, tenant: str) -> dict[str, str]:
        """Every secret of the tenant, decrypted: for the runtime, never for a response.

        Without ``GW_SECRET_KEY`` this works only while the tenant has no secrets.

        Raises:
            ConfigurationError: ``secrets.no_key`` (the tenant has secrets but no key is
                set), ``secrets.wrong_key`` or ``secrets.corrupt`` (see
                :meth:`SecretCipher.decrypt`).
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select name, ciphertext from gw_tenant_secrets where tenant_id = %s",
                (tenant,),
            )
            rows = await cur.fetchall()
        if not rows:
            return {}
        if self._cipher is None:
            raise ConfigurationError(
                _NO_KEY.format(what="read") + f" (tenant '{tenant}' has {len(rows)})",
                code="secrets.no_key",
                details={"tenant": tenant},
            )
        cipher = self._cipher
        return {
            row["name"]: cipher.decrypt(tenant, row["name"], bytes(row["ciphertext"]))
            for row in rows
        }

    async def reencrypt(self) -> int:
        """Re-encrypt every tenant's secrets with the first key of ``GW_SECRET_KEY``.

        After it, keys listed after the first can be dropped. One transaction: on an
        error nothing is changed.

        Returns:
            How many secrets were re-encrypted.

        Raises:
            ConfigurationError: ``secrets.no_key``, or ``secrets.wrong_key`` for a
                secret no key decrypts.
        """
        if self._cipher is None:
            raise ConfigurationError(_NO_KEY.format(what="re-encrypted"), code="secrets.no_key")
        async with self._pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "select tenant_id, name, ciphertext from gw_tenant_secrets for update"
            )
            rows = await cur.fetchall()
            for row in rows:
                tenant, name = row["tenant_id"], row["name"]
                await conn.execute(
                    "update gw_tenant_secrets set ciphertext = %s"
                    " where tenant_id = %s and name = %s",
                    (self._cipher.rotate(tenant, name, bytes(row["ciphertext"])), tenant, name),
                )
        return len(rows)


def _info(row: DictRow) -> SecretInfo:
    return SecretInfo(
        name=row["name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        created=bool(row.get("created", False)),
    )
