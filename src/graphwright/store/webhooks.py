"""The webhook outbox: deliveries of ended runs, claimed with a lease, and their attempts.

A delivery row is inserted by the statement that ends a run with a ``webhook``
(a trigger on ``gw_runs``, migration 0013), so a run never ends without it. A
deliverer claims due deliveries with ``FOR UPDATE SKIP LOCKED``: the claim
counts an attempt, records it, and moves ``next_attempt_at`` to the end of a
lease, so a process that dies mid-attempt leaves the delivery due again when
the lease lapses (the lost attempt is marked so). Recording an outcome is
fenced by the lease owner and the attempt number.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from graphwright.errors import NotFoundError, WorkflowConflictError
from graphwright.store.pool import Pool

__all__ = [
    "LOST_ATTEMPT",
    "WAKE_CHANNEL",
    "ClaimedDelivery",
    "DeliveryStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookStore",
]

WAKE_CHANNEL = "gw_webhook_wakeup"
"""Notified (payload: the tenant) when a delivery is queued."""

LOST_ATTEMPT = "no outcome: the delivering process stopped during the attempt"
"""Error recorded for an attempt whose process died (its lease lapsed)."""

DeliveryStatus = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class WebhookAttempt:
    """One attempt to deliver.

    Attributes:
        attempt: 1 for the first.
        owner: The process that made it.
        finished_at: None while it is in flight.
        status_code: The receiver's HTTP status, when it answered.
        error: Why it failed (None when delivered).
    """

    attempt: int
    owner: str
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None

    @property
    def outcome(self) -> Literal["in_flight", "delivered", "failed"]:
        """``in_flight``, ``delivered`` (a 2xx answer) or ``failed``."""
        if self.finished_at is None:
            return "in_flight"
        return "delivered" if self.error is None else "failed"


@dataclass(frozen=True)
class WebhookDelivery:
    """A delivery of one run end, with its attempts (oldest first) when listed."""

    tenant_id: str
    delivery_id: str
    run_id: str
    thread_id: str
    url: str
    run_status: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    history: tuple[WebhookAttempt, ...] = field(default=())


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery claimed for one attempt: what to send, and the attempt's fence."""

    tenant_id: str
    delivery_id: str
    url: str
    body: dict[str, Any]
    attempt: int
    max_attempts: int


_LIST_COLUMNS = (
    "d.tenant_id, d.delivery_id, d.run_id, d.thread_id, d.url, d.body ->> 'status' as run_status,"
    " d.status, d.attempts, coalesce(d.max_attempts, %(max)s) as max_attempts,"
    " case when d.status = 'pending' then d.next_attempt_at end as next_attempt_at,"
    " d.last_status_code, d.last_error, d.delivered_at, d.created_at, d.updated_at"
)


class WebhookStore:
    """Claims, records and lists webhook deliveries; every read is per tenant."""

    def __init__(self, pool: Pool, *, max_attempts: int) -> None:
        """Use ``pool``; ``max_attempts`` is ``GW_WEBHOOK_MAX_ATTEMPTS``."""
        self._pool = pool
        self.max_attempts = max_attempts

    # -- delivering ----------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        *,
        lease_seconds: float,
        limit: int,
        tenants: Sequence[str] | None = None,
    ) -> builtins.list[ClaimedDelivery]:
        """Claim up to ``limit`` due deliveries for one attempt each (of ``tenants`` if given).

        Due: pending with ``next_attempt_at`` passed (a retry that is due, or an
        attempt whose process died). Deliveries whose last allowed attempt was
        lost end ``failed`` instead.
        """
        params = {
            "owner": owner,
            "lease": lease_seconds,
            "limit": limit,
            "max": self.max_attempts,
            "tenants": None if tenants is None else list(tenants),
            "lost": LOST_ATTEMPT,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(_CLAIM, params)
            rows = await cur.fetchall()
        return [
            ClaimedDelivery(
                tenant_id=row["tenant_id"],
                delivery_id=row["delivery_id"],
                url=row["url"],
                body=dict(row["body"]),
                attempt=row["attempts"],
                max_attempts=row["max_attempts"],
            )
            for row in rows
        ]

    async def finish_attempt(
        self,
        claimed: ClaimedDelivery,
        *,
        owner: str,
        status_code: int | None,
        error: str | None,
        retry_in: float,
    ) -> DeliveryStatus | None:
        """Record an attempt's outcome (``error`` None: delivered).

        The attempt row always gets its outcome; the delivery only while
        ``owner`` still holds this attempt (a success also after its lease
        lapsed, if no later attempt started). A failure is retried in
        ``retry_in`` seconds unless it was the last allowed attempt.

        Returns:
            The delivery's status now, or None when the fence refused the update.
        """
        params = {
            "tenant": claimed.tenant_id,
            "id": claimed.delivery_id,
            "attempt": claimed.attempt,
            "owner": owner,
            "code": status_code,
            "error": error,
            "ok": error is None,
            "retry": retry_in,
            "max": self.max_attempts,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(_FINISH, params)
            row = await cur.fetchone()
        return None if row is None else row["status"]

    async def seconds_until_due(self, tenants: Sequence[str] | None = None) -> float | None:
        """Seconds until the next pending delivery (or lapsed attempt) is due, by the
        database's clock; None when nothing is pending."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select extract(epoch from min(next_attempt_at) - now())::float8 as due"
                " from gw_webhook_deliveries where status = 'pending'"
                " and (%(tenants)s::text[] is null or tenant_id = any(%(tenants)s::text[]))",
                {"tenants": None if tenants is None else list(tenants)},
            )
            row = await cur.fetchone()
        return None if row is None or row["due"] is None else float(row["due"])

    # -- reading -----------------------------------------------------------------------

    async def list(
        self,
        tenant: str,
        *,
        run_id: str | None = None,
        thread_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> builtins.list[WebhookDelivery]:
        """The tenant's deliveries, newest first, with their attempts."""
        params: dict[str, Any] = {
            "tenant": tenant,
            "run": run_id,
            "thread": thread_id,
            "status": status,
            "limit": limit,
            "offset": offset,
            "max": self.max_attempts,
        }
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_LIST_COLUMNS} from gw_webhook_deliveries d"
                " where d.tenant_id = %(tenant)s"
                " and (%(run)s::text is null or d.run_id = %(run)s::text)"
                " and (%(thread)s::text is null or d.thread_id = %(thread)s::text)"
                " and (%(status)s::text is null or d.status = %(status)s::text)"
                " order by d.created_at desc, d.delivery_id limit %(limit)s offset %(offset)s",
                params,
            )
            rows = await cur.fetchall()
            ids = [row["delivery_id"] for row in rows]
            cur = await conn.execute(
                "select delivery_id, attempt, owner, started_at, finished_at, status_code, error"
                " from gw_webhook_attempts where tenant_id = %s and delivery_id = any(%s)"
                " order by delivery_id, attempt",
                (tenant, ids),
            )
            attempts = await cur.fetchall()
        return _with_history(rows, attempts)

    async def get(self, tenant: str, delivery_id: str) -> WebhookDelivery:
        """One delivery with its attempts.

        Raises:
            NotFoundError: ``webhook.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_LIST_COLUMNS} from gw_webhook_deliveries d"
                " where d.tenant_id = %(tenant)s and d.delivery_id = %(id)s",
                {"tenant": tenant, "id": delivery_id, "max": self.max_attempts},
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFoundError(
                    f"webhook delivery {delivery_id!r} does not exist",
                    code="webhook.not_found",
                    details={"delivery_id": delivery_id},
                )
            cur = await conn.execute(
                "select delivery_id, attempt, owner, started_at, finished_at, status_code, error"
                " from gw_webhook_attempts where tenant_id = %s and delivery_id = %s"
                " order by attempt",
                (tenant, delivery_id),
            )
            attempts = await cur.fetchall()
        return _with_history([row], attempts)[0]

    async def retry(self, tenant: str, delivery_id: str) -> WebhookDelivery:
        """Deliver a failed (or delivered) delivery again, now, with a fresh attempt budget.

        Raises:
            NotFoundError: ``webhook.not_found``.
            WorkflowConflictError: ``webhook.pending`` when it is still being delivered.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "with r as (update gw_webhook_deliveries set status = 'pending',"
                " next_attempt_at = now(), max_attempts = attempts + %(max)s,"
                " lease_owner = null, updated_at = now()"
                " where tenant_id = %(tenant)s and delivery_id = %(id)s"
                " and status in ('failed', 'delivered') returning tenant_id)"
                " select r.tenant_id from r left join"
                " (select pg_notify(%(channel)s, %(tenant)s)) as n on true",
                {
                    "tenant": tenant,
                    "id": delivery_id,
                    "max": self.max_attempts,
                    "channel": WAKE_CHANNEL,
                },
            )
            changed = await cur.fetchone() is not None
        delivery = await self.get(tenant, delivery_id)
        if not changed and delivery.status == "pending":
            raise WorkflowConflictError(
                f"webhook delivery {delivery_id!r} is still being delivered",
                code="webhook.pending",
                details={"delivery_id": delivery_id, "attempts": delivery.attempts},
            )
        return delivery


def _with_history(
    rows: Sequence[Mapping[str, Any]], attempts: Sequence[Mapping[str, Any]]
) -> list[WebhookDelivery]:
    by_delivery: dict[str, list[WebhookAttempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(
            WebhookAttempt(
                attempt=a["attempt"],
                owner=a["owner"],
                started_at=a["started_at"],
                finished_at=a["finished_at"],
                status_code=a["status_code"],
                error=a["error"],
            )
        )
    return [
        WebhookDelivery(**row, history=tuple(by_delivery.get(row["delivery_id"], ())))
        for row in rows
    ]


_TENANTS = "(%(tenants)s::text[] is null or d.tenant_id = any(%(tenants)s::text[]))"
_CLAIM = (
    # The last allowed attempt was lost: the delivery has failed.
    "with exhausted as (update gw_webhook_deliveries d set status = 'failed',"
    " lease_owner = null, last_error = %(lost)s, updated_at = now()"
    " where d.status = 'pending' and d.next_attempt_at <= now()"
    f" and d.attempts >= coalesce(d.max_attempts, %(max)s) and {_TENANTS}"
    " returning d.tenant_id, d.delivery_id),"
    " due as (select d.tenant_id, d.delivery_id from gw_webhook_deliveries d"
    " where d.status = 'pending' and d.next_attempt_at <= now()"
    f" and d.attempts < coalesce(d.max_attempts, %(max)s) and {_TENANTS}"
    " order by d.next_attempt_at limit %(limit)s for update skip locked),"
    " claimed as (update gw_webhook_deliveries d set attempts = d.attempts + 1,"
    " lease_owner = %(owner)s, updated_at = now(),"
    " next_attempt_at = now() + make_interval(secs => %(lease)s::float8)"
    " from due where d.tenant_id = due.tenant_id and d.delivery_id = due.delivery_id"
    " returning d.tenant_id, d.delivery_id, d.url, d.body, d.attempts,"
    " coalesce(d.max_attempts, %(max)s) as max_attempts),"
    # Earlier attempts still open were lost with their process.
    " lost as (update gw_webhook_attempts a set finished_at = now(), error = %(lost)s"
    " where a.finished_at is null and (a.tenant_id, a.delivery_id) in"
    " (select tenant_id, delivery_id from claimed"
    "  union all select tenant_id, delivery_id from exhausted)),"
    " started as (insert into gw_webhook_attempts (tenant_id, delivery_id, attempt, owner)"
    " select tenant_id, delivery_id, attempts, %(owner)s from claimed)"
    " select * from claimed"
)
_FINISH = (
    "with a as (update gw_webhook_attempts set finished_at = now(),"
    " status_code = %(code)s, error = %(error)s"
    " where tenant_id = %(tenant)s and delivery_id = %(id)s and attempt = %(attempt)s)"
    " update gw_webhook_deliveries set"
    " status = case when %(ok)s then 'delivered'"
    "  when attempts >= coalesce(max_attempts, %(max)s) then 'failed' else 'pending' end,"
    " delivered_at = case when %(ok)s then now() else delivered_at end,"
    " next_attempt_at = case when %(ok)s then next_attempt_at"
    "  else now() + make_interval(secs => %(retry)s::float8) end,"
    " lease_owner = null, last_status_code = %(code)s, last_error = %(error)s,"
    " updated_at = now()"
    " where tenant_id = %(tenant)s and delivery_id = %(id)s and attempts = %(attempt)s"
    " and (lease_owner = %(owner)s or (%(ok)s and lease_owner is null))"
    " returning status"
)
