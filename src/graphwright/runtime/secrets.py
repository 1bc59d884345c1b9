"""Tenants' secrets as runs see them: read once per run, on first use, and redacted everywhere.

:class:`TenantSecrets` is the process's access (the store and the values every
redaction knows: ``GW_LLMS`` API keys and ``GW_SECRET_KEY``); each run gets a
:class:`RunSecrets` for its own tenant, which reads the secrets only when a node
asks for them (or when a node fails, to redact its error), and keeps them for
that run alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from types import MappingProxyType

from graphwright.errors import GraphwrightError
from graphwright.redaction import Redactor
from graphwright.settings import Settings
from graphwright.store.pool import OUTAGE_ERRORS
from graphwright.store.secrets import SecretStore

__all__ = ["RunSecrets", "TenantSecrets", "process_known_values"]

log = logging.getLogger("graphwright.secrets")

_RETRY_FIRST, _RETRY_MAX = 0.1, 2.0
"""Backoff (seconds) while the database is unreachable during a read."""


def process_known_values(settings: Settings) -> list[str]:
    """Values every redaction of this process knows: LLM API keys and ``GW_SECRET_KEY``.

    The LLM keys are read from the variables ``GW_LLMS`` names (``api_key_env``).
    """
    values = [
        os.environ.get(llm.api_key_env, "")
        for llm in settings.llms.values()
        if llm.api_key_env is not None
    ]
    if settings.secret_key is not None:
        values.extend(settings.secret_key.get_secret_value().split(","))
    return [value for value in values if value]


class TenantSecrets:
    """The process's access to tenants' secrets for its runs."""

    def __init__(self, store: SecretStore, *, known: Redactor) -> None:
        """Read from ``store``; every redaction also knows what ``known`` knows."""
        self.store = store
        self.known = known

    def for_run(self, tenant: str) -> RunSecrets:
        """A new run's view of ``tenant``'s secrets (nothing read yet)."""
        return RunSecrets(self.store, tenant, base=self.known)


class RunSecrets:
    """One run's secrets: read on first use, then kept for the run (never per process).

    Implements :class:`graphwright.nodes.context.SecretSource`.
    """

    def __init__(self, store: SecretStore, tenant: str, *, base: Redactor) -> None:
        """Read ``tenant``'s secrets from ``store`` when first needed."""
        self._store = store
        self._tenant = tenant
        self._base = base
        self._values: Mapping[str, str] | None = None
        self._redactor = base
        self._unreadable = False
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        """Whether this run has read its secrets."""
        return self._values is not None

    async def load(self) -> Mapping[str, str]:
        """The tenant's secrets, read-only; read once (parallel nodes share the read).

        While the database is unreachable the read is retried, like every other
        outage, until it answers or the run is stopped.

        Raises:
            ConfigurationError: ``secrets.no_key``, ``secrets.wrong_key`` or
                ``secrets.corrupt`` (from :meth:`SecretStore.read`).
        """
        if self._values is not None:
            return self._values
        async with self._lock:
            if self._values is None:
                values = await self._read()
                self._redactor = self._base.with_known(values.values())
                self._values = MappingProxyType(values)
            return self._values

    async def redactor(self) -> Redactor:
        """A redactor knowing the tenant's secrets; read now if not yet.

        When they cannot be read (no key, wrong key), the redactor knows the
        process-wide values and credential shapes only; nothing is raised.
        """
        if self._values is None and not self._unreadable:
            try:
                await self.load()
            except GraphwrightError as exc:
                self._unreadable = True  # once per run is enough to say so
                log.warning(
                    "tenant %s: secrets not readable for redaction: [%s]", self._tenant, exc.code
                )
        return self._redactor

    def current(self) -> Redactor:
        """A redactor knowing what this run has read so far."""
        return self._redactor

    async def _read(self) -> dict[str, str]:
        delay = _RETRY_FIRST
        while True:
            try:
                return await self._store.read(self._tenant)
            except OUTAGE_ERRORS as exc:
                log.warning(
                    "reading secrets of tenant %s: database unavailable (%s)", self._tenant, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
