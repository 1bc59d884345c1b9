"""One webhook attempt, in process: the checked address, Host, redirects, DNS rebinding."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from psycopg.types.json import Jsonb

from graphwright.runtime.webhooks import WebhookDeliverer
from graphwright.settings import Settings
from graphwright.store import Pool
from graphwright.store.secrets import SecretCipher
from graphwright.store.webhook_secrets import WebhookSecretStore
from graphwright.store.webhooks import ClaimedDelivery, WebhookStore
from tests.integration.service.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database_url(module_database_url: str) -> str:
    """This module's own database: a live server of another module claims no run here."""
    return module_database_url


@pytest.fixture(scope="module")
def pool(module_pool: Pool) -> Pool:
    """The pool on this module's own database."""
    return module_pool


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The webhook receiver (a real HTTP server on 127.0.0.1)."""
    yield from running_receiver()


class FlippingResolver:
    """Answers ``names`` from a table; a name in ``later`` answers differently from the
    second lookup on (a DNS rebinding)."""

    def __init__(self, names: dict[str, list[str]], later: dict[str, list[str]]) -> None:
        self.names = names
        self.later = later
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host in self.later and self.lookups.count(host) > 1:
            return self.later[host]
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return self.names[host]


SETTINGS = Settings(
    secret_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),  # type: ignore[arg-type]
    webhook_allow=["127.0.0.1"],
    webhook_timeout_seconds=5,
)


def make_deliverer(
    pool: Pool, database_url: str, tenant: str, owner: str, resolver: FlippingResolver
) -> WebhookDeliverer:
    """A deliverer limited to ``tenant``, 127.0.0.1 allowed, names from ``resolver``."""
    return WebhookDeliverer(
        SETTINGS,
        WebhookStore(pool, max_attempts=3),
        WebhookSecretStore(pool, cipher=SecretCipher.from_setting(SETTINGS.secret_key)),
        owner=owner,
        database_url=database_url,
        tenants=[tenant],
        resolver=resolver,
    )


@pytest.fixture
async def deliverer(
    pool: Pool, database_url: str, tenant: str
) -> AsyncIterator[tuple[WebhookDeliverer, FlippingResolver]]:
    """A started deliverer limited to the test's tenant, 127.0.0.1 allowed, a fake resolver."""
    resolver = FlippingResolver(
        {"hooks.test": ["127.0.0.1"], "rebind.test": ["127.0.0.1"]},
        {"rebind.test": ["10.0.0.9"]},
    )
    started = make_deliverer(pool, database_url, tenant, "test:deliverer", resolver)
    await started.start()
    try:
        yield started, resolver
    finally:
        await started.stop()


def claimed(tenant: str, url: str) -> ClaimedDelivery:
    """A delivery as a claim hands it over (not stored: ``attempt`` only sends)."""
    return ClaimedDelivery(
        tenant_id=tenant,
        delivery_id=str(uuid.uuid4()),
        url=url,
        body={"run_id": "r-1", "status": "success"},
        attempt=1,
        max_attempts=3,
    )


async def test_connects_to_the_checked_address_with_the_name_as_host(
    deliverer: tuple[WebhookDeliverer, FlippingResolver], receiver: Receiver, tenant: str
) -> None:
    """A name resolving to an allowed address: sent there, with `Host: <name>:<port>`."""
    sender, _ = deliverer
    outcome = await sender.attempt(claimed(tenant, receiver.url("/named", host="hooks.test")))
    assert outcome.error is None
    assert outcome.status_code == 200
    got = receiver.on("/named")
    assert len(got) == 1
    assert got[0].headers["host"] == f"hooks.test:{receiver.port}"


async def test_redirects_are_not_followed(
    deliverer: tuple[WebhookDeliverer, FlippingResolver], receiver: Receiver, tenant: str
) -> None:
    """A 302 is a failed attempt; its Location is never requested."""
    sender, _ = deliverer
    receiver.script["/moved"] = [302]
    outcome = await sender.attempt(claimed(tenant, receiver.url("/moved")))
    assert outcome.status_code == 302
    assert outcome.error is not None
    assert "redirects are not followed" in outcome.error
    assert receiver.on("/redirected") == []


async def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(
    deliverer: tuple[WebhookDeliverer, FlippingResolver], receiver: Receiver, tenant: str
) -> None:
    """Allowed when first checked, the name later resolves to 10.0.0.9: nothing is sent."""
    sender, resolver = deliverer
    first = await sender.attempt(claimed(tenant, receiver.url("/rebind", host="rebind.test")))
    assert first.error is None
    second = await sender.attempt(claimed(tenant, receiver.url("/rebind", host="rebind.test")))
    assert second.status_code is None
    assert second.error is not None
    assert second.error.startswith("webhook.forbidden_destination")
    assert "10.0.0.9" in second.error
    assert len(receiver.on("/rebind")) == 1
    assert resolver.lookups.count("rebind.test") == 2


async def test_two_processes_deliver_each_webhook_once(
    pool: Pool, database_url: str, tenant: str, receiver: Receiver
) -> None:
    """60 run ends, two deliverers claiming at once: every delivery is sent exactly once."""
    runs = [str(uuid.uuid4()) for _ in range(60)]
    async with pool.connection() as conn:
        for run_id in runs:
            await conn.execute(
                "insert into gw_runs (tenant_id, run_id, thread_id, assistant_id,"
                " workflow_version, status, payload) values (%s, %s, %s, 'wf', 1, 'running', %s)",
                (tenant, run_id, str(uuid.uuid4()), Jsonb({"webhook": receiver.url("/pair")})),
            )
        await conn.execute(
            "update gw_runs set status = 'success' where tenant_id = %s and run_id = any(%s)",
            (tenant, runs),
        )
    resolver = FlippingResolver({}, {})
    pair = [make_deliverer(pool, database_url, tenant, f"test:{n}", resolver) for n in (1, 2)]
    for one in pair:
        await one.start()
    try:
        await asyncio.to_thread(receiver.wait_for, "/pair", len(runs), 60)
        await asyncio.sleep(0.5)  # anything sent twice would arrive by now
    finally:
        for one in pair:
            await one.stop()
    got = receiver.on("/pair")
    per_delivery = Counter(r.headers["x-graphwright-delivery"] for r in got)
    assert len(per_delivery) == len(runs)
    assert set(per_delivery.values()) == {1}
    assert all(one.delivered > 0 for one in pair)  # both took part
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select status, attempts, count(*) as n from gw_webhook_deliveries"
            " where tenant_id = %s group by status, attempts",
            (tenant,),
        )
        rows = await cur.fetchall()
    assert [(r["status"], r["attempts"], r["n"]) for r in rows] == [("delivered", 1, len(runs))]
