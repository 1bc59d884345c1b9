"""Settings, read from ``GW_*`` environment variables and validated at start."""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphwright.registry.llms import LLMConfig

__all__ = ["Settings"]


class Settings(BaseSettings):
    """graphwright configuration. Every field maps to ``GW_<NAME>``.

    Invalid values fail at start-up with a clear message (pydantic validation).
    """

    # hide_input_in_errors: a refused value (a key, a URL with a password) is never echoed.
    model_config = SettingsConfigDict(
        env_prefix="GW_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL in data_dir.",
    )
    data_dir: Path = Field(
        default=Path(".graphwright"), description="Embedded PostgreSQL data directory."
    )
    registry_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["graphwright.examples"],
        description="Comma-separated modules (or .py files) with register(registry).",
    )
    tenant: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="Tenant of unauthenticated local use (CLI, embedding, a loopback server).",
    )
    worker_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated tenants whose runs this process's workers claim "
        "(empty: every tenant's).",
    )
    pool_min_size: int = Field(default=2, ge=1, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=1000)
    checkpointers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Checkpoint savers sharing the pool (one saver serialises its calls).",
    )
    compile_cache_size: int = Field(default=128, ge=1, le=100_000)
    lease_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="A running thread's lease; renewed while it runs, reclaimable once expired.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for live event fan-out between processes. Unset: in-process.",
    )
    host: str = Field(default="127.0.0.1", description="`graphwright serve` bind address.")
    port: int = Field(default=8123, ge=1, le=65535, description="`graphwright serve` port.")
    workers: int = Field(
        default=4, ge=0, le=256, description="Concurrent runs per process (0: API only)."
    )
    run_max_attempts: int = Field(
        default=3, ge=1, le=100, description="Claims of one run before it is dead-lettered."
    )
    run_timeout_seconds: float | None = Field(
        default=3600.0,
        gt=0,
        description="Wall-clock limit of one run (status 'timeout'); empty for none.",
    )
    max_state_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest state (as JSON) a run may checkpoint; a run past it stops "
        "failed with run.state_too_large.",
    )
    startup_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long `serve` and `worker` keep retrying an unreachable PostgreSQL "
        "at start (a database restarting while they start); one-shot commands fail at once.",
    )
    drain_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="SIGTERM grace period for in-flight runs."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest accepted request body."
    )
    keep_alive_seconds: float = Field(
        default=75.0,
        gt=0,
        le=3600,
        description="How long `serve` keeps an idle HTTP connection open; longer than "
        "clients' idle expiry (httpx: 5 s), so a client never reuses one the server is closing.",
    )
    heartbeat_seconds: float = Field(
        default=10.0, gt=0, le=300, description="SSE heartbeat comment interval."
    )
    allowed_hosts: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Comma-separated Host header names the API answers (`*`: any; "
        "`*.example.com`: its subdomains). Unset: localhost, 127.0.0.1, ::1 and GW_HOST "
        "unless it is a wildcard address.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins (scheme://host[:port]) browsers may call the API "
        "from; empty: no CORS headers.",
    )
    cors_allow_credentials: bool = Field(
        default=False, description="Allow credentialed cross-origin requests (not with `*`)."
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Open HTTP connections per `serve` process; past it the oldest idle one "
        "is closed, or the new one refused with 503.",
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Time a connection has to send a complete request head (from connecting, "
        "or from the first byte of a later request on it).",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest wait for the next chunk of a request body (408 beyond).",
    )
    log_format: str = Field(
        default="text", pattern=r"^(text|json)$", description="`serve`/`worker` log lines."
    )
    llms: dict[str, LLMConfig] = Field(
        default_factory=dict,
        description=(
            "LLMs inline crews may name: JSON object name -> {provider, model, api_key_env, "
            "base_url, temperature, max_tokens, timeout}."
        ),
    )
    max_streams: int = Field(
        default=1000, ge=1, le=100_000, description="Open SSE streams per API process."
    )
    event_retention_seconds: float = Field(
        default=7 * 86400.0,
        ge=60,
        description="How long run events are kept in the event log (then pruned).",
    )
    durability: str = Field(default="sync", pattern=r"^(sync|async)$")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) encrypting tenants' secrets, comma-separated: the first "
        "encrypts, every one decrypts (rotation). Unset: secrets cannot be set.",
    )
    auth: str | None = Field(
        default=None,
        description="How `serve` authenticates requests: `keys` (API keys), `jwt` (bearer "
        "tokens of GW_JWT_ISSUER), `keys,jwt`, `none`, or a `langgraph_sdk.Auth` object as "
        "`path/to/auth.py:auth`. Unset: `none` on a loopback bind, else `keys`.",
    )
    allow_insecure: bool = Field(
        default=False,
        description="Let `GW_AUTH=none` serve on a non-loopback address (tests only; logged "
        "loudly at start).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that may read /metrics and /readyz details when auth is on "
        "(besides admin keys), for a scraper.",
    )
    jwt_issuer: str | None = Field(
        default=None,
        description="Issuer of accepted bearer tokens (required for `GW_AUTH=jwt`): a token's "
        "`iss` claim must equal it.",
    )
    jwt_audience: str | None = Field(
        default=None,
        description="This service's audience (required for `GW_AUTH=jwt`): a token's `aud` "
        "claim must be or contain it.",
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        description="http(s) URL of the issuer's signing keys (JWKS). Unset: the `jwks_uri` of "
        "`<GW_JWT_ISSUER>/.well-known/openid-configuration`, fetched once.",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description="Comma-separated signature algorithms accepted: RS*, PS*, ES* or EdDSA "
        "(never `none` or HS*: keys come from a public JWKS).",
    )
    jwt_tenant_claim: str = Field(
        default="tenant",
        min_length=1,
        description="Claim holding the caller's tenant; a dotted path (`app_metadata.tenant`) "
        "reaches into objects. A token without it is refused.",
    )
    jwt_roles_claim: str = Field(
        default="roles",
        min_length=1,
        description="Claim (or dotted path) holding the caller's roles: a list of strings or a "
        "space-separated string; names that are not graphwright roles are ignored.",
    )
    jwt_scope_claim: str | None = Field(
        default=None,
        description="Claim (or dotted path) holding an object of thread metadata the caller is "
        'limited to (`{"client_id": "acme"}`). When set, a token without it is refused '
        "(`{}` grants the whole tenant).",
    )
    jwt_leeway_seconds: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="Clock skew allowed when checking a token's `exp`, `nbf` and `iat`.",
    )

    @field_validator("registry_modules", "worker_tenants", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
            return names or None  # GW_ALLOWED_HOSTS= (empty): the default
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_host_pattern(name) for name in value]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        return [_origin(origin) for origin in value]

    @field_validator("run_timeout_seconds", mode="before")
    @classmethod
    def _no_limit(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # GW_RUN_TIMEOUT_SECONDS= (empty): no time limit
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: str | None) -> str | None:
        if value is not None and value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("GW_REDIS_URL must start with redis:// or rediss://")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("GW_DATABASE_URL must start with postgresql:// or postgres://")
        return value or None

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _check_algorithms(cls, value: list[str]) -> list[str]:
        # `none` accepts unsigned tokens; HS* would make the public JWKS keys HMAC secrets.
        refused = [name for name in value if name not in _JWT_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"GW_JWT_ALGORITHMS: {', '.join(refused) or 'empty'}: accepted algorithms are "
                f"{', '.join(sorted(_JWT_ALGORITHMS))} (never none or HS*)"
            )
        return list(dict.fromkeys(value))

    @field_validator("jwt_jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("GW_JWT_JWKS_URL must start with https:// or http://")
        return value or None

    @field_validator("secret_key", mode="before")
    @classmethod
    def _check_secret_key(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        keys = [part.strip() for part in raw.split(",") if part.strip()]
        if not keys:
            return None  # GW_SECRET_KEY= (empty): no key
        for position, key in enumerate(keys, start=1):
            # The shape Fernet requires; the message never repeats the key.
            try:
                size = len(base64.urlsafe_b64decode(key.encode("ascii")))
            except (binascii.Error, UnicodeEncodeError, ValueError):
                size = -1
            if size != 32:
                raise ValueError(
                    f"GW_SECRET_KEY: key {position} is not a Fernet key (32 url-safe "
                    "base64-encoded bytes); generate one with `graphwright secrets keygen`"
                )
        return SecretStr(",".join(keys))


_JWT_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Asymmetric JWS algorithms GW_JWT_ALGORITHMS may name."""

_HOST_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:[0-9]{1,5})?$")


def _host_pattern(name: str) -> str:
    """A GW_ALLOWED_HOSTS entry, lower-cased: ``*``, a name, ``*.domain`` or an IP address."""
    lowered = name.lower().removesuffix(".")
    if lowered == "*":
        return lowered
    unbracketed = lowered.removeprefix("[").removesuffix("]")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(unbracketed))
    if not _HOST_NAME.match(lowered):
        raise ValueError(
            f"GW_ALLOWED_HOSTS: {name!r} is not a host name, `*.domain` or IP address "
            "(no scheme, port or path)"
        )
    return lowered


def _origin(origin: str) -> str:
    """A GW_CORS_ORIGINS entry, lower-cased: ``*`` or ``scheme://host[:port]``."""
    lowered = origin.lower()
    if lowered == "*":
        return lowered
    if lowered == "null":
        # Sandboxed frames and file:// pages all send `Origin: null`: allowing it allows them all.
        raise ValueError("GW_CORS_ORIGINS: the origin `null` cannot be allowed")
    if not _ORIGIN.match(lowered):
        raise ValueError(
            f"GW_CORS_ORIGINS: {origin!r} is not an origin: scheme://host[:port], "
            "with no path (not even a trailing /)"
        )
    return lowered
