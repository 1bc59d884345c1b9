"""The console's Schedules page, webhook deliveries and rate-limit waits on a run's live view."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Servers, create_thread, screenshot, sign_in
from tests.integration.conftest import CreateDatabase
from tests.integration.service.conftest import Server, server_env, start_server
from tests.integration.service.webhook_receiver import Receiver, running_receiver
from tests.integration.service.workflows import chain

pytestmark = pytest.mark.integration

LIMITER = f"e2e_turns_{secrets.token_hex(3)}"
"""A limiter of this session only (Redis is shared): one call in any 4 seconds."""
A_TIME = re.compile(r"^\d{4}-\d\d-\d\dT")
"""An ISO date-time (a <time datetime=...>)."""
LIMITED = chain("e2e-limited", ["first", "second"])
for _node in LIMITED["nodes"].values():
    _node["rate_limit"] = LIMITER


@dataclass
class Extra:
    """A server of this module on its own database: webhooks to 127.0.0.1, the limiter."""

    server: Server
    receiver: Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1."""
    yield from running_receiver()


@pytest.fixture(scope="module")
def extra(
    create_database: CreateDatabase, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> Iterator[Extra]:
    """``graphwright serve`` with a secret key, GW_WEBHOOK_ALLOW and GW_RATE_LIMITS.

    Its own database: the shared servers do not know the limiter, so they must not
    claim the limited workflow's runs. A sync fixture (the database is made on a loop
    of its own thread): Playwright's sync API holds this thread's loop once a browser
    of the module is open.
    """

    async def made() -> str:
        return await create_database()

    with ThreadPoolExecutor(1) as pool:
        url = pool.submit(asyncio.run, made()).result()
    folder: Path = tmp_path_factory.mktemp("schedules")
    env = server_env(
        url,
        GW_WORKERS="2",
        GW_SECRET_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        GW_WEBHOOK_ALLOW="127.0.0.1",
        GW_WEBHOOK_RETRY_SECONDS="1",
        GW_WEBHOOK_RETRY_MAX_SECONDS="1",
        GW_RATE_LIMITS=f"{LIMITER}=1/4 seconds",
    )
    server = start_server(env, folder / "extra.log")
    try:
        for document in (LIMITED, chain("svc-chain", ["one", "two", "three"])):
            httpx.post(server.url + "/workflows", json=document, timeout=30).raise_for_status()
        yield Extra(server=server, receiver=receiver)
    finally:
        server.stop()


def test_schedule_from_form_fires_opens_its_thread_is_disabled_and_deleted(
    servers: Servers, page: Page
) -> None:
    """A 3-second schedule made in the form shows its next fire time, fires (the last run
    links to its thread), loses its next fire time when disabled, and is gone when deleted."""
    token = f"sched-{secrets.token_hex(3)}"
    page.goto(servers.open.url + "/ui/#/schedules")
    expect(page.locator("h1")).to_have_text("Schedules")
    page.select_option("#sch-workflow", "svc-chain")
    expect(page.locator("#sin-token")).to_be_visible()
    page.fill("#sch-schedule", "* * * * * */3")
    expect(page.locator("#sch-words")).to_have_text("= every 3 seconds")
    page.fill("#sch-timezone", "Europe/Paris")
    page.fill("#sin-token", token)
    page.fill("#sch-metadata", f"run={token}")
    page.click("#schedule-create")
    created = page.locator("#schedule-created")
    expect(created).to_contain_text("next at")
    cron_id = created.get_attribute("data-cron")
    assert cron_id
    row = page.locator(f"#schedules tr[data-cron='{cron_id}']")
    expect(row.locator("[data-col=schedule]")).to_contain_text("every 3 seconds")
    expect(row.locator("[data-col=schedule]")).to_contain_text("Europe/Paris (GMT+")
    expect(row.locator("[data-col=enabled]")).to_have_text("● enabled")
    expect(row.locator("[data-col=next] time")).to_have_attribute("datetime", A_TIME)
    # It fires: the list refreshes itself every 5 s and shows the last run.
    link = row.locator("[data-col=run] a")
    expect(link).to_be_visible(timeout=30_000)
    expect(row.locator("[data-col=last] time")).to_have_attribute("datetime", A_TIME)
    expect(row.locator("[data-col=error]")).to_have_text("")
    screenshot(page, servers, "schedules")
    run_id = link.get_attribute("data-run")
    link.click()
    expect(page).to_have_url(re.compile(r"#/threads/[0-9a-f-]{36}$"))
    expect(page.locator(f"#runs-table tr[data-run='{run_id}']")).to_have_count(1)
    expect(page.locator("#state")).to_contain_text(token)
    # Disable: no next fire time; delete: gone (the API agrees).
    page.click("a[data-nav=schedules]")
    expect(page.locator("h1")).to_be_focused()
    row = page.locator(f"#schedules tr[data-cron='{cron_id}']")
    row.locator("button[data-action=toggle]").click()
    expect(row.locator("[data-col=enabled]")).to_have_text("○ disabled")
    expect(row.locator("button[data-action=toggle]")).to_be_focused()
    expect(row.locator("[data-col=next]")).to_have_text("—")
    assert httpx.get(f"{servers.open.url}/runs/crons/{cron_id}").json()["next_run_date"] is None
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=delete]").click()
    expect(row).to_have_count(0)
    assert httpx.get(f"{servers.open.url}/runs/crons/{cron_id}").status_code == 404


def test_bad_cron_expression_and_time_zone_are_shown_at_their_fields(
    servers: Servers, page: Page
) -> None:
    """cron.invalid_schedule appears under the expression, cron.invalid_timezone (with the
    nearest name) under the time zone; nothing is created."""
    before = httpx.post(f"{servers.open.url}/runs/crons/count", json={}).json()
    page.goto(servers.open.url + "/ui/#/schedules")
    page.select_option("#sch-workflow", "svc-chain")
    page.fill("#sch-schedule", "61 * * * *")
    page.click("#schedule-create")
    expect(page.locator("#sch-schedule-error")).to_contain_text("not a cron expression")
    expect(page.locator("#sch-schedule")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sch-schedule")).to_be_focused()
    expect(page.locator("#schedule-status")).to_contain_text("cron.invalid_schedule")
    page.fill("#sch-schedule", "0 9 * * 1-5")
    expect(page.locator("#sch-words")).to_have_text("= at 09:00 on weekdays")
    page.fill("#sch-timezone", "Europe/Pariss")
    page.click("#schedule-create")
    expect(page.locator("#sch-timezone-error")).to_contain_text("Europe/Paris")
    expect(page.locator("#sch-schedule-error")).to_have_text("")
    expect(page.locator("#schedule-status")).to_contain_text("cron.invalid_timezone")
    assert httpx.post(f"{servers.open.url}/runs/crons/count", json={}).json() == before


def test_a_viewer_sees_schedules_without_create_or_delete(servers: Servers, page: Page) -> None:
    """With a viewer key the list shows the schedule, read-only: no form, no buttons."""
    made = httpx.post(
        f"{servers.auth.url}/runs/crons",
        json={"assistant_id": "svc-chain", "schedule": "0 3 * * *", "enabled": False},
        headers={"X-Api-Key": servers.keys["ana"]},
        timeout=10,
    )
    made.raise_for_status()
    cron_id = made.json()["cron_id"]
    try:
        sign_in(page, servers.auth, servers.keys["vic"])
        page.click("a[data-nav=schedules]")
        row = page.locator(f"#schedules tr[data-cron='{cron_id}']")
        expect(row.locator("[data-col=schedule]")).to_contain_text("at 03:00 every day")
        expect(row.locator("[data-col=enabled]")).to_have_text("○ disabled")
        expect(page.locator("#read-only")).to_be_visible()
        expect(page.locator("#schedule-form")).to_have_count(0)
        expect(page.locator("#schedules button")).to_have_count(0)
        expect(page.locator("main")).not_to_contain_text("null")
        # Tablet width: the table scrolls in its box, the page does not.
        page.set_viewport_size({"width": 768, "height": 1024})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, servers, "schedules-viewer")
    finally:
        httpx.delete(
            f"{servers.auth.url}/runs/crons/{cron_id}",
            headers={"X-Api-Key": servers.keys["ana"]},
            timeout=10,
        ).raise_for_status()


def test_webhook_deliveries_show_status_attempts_and_last_error(
    extra: Extra, servers: Servers, page: Page
) -> None:
    """A run with a webhook whose receiver fails once shows its delivery: 500 as the last
    error, then delivered after 2 attempts."""
    path = f"/hook-{secrets.token_hex(3)}"
    extra.receiver.script[path] = [500]
    url = extra.server.url
    thread_id = create_thread(extra.server, "svc-chain", {}, None)
    page.goto(f"{url}/ui/#/threads/{thread_id}")
    expect(page.locator("#conn")).to_have_text("● live")
    expect(page.locator("#webhooks")).to_have_count(0)
    httpx.post(
        f"{url}/threads/{thread_id}/runs",
        json={
            "assistant_id": "svc-chain",
            "input": {"delays": {"one": 0.5, "two": 0, "three": 0}},
            "webhook": extra.receiver.url(path),
        },
        timeout=10,
    ).raise_for_status()
    row = page.locator("#webhooks tbody tr")
    expect(row.locator("[data-col=status]")).to_contain_text("delivered", timeout=30_000)
    expect(row.locator("[data-col=attempts] summary")).to_have_text("2/12")
    expect(row.locator("[data-col=error]")).to_contain_text("attempt 1: HTTP 500")
    row.locator("[data-col=attempts] summary").click()
    tried = row.locator("[data-col=attempts]")
    expect(tried.locator("li[data-outcome=failed]")).to_contain_text("HTTP 500")
    expect(tried.locator("li[data-outcome=delivered]")).to_contain_text("HTTP 200")
    expect(page.locator("#webhook-deliveries")).not_to_contain_text("null")
    screenshot(page, servers, "webhooks", page.locator("#webhook-deliveries"))
    assert len(extra.receiver.on(path)) == 2


def test_a_rate_limited_node_shows_what_it_waits_for_until_its_turn(
    extra: Extra, servers: Servers, page: Page
) -> None:
    """Under a 1-per-4-seconds limit the second node shows "waiting for <limiter>" on the
    graph and above it, then finishes; the label goes."""
    url = extra.server.url
    thread_id = create_thread(extra.server, "e2e-limited", {}, None)
    page.goto(f"{url}/ui/#/threads/{thread_id}")
    expect(page.locator("#conn")).to_have_text("● live")
    started = time.monotonic()
    httpx.post(
        f"{url}/threads/{thread_id}/runs",
        json={"assistant_id": "e2e-limited", "input": {}},
        timeout=10,
    ).raise_for_status()
    second = page.locator(".gnode[data-node=second]")
    expect(second).to_have_attribute("data-state", "limited")
    expect(second).to_contain_text(f"waiting for {LIMITER}")
    expect(page.locator("#rate-limited")).to_contain_text(f"second waiting for {LIMITER}")
    expect(page.locator("tr[data-type='node.rate_limited']").first).to_contain_text(LIMITER)
    screenshot(page, servers, "rate-limited", page.locator("#live-graph"))
    expect(second).to_have_attribute("data-state", "finished", timeout=30_000)
    assert time.monotonic() - started >= 3  # it did wait for the window
    expect(page.locator("#rate-limited li")).to_have_count(0)
    expect(second).not_to_contain_text("waiting for")
