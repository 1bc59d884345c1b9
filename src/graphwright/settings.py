"""Settings, read from ``GW_*`` environment variables and validated at start."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphwright.registry.llms import LLMConfig
from graphwright.registry.rate_limits import RateLimit, parse_rate_limit, parse_rate_limits

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
    rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(
        default_factory=dict,
        description="Named rate limits a node may wait on (its `rate_limit`), `;`-separated: "
        "`crm_api=10/second burst 20; llm=100/minute per tenant`. Shared through GW_REDIS_URL.",
    )
    api_rate_limit: Annotated[RateLimit | None, NoDecode] = Field(
        default=None,
        description="Requests one tenant may make to the API (`50/second burst 100`); beyond it "
        "429 `rate_limit.exceeded` with Retry-After. Health, readiness and metrics are exempt. "
        "Unset: no limit.",
    )
    max_streams: int = Field(
        default=1000, ge=1, le=100_000, description="Open SSE streams per API process."
    )
    stream_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Longest wait to hand one SSE frame (or heartbeat) to a client that stopped "
        "reading; then the stream is dropped and the client resumes with Last-Event-ID.",
    )
    event_retention_seconds: float = Field(
        default=7 * 86400.0,
        ge=60,
        description="How long run events are kept in the event log (then pruned).",
    )
    thread_ttl_minutes: float | None = Field(
        default=None,
        gt=0,
        le=52_560_000,
        description="Threads without a `ttl` of their own are deleted (with their checkpoints, "
        "runs, events and approvals) this many minutes after their last activity. Unset: "
        "only threads given a `ttl` expire.",
    )
    thread_ttl_sweep_seconds: float = Field(
        default=60.0,
        ge=0.05,
        le=86_400,
        description="How often processes with run slots look for expired threads.",
    )
    prune_interval_seconds: float | None = Field(
        default=None,
        gt=0,
        le=604_800,
        description="How often processes with run slots prune the checkpoints of finished "
        "threads (keeping GW_PRUNE_KEEP). Unset: no pruning job (`graphwright prune` still "
        "works).",
    )
    prune_keep: int = Field(
        default=1,
        ge=1,
        le=100_000,
        description="Checkpoints the pruning job keeps per thread (the newest).",
    )
    prune_older_than_seconds: float = Field(
        default=3600.0,
        ge=0,
        le=315_360_000,
        description="The pruning job leaves threads alone until they have been idle this long.",
    )
    store_sweep_seconds: float = Field(
        default=60.0,
        ge=1,
        le=86400,
        description="How often a process with run slots deletes expired Store items (in batches "
        "of 1,000). Expired items are invisible at once; this only reclaims their rows.",
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
    webhook_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated webhook destinations allowed although private, loopback "
        "or link-local: host names (`hooks.internal`, `*.corp.example`), addresses and "
        "networks (`10.1.2.3`, `10.0.0.0/8`, `fd00::/8`). Public addresses are always allowed.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Time one webhook attempt has (name lookup, connecting, sending, the answer).",
    )
    webhook_max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts to deliver one webhook before it fails."
    )
    webhook_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        le=86400,
        description="Wait before the second webhook attempt; doubles after each failure.",
    )
    webhook_retry_max_seconds: float = Field(
        default=3600.0, gt=0, le=86400, description="Longest wait between webhook attempts."
    )
    cron_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Longest a process with run slots waits before looking for due schedules "
        "(it wakes at the next fire time it knows; this bounds how late it sees crons created "
        "by another process).",
    )
    cron_misfire_grace_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="A schedule's firing later than this (every process or PostgreSQL was "
        "down) is a misfire, handled by GW_CRON_MISFIRE; later firings within it all run.",
    )
    cron_misfire: Literal["once", "skip"] = Field(
        default="once",
        description="Missed firings of a schedule: `once` runs them once on recovery, `skip` "
        "not at all; the schedule then continues from now.",
    )

    @field_validator("registry_modules", "worker_tenants", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return parse_rate_limits(value)
            except ValueError as exc:
                raise ValueError(f"GW_RATE_LIMITS: {exc}") from None
        return value

    @field_validator("api_rate_limit", mode="before")
    @classmethod
    def _parse_api_rate_limit(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None  # GW_API_RATE_LIMIT= (empty): no limit
            try:
                limit = parse_rate_limit("api", value)
            except ValueError as exc:
                raise ValueError(f"GW_API_RATE_LIMIT: {exc}") from None
            if "global" in value.lower().split():
                raise ValueError(
                    "GW_API_RATE_LIMIT is per tenant (one tenant's flood must not starve the "
                    "others); drop 'global'"
                )
            return dataclasses.replace(limit, per="tenant")
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

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _split_webhook_allow(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allow")
    @classmethod
    def _check_webhook_allow(cls, value: list[str]) -> list[str]:
        return [_webhook_destination(entry) for entry in value]

    @field_validator(
        "run_timeout_seconds", "thread_ttl_minutes", "prune_interval_seconds", mode="before"
    )
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


def _webhook_destination(entry: str) -> str:
    """A GW_WEBHOOK_ALLOW entry, lower-cased: a host name, ``*.domain``, address or network."""
    lowered = entry.lower().removesuffix(".")
    unbracketed = lowered.removeprefix("[").removesuffix("]")
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_network(unbracketed, strict=False))
    if lowered == "*" or not _HOST_NAME.match(lowered):
        raise ValueError(
            f"GW_WEBHOOK_ALLOW: {entry!r} is not a host name, `*.domain`, address or network "
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
