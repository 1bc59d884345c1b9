"""The cron API through the official SDK: calls, firings, roles, tenants, bad input.

One ``graphwright serve`` with ``GW_AUTH=keys`` and run slots (so it also fires
schedules); tenants ``acme`` and ``globex`` each get an operator and a viewer key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError, PermissionDeniedError

from tests.integration.service.conftest import Server, server_env, start_server
from tests.integration.service.test_runs_sdk import lines
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

GRAPHWRIGHT = str(Path(sys.executable).parent / "graphwright")
TICK = chain("cron-tick", ["tick"])
"""One ``svc.step`` node: a run leaves one marks line."""


@dataclass
class Keyed:
    """A live server with auth on, and keys by (tenant, role)."""

    server: Server
    keys: dict[tuple[str, str], str]

    def sdk(self, tenant: str, role: str) -> LangGraphClient:
        """The official SDK client with the key of ``role`` in ``tenant``."""
        return get_client(url=self.server.url, api_key=self.keys[(tenant, role)])

    def http(self, tenant: str, role: str) -> httpx.AsyncClient:
        """A plain HTTP client with the key of ``role`` in ``tenant``."""
        headers = {"X-Api-Key": self.keys[(tenant, role)]}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def keyed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    """GW_AUTH=keys; per tenant an admin (CLI), operator and viewer key; cron-tick published."""
    folder = tmp_path_factory.mktemp("crons")
    env = server_env(
        database_url,
        GW_AUTH="keys",
        GW_WORKERS="2",
        GW_CRON_POLL_SECONDS="1",
        GW_WEBHOOK_ALLOW="127.0.0.1",  # the test's receiver
        GW_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    server = start_server(env, folder / "server.log")
    keys: dict[tuple[str, str], str] = {}
    try:
        for tenant in ("acme", "globex"):
            command = [GRAPHWRIGHT, "keys", "create", "--tenant", tenant, "--role", "admin"]
            made = subprocess.run(
                [*command, "--name", "root"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert made.returncode == 0, made.stderr
            admin = {"X-Api-Key": json.loads(made.stdout)["key"]}
            for role in ("operator", "viewer"):
                answer = httpx.post(
                    server.url + "/keys", json={"name": role, "roles": [role]}, headers=admin
                )
                assert answer.status_code == 201, answer.text
                keys[(tenant, role)] = answer.json()["key"]
            published = httpx.post(server.url + "/workflows", json=TICK, headers=admin)
            assert published.status_code in (200, 201), published.text
        yield Keyed(server, keys)
    finally:
        server.stop()


def tick_input(marks: Path, token: str = "t") -> dict[str, Any]:
    """Input of cron-tick writing to ``marks``."""
    return {"token": token, "marks": str(marks), "delays": {"tick": 0.0}}


def when(text: str | None) -> datetime:
    """A response's timestamp."""
    assert text is not None
    return datetime.fromisoformat(text)


async def test_official_sdk_cron_calls(keyed: Keyed, tmp_path: Path) -> None:
    """create, create_for_thread, search, count, update and delete work with the official SDK."""
    marker = {"suite": uuid.uuid4().hex}
    async with keyed.sdk("acme", "operator") as client:
        thread = await client.threads.create()
        end = datetime(2099, 1, 1, tzinfo=UTC)
        stateless: Any = await client.crons.create(
            "cron-tick",
            schedule="0 9 * * *",
            input=tick_input(tmp_path / "m"),
            metadata=marker,
            timezone="Europe/Paris",
            end_time=end,
            on_run_completed="keep",
            stream_mode=["values", "updates"],
            durability="async",
        )
        on_thread: Any = await client.crons.create_for_thread(
            thread["thread_id"],
            "cron-tick",
            schedule="*/5 * * * *",
            input=tick_input(tmp_path / "m"),
            multitask_strategy="enqueue",
            metadata=marker,
        )
        assert stateless["timezone"] == "Europe/Paris"
        assert stateless["enabled"] is True
        assert stateless["thread_id"] is None
        assert stateless["on_run_completed"] == "keep"
        assert when(stateless["end_time"]) == end
        first = when(stateless["next_run_date"])
        assert first.astimezone(UTC).hour in (7, 8)  # 09:00 in Paris
        assert first > datetime.now(UTC)
        assert stateless["payload"]["input"]["token"] == "t"
        assert stateless["payload"]["stream_mode"] == ["values", "updates"]
        assert stateless["payload"]["durability"] == "async"
        assert stateless["metadata"] == marker
        assert on_thread["thread_id"] == thread["thread_id"]
        assert when(on_thread["next_run_date"]).minute % 5 == 0

        found = await client.crons.search(assistant_id="cron-tick", metadata=marker)
        assert {c["cron_id"] for c in found} == {stateless["cron_id"], on_thread["cron_id"]}
        mine = await client.crons.search(thread_id=thread["thread_id"])
        assert [c["cron_id"] for c in mine] == [on_thread["cron_id"]]
        ordered = await client.crons.search(
            metadata=marker, sort_by="next_run_date", sort_order="asc", select=["cron_id"]
        )
        assert ordered == [{"cron_id": on_thread["cron_id"]}, {"cron_id": stateless["cron_id"]}]
        assert await client.crons.count(metadata=marker) == 2
        assert await client.crons.count(thread_id=thread["thread_id"]) == 1

        moved: Any = await client.crons.update(
            stateless["cron_id"], schedule="30 8 * * *", timezone="Asia/Tokyo"
        )
        assert (when(moved["next_run_date"]).astimezone(UTC).hour, moved["timezone"]) == (
            23,
            "Asia/Tokyo",
        )
        assert moved["payload"]["input"] == stateless["payload"]["input"]  # untouched
        paused: Any = await client.crons.update(stateless["cron_id"], enabled=False)
        assert (paused["enabled"], paused["next_run_date"]) == (False, None)
        disabled = await client.crons.search(metadata=marker, enabled=False)
        assert [c["cron_id"] for c in disabled] == [stateless["cron_id"]]
        resumed: Any = await client.crons.update(
            stateless["cron_id"], enabled=True, end_time=None, input=tick_input(tmp_path / "x")
        )
        assert resumed["next_run_date"] is not None
        assert resumed["end_time"] is None
        assert resumed["payload"]["input"]["marks"].endswith("x")
        assert resumed["payload"]["stream_mode"] == ["values", "updates"]  # kept

        await client.crons.delete(stateless["cron_id"])
        await client.crons.delete(on_thread["cron_id"])
        assert await client.crons.count(metadata=marker) == 0
        with pytest.raises(NotFoundError):
            await client.crons.delete(on_thread["cron_id"])
    async with keyed.http("acme", "viewer") as http:
        gone = await http.get(f"/runs/crons/{stateless['cron_id']}")
    assert gone.status_code == 404
    assert gone.json()["code"] == "cron.not_found"


async def wait_for(check: Any, *, seconds: float = 60.0) -> Any:
    """Poll ``await check()`` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.3)


async def test_firings_start_runs_marked_with_their_cron(keyed: Keyed, tmp_path: Path) -> None:
    """An every-second cron starts runs (new threads, kept) whose metadata names the cron."""
    marks = tmp_path / "marks"
    async with keyed.sdk("acme", "operator") as client:
        cron: Any = await client.crons.create(
            "cron-tick",
            schedule="* * * * * *",
            input=tick_input(marks),
            metadata={"purpose": "fire"},
            on_run_completed="keep",
        )

        async def fired_twice() -> Any:
            found = await client.crons.search(metadata={"purpose": "fire"})
            return found if found and found[0]["last_run_date"] and len(lines(marks)) >= 2 else None

        seen = (await wait_for(fired_twice))[0]
        await client.crons.delete(cron["cron_id"])
        assert seen["last_run_id"]
        assert seen["last_error"] is None
        assert when(seen["next_run_date"]) > when(seen["last_run_date"])
        await asyncio.sleep(2.5)  # a firing under way when it was deleted ends meanwhile
        threads = await client.threads.search(metadata={"cron_id": cron["cron_id"]}, limit=100)
        runs = [r for t in threads for r in await client.runs.list(t["thread_id"])]
        settled = len(lines(marks))
        await asyncio.sleep(2.0)
        assert len(lines(marks)) == settled  # deleted: no more firings
    assert len(runs) == len(threads) >= 2
    stamps = [r["metadata"]["cron_scheduled_at"] for r in runs]
    assert len(set(stamps)) == len(stamps)
    assert all(r["metadata"]["cron_id"] == cron["cron_id"] for r in runs)
    assert all(r["metadata"]["purpose"] == "fire" for r in runs)
    assert seen["last_run_id"] in {r["run_id"] for r in runs}


async def test_thread_cron_runs_on_its_thread(keyed: Keyed, tmp_path: Path) -> None:
    """A cron for a thread queues each firing on that thread (multitask enqueue)."""
    marks = tmp_path / "marks"
    async with keyed.sdk("acme", "operator") as client:
        thread = await client.threads.create()
        cron: Any = await client.crons.create_for_thread(
            thread["thread_id"],
            "cron-tick",
            schedule="* * * * * *",
            input=tick_input(marks),
            multitask_strategy="enqueue",
        )

        async def two_runs() -> Any:
            runs = await client.runs.list(thread["thread_id"])
            return runs if len([r for r in runs if r["status"] == "success"]) >= 2 else None

        runs = await wait_for(two_runs)
        await client.crons.delete(cron["cron_id"])
    assert {r["metadata"]["cron_id"] for r in runs} == {cron["cron_id"]}
    assert {r["thread_id"] for r in runs} == {thread["thread_id"]}


async def test_viewers_read_operators_change(keyed: Keyed, tmp_path: Path) -> None:
    """A viewer may search, count and read crons; creating, changing, deleting needs operator."""
    async with keyed.sdk("acme", "operator") as operator:
        cron: Any = await operator.crons.create(
            "cron-tick", schedule="0 0 1 1 *", input=tick_input(tmp_path / "m")
        )
    async with keyed.sdk("acme", "viewer") as viewer:
        assert cron["cron_id"] in {c["cron_id"] for c in await viewer.crons.search(limit=1000)}
        assert await viewer.crons.count() >= 1
        for attempt in (
            viewer.crons.create("cron-tick", schedule="0 0 1 1 *"),
            viewer.crons.update(cron["cron_id"], enabled=False),
            viewer.crons.delete(cron["cron_id"]),
        ):
            with pytest.raises(PermissionDeniedError) as caught:
                await attempt
            assert caught.value.response.json()["code"] == "auth.forbidden"
    async with keyed.http("acme", "viewer") as http:
        assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 200
    async with keyed.sdk("acme", "operator") as operator:
        await operator.crons.delete(cron["cron_id"])


async def test_another_tenants_cron_is_not_found(keyed: Keyed, tmp_path: Path) -> None:
    """globex cannot see, count, change or delete acme's cron, nor schedule on acme's thread."""
    marker = {"isolation": uuid.uuid4().hex}
    async with keyed.sdk("acme", "operator") as acme:
        thread = await acme.threads.create()
        cron: Any = await acme.crons.create(
            "cron-tick", schedule="0 0 1 1 *", input=tick_input(tmp_path / "m"), metadata=marker
        )
        async with keyed.sdk("globex", "operator") as globex:
            assert await globex.crons.search(metadata=marker) == []
            assert await globex.crons.count(metadata=marker) == 0
            for attempt in (
                globex.crons.update(cron["cron_id"], enabled=False),
                globex.crons.delete(cron["cron_id"]),
                globex.crons.create_for_thread(
                    thread["thread_id"], "cron-tick", schedule="* * * * *"
                ),
            ):
                with pytest.raises(NotFoundError):
                    await attempt
        async with keyed.http("globex", "viewer") as http:
            answer = await http.get(f"/runs/crons/{cron['cron_id']}")
        assert answer.json()["code"] == "cron.not_found"
        still: Any = (await acme.crons.search(metadata=marker))[0]
        assert still["enabled"] is True
        await acme.crons.delete(cron["cron_id"])


@pytest.mark.parametrize(
    ("body", "status", "code", "pointer"),
    [
        ({"schedule": "61 * * * *"}, 422, "cron.invalid_schedule", "/schedule"),
        ({"schedule": "every day"}, 422, "cron.invalid_schedule", "/schedule"),
        ({"schedule": "0 0 31 2 *"}, 422, "cron.invalid_schedule", "/schedule"),
        ({"timezone": "Mars/Olympus"}, 422, "cron.invalid_timezone", "/timezone"),
        ({"timezone": "Europe/Pariss"}, 422, "cron.invalid_timezone", "/timezone"),
        ({"command": {"resume": "approve"}}, 422, "cron.invalid_request", "/command"),
        ({"stream_mode": ["nope"]}, 422, "run.invalid_request", "/stream_mode/0"),
        ({"input": {"token": 5}}, 422, "state.invalid_input", None),
        ({"assistant_id": "no-such-workflow"}, 404, "workflow.not_found", None),
        ({"schedule": ""}, 422, "request.invalid", "/schedule"),
    ],
    ids=[
        "out-of-range",
        "words",
        "never-fires",
        "unknown-zone",
        "misspelt-zone",
        "command",
        "stream-mode",
        "input",
        "unknown-assistant",
        "empty-schedule",
    ],
)
async def test_bad_crons_are_refused_with_stable_codes(
    keyed: Keyed,
    body: dict[str, Any],
    status: int,
    code: str,
    pointer: str | None,
) -> None:
    """A cron the service could never fire is refused at creation, with a code and pointer."""
    request = {"assistant_id": "cron-tick", "schedule": "* * * * *", **body}
    async with keyed.http("acme", "operator") as http:
        answer = await http.post("/runs/crons", json=request)
        count = await http.post("/runs/crons/count", json={"assistant_id": "no-such-workflow"})
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["code"] == code
    if pointer is not None:
        assert problem["problems"][0]["pointer"] == pointer
    assert count.json() == 0


async def test_schedule_on_a_missing_thread_is_404(keyed: Keyed) -> None:
    """create_for_thread on a thread that does not exist: 404 thread.not_found."""
    async with keyed.http("acme", "operator") as http:
        answer = await http.post(
            f"/threads/{uuid.uuid4()}/runs/crons",
            json={"assistant_id": "cron-tick", "schedule": "* * * * *"},
        )
    assert answer.status_code == 404
    assert answer.json()["code"] == "thread.not_found"


async def test_info_says_crons_are_served(keyed: Keyed) -> None:
    """/info flags crons as available (LangGraph Studio and clients ask before using them)."""
    async with keyed.http("acme", "viewer") as http:
        info = (await http.get("/info")).json()
    assert info["flags"]["crons"] is True


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP endpoint answering 200 and keeping the JSON bodies POSTed to it."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            bodies.append(json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", bodies
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_crons_runs_call_its_webhook(
    keyed: Keyed, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """The run options of a cron reach its runs: each firing's run POSTs to the cron's webhook."""
    url, bodies = receiver
    async with keyed.sdk("acme", "operator") as client:
        cron: Any = await client.crons.create(
            "cron-tick",
            schedule="* * * * * *",
            input=tick_input(tmp_path / "marks"),
            webhook=url,
            on_run_completed="keep",
        )
        assert cron["payload"]["webhook"] == url
        await wait_for(lambda: asyncio.sleep(0, result=bodies))
        await client.crons.delete(cron["cron_id"])
        threads = await client.threads.search(metadata={"cron_id": cron["cron_id"]}, limit=100)
        runs = {r["run_id"]: r for t in threads for r in await client.runs.list(t["thread_id"])}
    delivered = {body.get("run_id") for body in bodies}
    assert delivered & set(runs), (delivered, list(runs))
    assert all(runs[run_id]["kwargs"]["webhook"] == url for run_id in delivered & set(runs))


async def test_a_forbidden_webhook_is_refused_when_the_cron_is_created(keyed: Keyed) -> None:
    """A webhook the run service would refuse is refused at creation, not at each firing."""
    async with keyed.http("acme", "operator") as http:
        answer = await http.post(
            "/runs/crons",
            json={
                "assistant_id": "cron-tick",
                "schedule": "* * * * *",
                "webhook": "http://10.1.2.3/hook",
            },
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "webhook.forbidden_destination"
