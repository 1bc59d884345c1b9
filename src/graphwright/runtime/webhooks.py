"""Delivering webhooks: signed POSTs of ended runs, from the outbox, at least once.

Every process that runs workers runs a :class:`WebhookDeliverer`. It wakes on
``NOTIFY`` when a run with a ``webhook`` ends (and when a retry falls due),
claims due deliveries under a lease (:class:`~graphwright.store.webhooks.WebhookStore`),
and POSTs each one:

- to the addresses its host resolves to *now*, each checked again (no DNS
  rebinding into the operator's network), connecting to the checked address
  itself (``Host`` and TLS server name keep the URL's host), following no
  redirect;
- signed: ``X-Graphwright-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
  "<t>.<body>" with the tenant's secret>`` (one ``v1`` per live secret while a
  rotation's grace lasts), with ``X-Graphwright-Delivery`` (the same on every
  attempt: receivers dedupe on it) and ``X-Graphwright-Attempt``.

A 2xx answer delivers; anything else is retried with exponential backoff
(``GW_WEBHOOK_RETRY_SECONDS`` doubling up to ``GW_WEBHOOK_RETRY_MAX_SECONDS``)
until ``GW_WEBHOOK_MAX_ATTEMPTS``. PostgreSQL outages are waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psycopg

from graphwright.errors import GraphwrightError
from graphwright.runtime.webhook_targets import (
    Resolver,
    WebhookAllow,
    resolve_target,
    system_resolver,
)
from graphwright.settings import Settings
from graphwright.store.pool import OUTAGE_ERRORS, Pool
from graphwright.store.secrets import SecretCipher
from graphwright.store.webhook_secrets import WebhookSecretStore
from graphwright.store.webhooks import WAKE_CHANNEL, ClaimedDelivery, WebhookStore

__all__ = [
    "ATTEMPT_HEADER",
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "AttemptOutcome",
    "WebhookDeliverer",
    "retry_delay",
    "sign",
]

log = logging.getLogger("graphwright.webhooks")

SIGNATURE_HEADER = "X-Graphwright-Signature"
DELIVERY_HEADER = "X-Graphwright-Delivery"
ATTEMPT_HEADER = "X-Graphwright-Attempt"
USER_AGENT = "graphwright-webhooks/1"

CONCURRENCY = 8
"""Deliveries one process has in flight at most."""
IDLE_SECONDS = 30.0
"""Longest sleep without a wake-up (deliveries queued while the listener reconnects)."""
LEASE_MARGIN_SECONDS = 5.0
"""An attempt's lease: the request timeout plus this margin for recording the outcome."""
_DB_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, *OUTAGE_ERRORS)
"""Errors of the database the loop waits out (an outage, or a query that failed)."""
_ERROR_BODY_BYTES = 512
"""How much of a refusing receiver's answer is kept as the attempt's error."""


def sign(body: bytes, secrets: Sequence[str], *, timestamp: int) -> str:
    """The ``X-Graphwright-Signature`` value: ``t=<timestamp>`` and a ``v1=`` per secret.

    Each ``v1`` is the hex HMAC-SHA256, keyed with the secret's UTF-8 bytes, of
    ``b"<timestamp>." + body``.
    """
    signed = str(timestamp).encode("ascii") + b"." + body
    parts = [f"t={timestamp}"]
    parts += [
        "v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        for secret in secrets
    ]
    return ",".join(parts)


def retry_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): ``base`` doubling, at most
    ``cap``, stretched by up to 10% so that many failing deliveries spread out."""
    delay = min(cap, base * 2.0 ** min(attempt - 1, 60))
    return min(cap, delay * (1 + random.random() / 10))


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt came to: ``error`` None means delivered."""

    status_code: int | None = None
    error: str | None = None


class WebhookDeliverer:
    """Delivers the outbox's due webhooks from this process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: WebhookStore,
        secrets: WebhookSecretStore,
        *,
        owner: str,
        database_url: str,
        tenants: Sequence[str] | None = None,
        resolver: Resolver = system_resolver,
        concurrency: int = CONCURRENCY,
    ) -> None:
        """Deliver as ``owner``; listen for wake-ups on ``database_url``.

        ``tenants`` limits it to those tenants' deliveries (``GW_WORKER_TENANTS``).
        """
        self.settings = settings
        self.store = store
        self.secrets = secrets
        self.owner = owner
        self.database_url = database_url
        self.tenants = None if tenants is None else tuple(tenants)
        self.resolver = resolver
        self.concurrency = concurrency
        self.allow = WebhookAllow.parse(settings.webhook_allow)
        self.timeout = settings.webhook_timeout_seconds
        self.lease_seconds = self.timeout + LEASE_MARGIN_SECONDS
        self.delivered = 0
        self.failed_attempts = 0
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def for_process(
        cls, settings: Settings, pool: Pool, *, owner: str, database_url: str
    ) -> WebhookDeliverer:
        """The deliverer of a process with workers (its stores built on ``pool``)."""
        cipher = SecretCipher.from_setting(settings.secret_key)
        return cls(
            settings,
            WebhookStore(pool, max_attempts=settings.webhook_max_attempts),
            WebhookSecretStore(pool, cipher=cipher),
            owner=owner,
            database_url=database_url,
            tenants=settings.worker_tenants or None,
        )

    async def start(self) -> None:
        """Start listening and delivering."""
        if self._tasks:
            return
        self._client = httpx.AsyncClient(
            # Every attempt connects anew to an address checked just before: no pooled
            # connection can carry a request to another host name.
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: we connect to checked addresses
            verify=ssl.create_default_context(),
            timeout=httpx.Timeout(self.timeout),
        )
        self._tasks = [
            asyncio.create_task(self._listen(), name="graphwright-webhook-listen"),
            asyncio.create_task(self._run(), name="graphwright-webhook-deliverer"),
        ]
        for task in self._tasks:
            task.add_done_callback(_report_death)

    async def stop(self) -> None:
        """Stop claiming; let attempts in flight end (within the request timeout)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        inflight = list(self._inflight)
        if inflight:
            grace = min(self.timeout + 1.0, max(self.settings.drain_seconds, 0.1))
            _, late = await asyncio.wait(inflight, timeout=grace)
            for task in late:  # their leases lapse: another process retries them
                task.cancel()
            if late:
                await asyncio.wait(late)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    # -- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.5
        while True:
            timeout = IDLE_SECONDS
            try:
                self._wake.clear()
                free = self.concurrency - len(self._inflight)
                claimed = []
                if free > 0:
                    claimed = await self.store.claim(
                        self.owner,
                        lease_seconds=self.lease_seconds,
                        limit=free,
                        tenants=self.tenants,
                    )
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                if free > 0 and len(claimed) == free:
                    continue  # there may be more due: claim again once a slot frees
                if free > 0:
                    due = await self.store.seconds_until_due(self.tenants)
                    if due is not None:
                        timeout = max(0.05, min(IDLE_SECONDS, due))
                delay = 0.5
            except _DB_ERRORS as exc:
                log.warning("webhook deliverer: %s; retrying in %.1fs", exc, delay)
                timeout, delay = delay, min(delay * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery task failed: %r", task.exception())

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.database_url, autocommit=True, connect_timeout=5
                ) as conn:
                    await conn.execute(f"listen {WAKE_CHANNEL}")
                    self._wake.set()  # (re)connected: look for what was queued meanwhile
                    delay = 0.2
                    async for note in conn.notifies():
                        if self.tenants is None or note.payload in self.tenants:
                            self._wake.set()
            except psycopg.Error as exc:
                log.warning("webhook listener lost its connection (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- one attempt --------------------------------------------------------------------

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        outcome = await self.attempt(delivery)
        if outcome.error is None:
            self.delivered += 1
        else:
            self.failed_attempts += 1
            log.info(
                "webhook %s (run %s) attempt %d failed: %s",
                delivery.delivery_id,
                delivery.body.get("run_id"),
                delivery.attempt,
                outcome.error,
            )
        retry_in = retry_delay(
            delivery.attempt,
            base=self.settings.webhook_retry_seconds,
            cap=self.settings.webhook_retry_max_seconds,
        )
        await self._record(delivery, outcome, retry_in)

    async def _record(
        self, delivery: ClaimedDelivery, outcome: AttemptOutcome, retry_in: float
    ) -> None:
        """Record the outcome, waiting out a database outage while the lease lasts
        (after it, another process makes the attempt again: at least once)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease_seconds
        pause = 0.2
        while True:
            try:
                await self.store.finish_attempt(
                    delivery,
                    owner=self.owner,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    retry_in=retry_in,
                )
                return
            except OUTAGE_ERRORS as exc:
                if loop.time() + pause > deadline:
                    log.warning(
                        "webhook %s: outcome not recorded (%s); it will be attempted again",
                        delivery.delivery_id,
                        exc,
                    )
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def attempt(self, delivery: ClaimedDelivery) -> AttemptOutcome:
        """Sign and POST one delivery; never raises for the receiver's or network's faults."""
        try:
            keys = (await self.secrets.get(delivery.tenant_id)).signing_keys()
        except GraphwrightError as exc:
            return AttemptOutcome(error=f"{exc.code}: {exc.message}")
        except OUTAGE_ERRORS as exc:
            return AttemptOutcome(error=f"db.unavailable: signing secret not read ({exc})")
        sent_at = datetime.now(UTC)
        body = json.dumps(
            {
                **delivery.body,
                "delivery_id": delivery.delivery_id,
                "webhook_sent_at": sent_at.isoformat(),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_HEADER: delivery.delivery_id,
            ATTEMPT_HEADER: str(delivery.attempt),
            SIGNATURE_HEADER: sign(body, keys, timestamp=int(time.time())),
        }
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(delivery.url, body, headers)
        except TimeoutError:
            return AttemptOutcome(error=f"timed out after {self.timeout:g}s")
        except GraphwrightError as exc:  # the destination is refused now
            return AttemptOutcome(error=f"{exc.code}: {exc.message}")

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptOutcome:
        client = self._client
        if client is None:
            return AttemptOutcome(error="the deliverer is stopped")
        target = await resolve_target(url, self.allow, resolver=self.resolver, timeout=self.timeout)
        headers = {**headers, "Host": target.host_header}
        extensions = {} if target.sni_hostname is None else {"sni_hostname": target.sni_hostname}
        failures: list[str] = []
        for address in target.addresses:
            request = client.build_request(
                "POST",
                target.url_for(address),
                content=body,
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failures.append(f"{address}: {exc or type(exc).__name__}")
                continue  # the next checked address
            except httpx.HTTPError as exc:
                return AttemptOutcome(error=f"{type(exc).__name__}: {exc}")
            try:
                return await _outcome(response)
            finally:
                await response.aclose()
        return AttemptOutcome(error="connection failed: " + "; ".join(failures))


def _report_death(task: asyncio.Task[None]) -> None:
    """Log a background task that ended other than by being stopped (a bug)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %r", task.get_name(), task.exception())


async def _outcome(response: httpx.Response) -> AttemptOutcome:
    status = response.status_code
    if 200 <= status < 300:
        return AttemptOutcome(status_code=status)
    if 300 <= status < 400:
        where = response.headers.get("location", "")
        return AttemptOutcome(
            status_code=status, error=f"HTTP {status}: redirects are not followed ({where})"
        )
    snippet = b""
    with contextlib.suppress(httpx.HTTPError):
        async for chunk in response.aiter_raw():
            snippet += chunk
            if len(snippet) >= _ERROR_BODY_BYTES:
                break
    text = snippet[:_ERROR_BODY_BYTES].decode("utf-8", "replace").strip()
    return AttemptOutcome(
        status_code=status, error=f"HTTP {status}" + (f": {text}" if text else "")
    )
