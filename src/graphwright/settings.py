"""Settings, read from ``GW_*`` environment variables and validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphwright.registry.llms import LLMConfig

__all__ = ["Settings"]


class Settings(BaseSettings):
    """graphwright configuration. Every field maps to ``GW_<NAME>``.

    Invalid values fail at start-up with a clear message (pydantic validation).
    """

    model_config = SettingsConfigDict(env_prefix="GW_", extra="ignore", frozen=True)

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

    @field_validator("registry_modules", "worker_tenants", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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
