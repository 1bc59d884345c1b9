"""Webhooks: delivery history (per run, per tenant), redelivery, and the signing secret.

- ``GET /threads/{thread_id}/runs/{run_id}/webhooks``: the run's deliveries and attempts.
- ``GET /webhooks/deliveries``: the tenant's deliveries, filtered by run, thread, status.
- ``POST /webhooks/deliveries/{delivery_id}/retry``: deliver again (operator).
- ``GET /webhooks/secret``, ``POST /webhooks/secret/rotate``: the signing secret (admin).

A key limited to thread metadata sees deliveries through its threads' runs only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from graphwright.api.access import current_principal
from graphwright.api.bounds import MAX_OFFSET
from graphwright.api.deps import ServicesDep, TenantDep
from graphwright.api.input_guard import GuardedRoute
from graphwright.auth.principal import AuthError
from graphwright.store.secrets import SecretCipher
from graphwright.store.webhook_secrets import WebhookSecretStore
from graphwright.store.webhooks import WebhookDelivery, WebhookStore

__all__ = ["DeliveryView", "RotateBody", "SecretView", "router"]

router = APIRouter(tags=["webhooks"], route_class=GuardedRoute)

MAX_GRACE_SECONDS = 7 * 86400


def _store(services: ServicesDep) -> WebhookStore:
    return WebhookStore(services.pool, max_attempts=services.settings.webhook_max_attempts)


def _secrets(services: ServicesDep) -> WebhookSecretStore:
    cipher = SecretCipher.from_setting(services.settings.secret_key)
    return WebhookSecretStore(services.pool, cipher=cipher)


StoreDep = Annotated[WebhookStore, Depends(_store)]
SecretsDep = Annotated[WebhookSecretStore, Depends(_secrets)]


class AttemptView(BaseModel):
    """One attempt to deliver."""

    attempt: int = Field(description="1 for the first.")
    outcome: Literal["in_flight", "delivered", "failed"]
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None = Field(description="The receiver's HTTP status, if it answered.")
    error: str | None = Field(description="Why it failed; lost attempts say so.")


class DeliveryView(BaseModel):
    """A webhook delivery of one run end."""

    delivery_id: str = Field(description="Sent as X-Graphwright-Delivery on every attempt.")
    run_id: str
    thread_id: str
    url: str
    run_status: str = Field(description="The run status the delivery reports.")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = Field(
        description="Pending: when the next attempt is due (during an attempt: when another "
        "process takes over should this one stop)."
    )
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    history: list[AttemptView]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryView:
        """The view of a stored delivery."""
        return cls(
            delivery_id=delivery.delivery_id,
            run_id=delivery.run_id,
            thread_id=delivery.thread_id,
            url=delivery.url,
            run_status=delivery.run_status,
            status=delivery.status,
            attempts=delivery.attempts,
            max_attempts=delivery.max_attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            history=[
                AttemptView(
                    attempt=a.attempt,
                    outcome=a.outcome,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    status_code=a.status_code,
                    error=a.error,
                )
                for a in delivery.history
            ],
        )


class SecretView(BaseModel):
    """The tenant's signing secret."""

    secret: str = Field(description="HMAC-SHA256 key (its UTF-8 bytes) of X-Graphwright-Signature.")
    created_at: datetime
    rotated_at: datetime | None
    previous_expires_at: datetime | None = Field(
        description="Until then deliveries also carry a signature with the previous secret."
    )


class RotateBody(BaseModel):
    """How long the old secret keeps signing after a rotation."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        default=86400,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="Deliveries carry a second signature with the old secret this long.",
    )


def _whole_tenant(request: Request) -> None:
    """Refuse a caller limited to thread metadata: these routes span the tenant."""
    if current_principal(request).scope:
        raise AuthError(
            "this caller is limited to some threads: read deliveries through "
            "/threads/{thread_id}/runs/{run_id}/webhooks",
            code="auth.forbidden",
        )


@router.get("/threads/{thread_id}/runs/{run_id}/webhooks", response_model=list[DeliveryView])
async def run_webhooks(
    thread_id: str, run_id: str, services: ServicesDep, store: StoreDep, tenant: TenantDep
) -> list[DeliveryView]:
    """The run's webhook deliveries (one per time it ended), newest first, with attempts."""
    await services.runs.get(tenant, run_id, thread_id=thread_id)
    deliveries = await store.list(tenant, run_id=run_id, thread_id=thread_id, limit=100)
    return [DeliveryView.of(d) for d in deliveries]


@router.get("/webhooks/deliveries", response_model=list[DeliveryView])
async def list_deliveries(
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
    thread_id: Annotated[str | None, Query(max_length=200)] = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[DeliveryView]:
    """The tenant's webhook deliveries, newest first, with their attempts."""
    _whole_tenant(request)
    deliveries = await store.list(
        tenant, run_id=run_id, thread_id=thread_id, status=status, limit=limit, offset=offset
    )
    return [DeliveryView.of(d) for d in deliveries]


@router.post(
    "/webhooks/deliveries/{delivery_id}/retry",
    response_model=DeliveryView,
    responses={409: {"description": "`webhook.pending`: it is still being delivered."}},
)
async def retry_delivery(
    delivery_id: str, request: Request, store: StoreDep, tenant: TenantDep
) -> DeliveryView:
    """Deliver a failed (or delivered) webhook again now, with a fresh attempt budget."""
    _whole_tenant(request)
    return DeliveryView.of(await store.retry(tenant, delivery_id))


@router.get(
    "/webhooks/secret",
    response_model=SecretView,
    responses={409: {"description": "`webhook.no_secret_key`: GW_SECRET_KEY is not set."}},
)
async def get_secret(secrets: SecretsDep, tenant: TenantDep) -> SecretView:
    """The tenant's signing secret (created now if it has none)."""
    return SecretView.model_validate((await secrets.get(tenant)).to_dict())


@router.post(
    "/webhooks/secret/rotate",
    response_model=SecretView,
    responses={409: {"description": "`webhook.no_secret_key`: GW_SECRET_KEY is not set."}},
)
async def rotate_secret(
    secrets: SecretsDep, tenant: TenantDep, body: RotateBody | None = None
) -> SecretView:
    """Replace the signing secret; the old one keeps signing for ``grace_seconds``."""
    grace = (body or RotateBody()).grace_seconds
    return SecretView.model_validate((await secrets.rotate(tenant, grace_seconds=grace)).to_dict())
