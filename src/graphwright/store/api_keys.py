"""API keys: created with a tenant, roles and an optional metadata scope; shown once.

A key reads ``gwk_<key id>_<secret>``. The key id is public (it names the key in
listings and audits); the secret is 32 random bytes, stored only as its SHA-256.
A slow password hash would add nothing here: the secret is random and long, so
its hash cannot be searched, and a fast hash keeps every request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from graphwright.auth.principal import ROLES, AuthError, Principal
from graphwright.errors import InvalidInputError, NotFoundError
from graphwright.store.pool import Pool

__all__ = ["KEY_PREFIX", "ApiKey", "ApiKeyStore", "check_roles", "check_scope"]

KEY_PREFIX = "gwk_"
"""How every graphwright API key starts (so leaked keys are easy to recognise)."""

_COLUMNS = "key_id, tenant_id, name, roles, scope, created_at, last_used_at, expires_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    tenant_id: str
    name: str
    roles: tuple[str, ...]
    scope: dict[str, Any]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO 8601)."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "key_id": self.key_id,
            "tenant": self.tenant_id,
            "name": self.name,
            "roles": list(self.roles),
            "scope": self.scope,
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
        }

    def principal(self) -> Principal:
        """The principal a request made with this key acts as."""
        return Principal(
            id=f"key:{self.key_id}",
            tenant=self.tenant_id,
            roles=frozenset(self.roles),
            name=self.name,
            kind="key",
            scope=dict(self.scope),
        )


def check_roles(roles: Sequence[str]) -> tuple[str, ...]:
    """Known role names, deduplicated in order.

    Raises:
        InvalidInputError: ``auth.invalid_role`` (none given, or an unknown name).
    """
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise InvalidInputError(
            f"roles must be some of {', '.join(ROLES)}; got {', '.join(roles) or 'none'}",
            code="auth.invalid_role",
            details={"unknown": unknown, "roles": list(ROLES)},
        )
    return tuple(dict.fromkeys(roles))


def check_scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """A scope is thread metadata: string keys with string, number or boolean values.

    Raises:
        InvalidInputError: ``auth.invalid_scope``.
    """
    bad = [k for k, v in scope.items() if not isinstance(v, str | int | float | bool) or not k]
    if bad:
        raise InvalidInputError(
            f"scope values must be strings, numbers or booleans (bad: {', '.join(bad)})",
            code="auth.invalid_scope",
        )
    return dict(scope)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _record(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(**{**row, "roles": tuple(row["roles"]), "scope": dict(row["scope"] or {})})


class ApiKeyStore:
    """API keys in PostgreSQL (``gw_api_keys``)."""

    def __init__(self, pool: Pool) -> None:
        """Use ``pool``."""
        self._pool = pool

    async def create(
        self,
        tenant: str,
        name: str,
        roles: Sequence[str],
        *,
        scope: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; returns the stored key and the key text (shown once, never stored).

        Raises:
            InvalidInputError: unknown roles, a bad scope or an empty name.
        """
        checked = check_roles(roles)
        if not name.strip() or len(name) > 200:
            raise InvalidInputError(
                "a key needs a name (1-200 characters)", code="auth.invalid_name"
            )
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "insert into gw_api_keys (key_id, tenant_id, name, roles, scope, secret_hash,"
                " expires_at) values (%s, %s, %s, %s, %s, %s, %s) returning " + _COLUMNS,
                (
                    key_id,
                    tenant,
                    name.strip(),
                    list(checked),
                    Jsonb(check_scope(scope or {})),
                    _digest(secret),
                    expires_at,
                ),
            )
            row = await cur.fetchone()
        assert row is not None
        return _record(row), f"{KEY_PREFIX}{key_id}_{secret}"

    async def list(self, tenant: str | None = None) -> list[ApiKey]:
        """Keys of a tenant (every tenant with None), oldest first, revoked ones included."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_api_keys"
                " where %(tenant)s::text is null or tenant_id = %(tenant)s::text"
                " order by created_at, key_id",
                {"tenant": tenant},
            )
            return [_record(r) for r in await cur.fetchall()]

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> ApiKey:
        """Revoke a key at once (of ``tenant`` when given); revoking twice is harmless.

        Raises:
            NotFoundError: ``auth.key_not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update gw_api_keys set revoked_at = coalesce(revoked_at, now())"
                " where key_id = %(key)s"
                " and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)"
                " returning " + _COLUMNS,
                {"key": key_id, "tenant": tenant},
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}", code="auth.key_not_found")
        return _record(row)

    async def verify(self, presented: str) -> ApiKey:
        """The live key matching ``presented``; records its use (at most once a minute).

        Raises:
            AuthError: ``auth.invalid`` (malformed, unknown, wrong secret or revoked),
                ``auth.expired``.
        """
        prefix, _, rest = presented.partition(KEY_PREFIX)
        key_id, _, secret = rest.partition("_")
        if prefix or not key_id or not secret or len(presented) > 200:
            raise AuthError("the API key is malformed", code="auth.invalid")
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS}, secret_hash from gw_api_keys where key_id = %s", (key_id,)
            )
            row = await cur.fetchone()
            if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _digest(secret)):
                raise AuthError("the API key is not valid", code="auth.invalid")
            key = _record({k: v for k, v in row.items() if k != "secret_hash"})
            if key.revoked_at is not None:
                raise AuthError("the API key was revoked", code="auth.invalid")
            if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
                raise AuthError("the API key has expired", code="auth.expired")
            await conn.execute(
                "update gw_api_keys set last_used_at = now() where key_id = %s"
                " and (last_used_at is null or last_used_at < now() - interval '60 seconds')",
                (key_id,),
            )
        return key

    async def get(self, key_id: str, *, tenant: str | None = None) -> ApiKey:
        """One key (of ``tenant`` when given).

        Raises:
            NotFoundError: ``auth.key_not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_api_keys where key_id = %(key)s"
                " and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)",
                {"key": key_id, "tenant": tenant},
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFoundError(f"no API key {key_id!r}", code="auth.key_not_found")
        return _record(row)
