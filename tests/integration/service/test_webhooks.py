"""Webhooks through live processes: signed delivery with retries, refusals, takeover, tenancy.

An API process (no run slots) and a ``graphwright worker`` process share a
database of their own; the worker runs the runs and delivers their webhooks to
a real HTTP server in this test process (127.0.0.1, allowed by GW_WEBHOOK_ALLOW).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from graphwright.store import open_pool
from graphwright.store.webhooks import LOST_ATTEMPT
from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import Server, publish_examples, server_env, start_server
from tests.integration.service.test_runs_sdk import chain_input
from tests.integration.service.webhook_receiver import STALL, Receiver, running_receiver

pytestmark = pytest.mark.integration

TIMEOUT_SECONDS = 3.0
"""GW_WEBHOOK_TIMEOUT_SECONDS of the cluster (an attempt's lease is 5 s longer)."""


# The verification recipe of the README, verbatim.
def verify_graphwright_signature(
    body: bytes, header: str, secret: str, *, tolerance: int = 300
) -> bool:
    """Whether ``header`` (X-Graphwright-Signature) signs ``body`` (the raw request body)."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in fields if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    if abs(time.time() - int(timestamps[0])) > tolerance:
        return False  # too old, or from the future: a replay
    signed = timestamps[0].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in fields if key == "v1")


@dataclass
class Cluster:
    """The API process, the worker process(es) and the receiver."""

    api: Server
    workers: list[Server]
    env: dict[str, str]
    folder: Path
    database_url: str
    receiver: Receiver

    def add_worker(self) -> Server:
        """Start one more worker process."""
        name = f"worker-{uuid.uuid4().hex[:6]}"
        worker = start_server(self.env, self.folder / f"{name}.log", command="worker")
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The webhook receiver (a real HTTP server on 127.0.0.1)."""
    yield from running_receiver()


@pytest.fixture(scope="module")
async def shared_cluster(
    create_database: CreateDatabase,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: Receiver,
) -> AsyncIterator[Cluster]:
    """API (tenant acme, no run slots) + one worker; fast webhook retries, 127.0.0.1 allowed."""
    url = await create_database()
    folder = tmp_path_factory.mktemp("webhooks")
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = server_env(
        url,
        tenant="acme",
        GW_WORKERS="0",
        GW_SECRET_KEY=key,
        GW_WEBHOOK_ALLOW="127.0.0.1",
        GW_WEBHOOK_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        GW_WEBHOOK_RETRY_SECONDS="0.3",
        GW_WEBHOOK_RETRY_MAX_SECONDS="1",
        GW_WEBHOOK_MAX_ATTEMPTS="4",
    )
    publish_examples(env, folder)
    api = start_server(env, folder / "api.log")
    built = Cluster(api, [], {**env, "GW_WORKERS": "2"}, folder, url, receiver)
    try:
        yield built
    finally:
        for worker in built.workers:
            worker.stop()
        api.stop()


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The shared cluster with exactly one live worker process."""
    alive = [w for w in shared_cluster.workers if w.process.poll() is None]
    for worker in shared_cluster.workers:
        if worker not in alive:
            worker.stop()  # closes its log
    shared_cluster.workers = alive
    if not alive:
        shared_cluster.add_worker()
    return shared_cluster


async def deliveries(http: httpx.AsyncClient, thread_id: str, run_id: str) -> list[dict[str, Any]]:
    """The run's deliveries, as the API shows them."""
    response = await http.get(f"/threads/{thread_id}/runs/{run_id}/webhooks")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def settled(
    http: httpx.AsyncClient, thread_id: str, run_id: str, limit: float = 60.0
) -> dict[str, Any]:
    """The run's only delivery once it is no longer pending."""
    deadline = time.monotonic() + limit
    while True:
        found = await deliveries(http, thread_id, run_id)
        if found and found[0]["status"] != "pending":
            assert len(found) == 1
            return found[0]
        assert time.monotonic() < deadline, f"delivery still pending: {found}"
        await asyncio.sleep(0.1)


async def test_failing_receiver_gets_one_signed_delivery_after_retries(
    cluster: Cluster, tmp_path: Path
) -> None:
    """500, 500, then 200: delivered once, signed (README recipe), three attempts in history."""
    receiver = cluster.receiver
    path = "/flaky"
    receiver.script[path] = [500, 503]
    async with (
        get_client(url=cluster.api.url) as client,
        httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http,
    ):
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "marks", "flaky"),
            webhook=receiver.url(path),
        )
        final = await client.runs.join(thread["thread_id"], run["run_id"])
        delivery = await settled(http, thread["thread_id"], run["run_id"])
        secret = (await http.get("/webhooks/secret")).json()["secret"]
    got = receiver.on(path)
    assert [r.answered for r in got] == [500, 503, 200]
    assert [r.headers["x-graphwright-attempt"] for r in got] == ["1", "2", "3"]
    assert {r.headers["x-graphwright-delivery"] for r in got} == {delivery["delivery_id"]}
    for request in got:
        assert verify_graphwright_signature(
            request.body, request.headers["x-graphwright-signature"], secret
        )
        assert not verify_graphwright_signature(
            request.body + b" ", request.headers["x-graphwright-signature"], secret
        )
    body = json.loads(got[-1].body)
    assert body["run_id"] == run["run_id"]
    assert body["thread_id"] == thread["thread_id"]
    assert body["assistant_id"] == "svc-chain"
    assert body["status"] == "success"
    assert body["values"]["trail"] == final["trail"] == ["one", "two", "three"]
    assert body["error"] is None
    assert body["delivery_id"] == delivery["delivery_id"]
    assert body["created_at"]
    assert body["run_ended_at"]
    assert body["webhook_sent_at"]

    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200
    assert delivery["next_attempt_at"] is None
    history = delivery["history"]
    assert [a["attempt"] for a in history] == [1, 2, 3]
    assert [a["outcome"] for a in history] == ["failed", "failed", "delivered"]
    assert [a["status_code"] for a in history] == [500, 503, 200]
    assert history[0]["error"].startswith("HTTP 500")
    assert history[2]["error"] is None


async def test_receiver_that_never_succeeds_fails_after_the_attempt_cap(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Four 500s (GW_WEBHOOK_MAX_ATTEMPTS=4): failed, last error kept, no fifth attempt;
    a retry by hand delivers it."""
    receiver = cluster.receiver
    path = "/down"
    receiver.script[path] = [500] * 4
    async with (
        get_client(url=cluster.api.url) as client,
        httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http,
    ):
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "marks", "down"),
            webhook=receiver.url(path),
        )
        delivery = await settled(http, thread["thread_id"], run["run_id"])
        assert delivery["status"] == "failed"
        assert delivery["attempts"] == 4
        assert delivery["last_status_code"] == 500
        await asyncio.sleep(2.0)  # past the longest backoff: nothing more is sent
        assert len(receiver.on(path)) == 4
        retried = await http.post(f"/webhooks/deliveries/{delivery['delivery_id']}/retry")
        assert retried.status_code == 200, retried.text
        await asyncio.to_thread(receiver.wait_for, path, 5, 30)
        again = await settled(http, thread["thread_id"], run["run_id"])
    assert again["status"] == "delivered"
    assert again["attempts"] == 5
    assert [r.answered for r in receiver.on(path)] == [500, 500, 500, 500, 200]


async def test_forbidden_destinations_are_refused_at_creation(cluster: Cluster) -> None:
    """Loopback other than the allowed 127.0.0.1, private, link-local, mapped IPv6, bad
    schemes: 422 with a stable code and the /webhook pointer; nothing is queued."""
    cases = {
        "http://127.0.0.2:9/hook": "webhook.forbidden_destination",
        "http://[::1]:9/hook": "webhook.forbidden_destination",
        "http://[::ffff:127.0.0.2]:9/hook": "webhook.forbidden_destination",
        "http://169.254.169.254/latest/meta-data": "webhook.forbidden_destination",
        "http://10.0.0.1/hook": "webhook.forbidden_destination",
        "ftp://127.0.0.1/hook": "webhook.invalid_url",
        "http://user:pw@127.0.0.1/hook": "webhook.invalid_url",
        "not a url": "webhook.invalid_url",
    }
    async with httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        for url, code in cases.items():
            for path in (f"/threads/{thread_id}/runs", "/runs/wait", "/runs/stream"):
                response = await http.post(
                    path, json={"assistant_id": "svc-chain", "input": {}, "webhook": url}
                )
                assert response.status_code == 422, (url, path, response.text)
                problem = response.json()
                assert problem["code"] == code, (url, problem)
                assert problem["problems"][0]["pointer"] == "/webhook"
        runs = await http.get(f"/threads/{thread_id}/runs")
    assert runs.json() == []


async def test_name_resolving_to_loopback_is_refused(server: Server) -> None:
    """Without GW_WEBHOOK_ALLOW, `localhost` (it resolves to 127.0.0.1) is refused: 422."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/runs",
            json={"assistant_id": "svc-chain", "input": {}, "webhook": "http://localhost:9/x"},
        )
        public = await http.post(
            "/runs",
            json={"assistant_id": "svc-chain", "input": {}, "webhook": "https://93.184.216.34/x"},
        )
    assert response.status_code == 422
    assert response.json()["code"] == "webhook.forbidden_destination"
    assert response.json()["details"]["host"] == "localhost"
    assert response.json()["details"]["address"] == "127.0.0.1"
    # A public destination passes the check; that server has no GW_SECRET_KEY to sign with.
    assert public.status_code == 422
    assert public.json()["code"] == "webhook.no_secret_key"


async def test_worker_killed_mid_delivery_is_taken_over(cluster: Cluster, tmp_path: Path) -> None:
    """SIGKILL the worker while the receiver stalls its attempt: another worker delivers the
    same delivery (same id, attempt 2) once the lease lapses; the lost attempt is shown."""
    receiver = cluster.receiver
    path = "/stall"
    receiver.script[path] = [STALL]
    async with (
        get_client(url=cluster.api.url) as client,
        httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http,
    ):
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "marks", "stall"),
            webhook=receiver.url(path),
        )
        await asyncio.to_thread(receiver.wait_for, path, 1)
        victim = cluster.workers[0]
        victim.process.kill()
        victim.process.wait(10)
        killed_at = time.monotonic()
        cluster.add_worker()
        got = await asyncio.to_thread(receiver.wait_for, path, 2, 60)
        took = time.monotonic() - killed_at
        delivery = await settled(http, thread["thread_id"], run["run_id"])
        finished = await client.runs.get(thread["thread_id"], run["run_id"])
    assert finished["status"] == "success"
    assert [r.answered for r in got] == [None, 200]
    assert got[0].headers["x-graphwright-delivery"] == got[1].headers["x-graphwright-delivery"]
    assert [r.headers["x-graphwright-attempt"] for r in got] == ["1", "2"]
    assert took < TIMEOUT_SECONDS + 5 + 20  # the lease (timeout + 5 s) plus start-up
    assert delivery["status"] == "delivered"
    assert [a["outcome"] for a in delivery["history"]] == ["failed", "delivered"]
    assert delivery["history"][0]["error"] == LOST_ATTEMPT
    await asyncio.sleep(1.0)
    assert len(receiver.on(path)) == 2  # nothing sent twice once delivered


async def test_cancelled_pending_run_sends_its_webhook(cluster: Cluster, tmp_path: Path) -> None:
    """A run cancelled while still queued ends `interrupted` outside the executor: its
    webhook goes out all the same (the outbox row is written with the run's end)."""
    receiver = cluster.receiver
    path = "/cancelled"
    async with (
        get_client(url=cluster.api.url) as client,
        httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http,
    ):
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "marks", "later"),
            webhook=receiver.url(path),
            after_seconds=600,
        )
        await client.runs.cancel(thread["thread_id"], run["run_id"])
        got = await asyncio.to_thread(receiver.wait_for, path, 1, 30)
        delivery = await settled(http, thread["thread_id"], run["run_id"])
    body = json.loads(got[0].body)
    assert body["run_id"] == run["run_id"]
    assert body["status"] == "interrupted"
    assert delivery["run_status"] == "interrupted"
    assert delivery["status"] == "delivered"


async def test_official_sdk_webhook_on_create_stream_and_wait(
    cluster: Cluster, tmp_path: Path
) -> None:
    """runs.create (stateless), runs.stream and runs.wait with webhook= each deliver once;
    the run shows its webhook in kwargs."""
    receiver = cluster.receiver
    async with get_client(url=cluster.api.url) as client:
        thread = await client.threads.create()
        waited = await client.runs.wait(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "m1", "wait"),
            webhook=receiver.url("/sdk-wait"),
        )
        parts = [
            part
            async for part in client.runs.stream(
                thread["thread_id"],
                "svc-chain",
                input=chain_input(tmp_path / "m2", "stream"),
                webhook=receiver.url("/sdk-stream"),
            )
        ]
        stateless = await client.runs.create(
            None,
            "svc-chain",
            input=chain_input(tmp_path / "m3", "stateless"),
            webhook=receiver.url("/sdk-stateless"),
        )
        runs = await client.runs.list(thread["thread_id"])
    assert isinstance(waited, dict)
    assert waited["trail"] == ["one", "two", "three"]
    assert parts
    statuses = set()
    for path in ("/sdk-wait", "/sdk-stream", "/sdk-stateless"):
        got = await asyncio.to_thread(receiver.wait_for, path, 1, 30)
        statuses.add(json.loads(got[0].body)["status"])
    assert statuses == {"success"}
    assert json.loads(receiver.on("/sdk-stateless")[0].body)["run_id"] == stateless["run_id"]
    assert {r["kwargs"]["webhook"] for r in runs} == {
        receiver.url("/sdk-wait"),
        receiver.url("/sdk-stream"),
    }
    await asyncio.sleep(0.5)
    assert [len(receiver.on(p)) for p in ("/sdk-wait", "/sdk-stream", "/sdk-stateless")] == [
        1,
        1,
        1,
    ]


async def test_delivery_history_and_secret_are_per_tenant(cluster: Cluster, tmp_path: Path) -> None:
    """Another tenant (its own API process on the same database) sees none of acme's
    deliveries (404 by run, empty list, 404 retry) and has a signing secret of its own."""
    receiver = cluster.receiver
    env = {**cluster.env, "GW_TENANT": "globex", "GW_WORKERS": "0"}
    publish_examples(env, cluster.folder)
    globex_server = start_server(env, cluster.folder / "globex.log")
    try:
        async with (
            get_client(url=cluster.api.url) as acme,
            httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as acme_http,
            httpx.AsyncClient(base_url=globex_server.url, timeout=30) as globex_http,
        ):
            thread = await acme.threads.create()
            run = await acme.runs.create(
                thread["thread_id"],
                "svc-chain",
                input=chain_input(tmp_path / "marks", "acme"),
                webhook=receiver.url("/tenants"),
            )
            delivery = await settled(acme_http, thread["thread_id"], run["run_id"])
            listed = await acme_http.get("/webhooks/deliveries", params={"run_id": run["run_id"]})
            assert [d["delivery_id"] for d in listed.json()] == [delivery["delivery_id"]]

            by_run = await globex_http.get(
                f"/threads/{thread['thread_id']}/runs/{run['run_id']}/webhooks"
            )
            everything = await globex_http.get("/webhooks/deliveries")
            filtered = await globex_http.get(
                "/webhooks/deliveries", params={"run_id": run["run_id"]}
            )
            retry = await globex_http.post(f"/webhooks/deliveries/{delivery['delivery_id']}/retry")
            acme_secret = (await acme_http.get("/webhooks/secret")).json()["secret"]
            globex_secret = (await globex_http.get("/webhooks/secret")).json()["secret"]
    finally:
        globex_server.stop()
    assert by_run.status_code == 404
    assert by_run.json()["code"] == "run.not_found"
    assert everything.status_code == 200
    assert all(d["run_id"] != run["run_id"] for d in everything.json())
    assert filtered.json() == []
    assert retry.status_code == 404
    assert retry.json()["code"] == "webhook.not_found"
    assert acme_secret.startswith("whsec_")
    assert globex_secret.startswith("whsec_")
    assert acme_secret != globex_secret
    got = receiver.on("/tenants")
    assert verify_graphwright_signature(
        got[0].body, got[0].headers["x-graphwright-signature"], acme_secret
    )
    assert not verify_graphwright_signature(
        got[0].body, got[0].headers["x-graphwright-signature"], globex_secret
    )


async def test_rotation_signs_with_both_secrets_during_the_grace(
    cluster: Cluster, tmp_path: Path
) -> None:
    """After a rotation, deliveries carry a signature with the new secret and, during the
    grace period, one with the old; the secret is stored encrypted (not in clear)."""
    receiver = cluster.receiver
    async with (
        get_client(url=cluster.api.url) as client,
        httpx.AsyncClient(base_url=cluster.api.url, timeout=30) as http,
    ):
        old = (await http.get("/webhooks/secret")).json()["secret"]
        rotated = await http.post("/webhooks/secret/rotate", json={"grace_seconds": 3600})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old
        assert rotated.json()["previous_expires_at"] is not None
        thread = await client.threads.create()
        await client.runs.wait(
            thread["thread_id"],
            "svc-chain",
            input=chain_input(tmp_path / "marks", "rotated"),
            webhook=receiver.url("/rotated"),
        )
        got = await asyncio.to_thread(receiver.wait_for, "/rotated", 1, 30)
    header = got[0].headers["x-graphwright-signature"]
    assert header.count("v1=") == 2
    assert verify_graphwright_signature(got[0].body, header, new)
    assert verify_graphwright_signature(got[0].body, header, old)
    pool = await open_pool(cluster.database_url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "select ciphertext, previous_ciphertext from gw_webhook_secrets"
                " where tenant_id = 'acme'"
            )
            row = await cur.fetchone()
    finally:
        await pool.close()
    assert row is not None
    stored = bytes(row["ciphertext"]) + bytes(row["previous_ciphertext"])
    assert new.encode() not in stored
    assert old.encode() not in stored
