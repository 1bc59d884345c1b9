"""Per-tenant webhook signing secrets, encrypted at rest with ``GW_SECRET_KEY``.

A tenant's secret is created on first use (its first delivery, or an admin
reading it) and rotated by an admin; after a rotation the previous secret keeps
signing too until its grace period ends, so receivers can switch without
refusing deliveries. Without ``GW_SECRET_KEY`` there is no secret: runs with a
``webhook`` are refused at creation (``webhook.no_secret_key``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphwright.errors import WorkflowConflictError
from graphwright.store.pool import Pool
from graphwright.store.secrets import SecretCipher

__all__ = ["SECRET_PREFIX", "SigningSecret", "WebhookSecretStore", "no_key_message"]

SECRET_PREFIX = "whsec_"
"""Every signing secret starts with it (the whole string is the HMAC key)."""

_SEALED_NAME = "webhook-signing"
"""The name ciphertexts are sealed to (see :class:`SecretCipher`)."""


def no_key_message() -> str:
    """Why webhooks cannot be signed without ``GW_SECRET_KEY``."""
    return (
        "webhooks are signed with a per-tenant secret stored encrypted with GW_SECRET_KEY, "
        "which is not set: generate a key with `graphwright secrets keygen` and set "
        "GW_SECRET_KEY in every graphwright process"
    )


@dataclass(frozen=True)
class SigningSecret:
    """A tenant's signing secret.

    Attributes:
        secret: The current secret (signs every delivery).
        previous: The secret before the last rotation, while it still signs.
        previous_expires_at: When ``previous`` stops signing.
        created_at: When the tenant's first secret was created.
        rotated_at: When it was last rotated (None: never).
    """

    secret: str
    previous: str | None
    previous_expires_at: datetime | None
    created_at: datetime
    rotated_at: datetime | None

    def signing_keys(self, now: datetime | None = None) -> list[str]:
        """The secrets a delivery is signed with now: the current one first."""
        now = now or datetime.now(UTC)
        keys = [self.secret]
        if self.previous and self.previous_expires_at and self.previous_expires_at > now:
            keys.append(self.previous)
        return keys

    def to_dict(self) -> dict[str, Any]:
        """The API answer (the secret is shown: admins only)."""
        now = datetime.now(UTC)
        previous_live = self.previous_expires_at is not None and self.previous_expires_at > now
        return {
            "secret": self.secret,
            "created_at": self.created_at.isoformat(),
            "rotated_at": None if self.rotated_at is None else self.rotated_at.isoformat(),
            "previous_expires_at": (
                self.previous_expires_at.isoformat()
                if previous_live and self.previous_expires_at is not None
                else None
            ),
        }


class WebhookSecretStore:
    """Signing secrets in ``gw_webhook_secrets``, one per tenant."""

    def __init__(self, pool: Pool, *, cipher: SecretCipher | None) -> None:
        """Use ``pool``; ``cipher`` is None when ``GW_SECRET_KEY`` is unset."""
        self._pool = pool
        self._cipher = cipher

    @property
    def has_key(self) -> bool:
        """Whether secrets can be created and read (``GW_SECRET_KEY`` is set)."""
        return self._cipher is not None

    def _need_cipher(self) -> SecretCipher:
        if self._cipher is None:
            raise WorkflowConflictError(no_key_message(), code="webhook.no_secret_key")
        return self._cipher

    async def get(self, tenant: str) -> SigningSecret:
        """The tenant's secret, created now if it has none.

        Raises:
            WorkflowConflictError: ``webhook.no_secret_key`` without ``GW_SECRET_KEY``.
            ConfigurationError: ``secrets.wrong_key`` / ``secrets.corrupt`` (see
                :meth:`SecretCipher.decrypt`).
        """
        cipher = self._need_cipher()
        row = await self._read(tenant)
        if row is None:
            fresh = cipher.encrypt(tenant, _SEALED_NAME, _new_secret())
            async with self._pool.connection() as conn:
                await conn.execute(
                    "insert into gw_webhook_secrets (tenant_id, ciphertext) values (%s, %s)"
                    " on conflict (tenant_id) do nothing",
                    (tenant, fresh),
                )
            row = await self._read(tenant)
            if row is None:  # pragma: no cover - the row was just written
                raise RuntimeError("gw_webhook_secrets lost a row it just wrote")
        return self._secret(tenant, row)

    async def rotate(self, tenant: str, *, grace_seconds: float) -> SigningSecret:
        """Replace the tenant's secret; the old one keeps signing for ``grace_seconds``.

        Raises:
            WorkflowConflictError: ``webhook.no_secret_key`` without ``GW_SECRET_KEY``.
        """
        cipher = self._need_cipher()
        await self.get(tenant)  # a first rotation rotates a secret that exists
        fresh = cipher.encrypt(tenant, _SEALED_NAME, _new_secret())
        async with self._pool.connection() as conn:
            await conn.execute(
                "update gw_webhook_secrets set"
                " previous_ciphertext = case when %(grace)s > 0 then ciphertext end,"
                " previous_expires_at = case when %(grace)s > 0"
                "  then now() + make_interval(secs => %(grace)s::float8) end,"
                " ciphertext = %(new)s, rotated_at = now() where tenant_id = %(tenant)s",
                {"grace": grace_seconds, "new": fresh, "tenant": tenant},
            )
        return await self.get(tenant)

    async def _read(self, tenant: str) -> Mapping[str, Any] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select ciphertext, previous_ciphertext, previous_expires_at, created_at,"
                " rotated_at from gw_webhook_secrets where tenant_id = %s",
                (tenant,),
            )
            return await cur.fetchone()

    def _secret(self, tenant: str, row: Mapping[str, Any]) -> SigningSecret:
        cipher = self._need_cipher()
        previous = row["previous_ciphertext"]
        return SigningSecret(
            secret=cipher.decrypt(tenant, _SEALED_NAME, bytes(row["ciphertext"])),
            previous=None
            if previous is None
            else cipher.decrypt(tenant, _SEALED_NAME, bytes(previous)),
            previous_expires_at=row["previous_expires_at"],
            created_at=row["created_at"],
            rotated_at=row["rotated_at"],
        )


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)
