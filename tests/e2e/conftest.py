"""A real ``graphwright serve`` (open and with API keys) and headless Chromium for console tests.

Chromium comes from the distribution (``apt-get install chromium``), driven by
Playwright's client library; no browser is downloaded. Screenshots go to the
session's tmp dir (and to ``GW_CONSOLE_SCREENSHOTS`` when set, e.g. ``docs/img``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, sync_playwright

from tests.integration.conftest import create_database, database_url
from tests.integration.service.conftest import (
    EXAMPLES,
    TEST_WORKFLOWS,
    Server,
    server_env,
    start_server,
)

__all__ = ["create_database", "database_url"]  # the session database fixtures, shared

EXAMPLE_FILES = (
    "incident-response.json",
    "monitoring.json",
    "threat-triage.json",
    "asset-discovery.json",
    "draft-review-loop.json",
)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The distribution's Chromium (``GW_TEST_CHROMIUM`` overrides), or None."""
    explicit = os.environ.get("GW_TEST_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Servers:
    """The open (loopback, no auth) server, the keys server and the keys made for it."""

    open: Server
    auth: Server
    keys: dict[str, str]
    shots: Path


def prepare(server: Server) -> dict[str, str]:
    """Publish the examples and make keys ana, bob (approvers) and vic (viewer).

    Done over HTTP on the open server (its local caller is an admin of tenant
    ``default``): the same documents and keys as the CLI, without its start-up time.
    """
    documents = [json.loads((EXAMPLES / name).read_text()) for name in EXAMPLE_FILES]
    for document in [*documents, *TEST_WORKFLOWS.values()]:
        httpx.post(server.url + "/workflows", json=document, timeout=30).raise_for_status()
    keys = {}
    people = (("ana", ["approver", "operator"]), ("bob", ["approver"]), ("vic", ["viewer"]))
    for name, roles in people:
        made = httpx.post(server.url + "/keys", json={"name": name, "roles": roles}, timeout=10)
        made.raise_for_status()
        keys[name] = str(made.json()["key"])
    return keys


@pytest.fixture(scope="session")
def servers(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Both servers on one database (tenant ``default``), examples published."""
    if chromium_path() is None:
        pytest.skip("no Chromium: install it with `apt-get install -y chromium`")
    folder = tmp_path_factory.mktemp("console")
    env = server_env(database_url, GW_WORKERS="4")
    opened = start_server(env, folder / "open.log")  # applies the migrations
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(start_server, {**env, "GW_AUTH": "keys"}, folder / "auth.log")
        try:
            keys = prepare(opened)
            auth = starting.result()
        except Exception:
            opened.stop()
            if starting.exception() is None:
                starting.result().stop()
            raise
    shots = tmp_path_factory.mktemp("screenshots")
    yield Servers(open=opened, auth=auth, keys=keys, shots=shots)
    auth.stop()
    opened.stop()


@pytest.fixture(scope="module")
def browser(servers: Servers) -> Iterator[Browser]:
    """Headless Chromium from the distribution, for one test module.

    Playwright's sync API runs an event loop in this thread while it is open: closing
    it with the module keeps it from breaking the async fixtures of later tests.
    """
    path = chromium_path()
    assert path is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile at laptop width."""
    made = browser.new_context(viewport={"width": 1280, "height": 900})
    made.set_default_timeout(20_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught script error."""
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    assert not errors, errors


def screenshot(page: Page, servers: Servers, name: str, part: Locator | None = None) -> None:
    """Save a full-page screenshot (or of ``part`` only) as a test artifact (and to
    GW_CONSOLE_SCREENSHOTS)."""
    target = servers.shots / f"{name}.png"
    if part is not None:
        part.screenshot(path=str(target))
    else:
        page.screenshot(path=str(target), full_page=True)
    extra = os.environ.get("GW_CONSOLE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(extra) / f"console-{name}.png")


def sign_in(page: Page, server: Server, key: str) -> None:
    """Open the console and sign in with ``key``."""
    page.goto(server.url + "/")
    page.fill("#api-key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("h1:has-text('Workflows')")


def create_thread(
    server: Server, workflow_id: str, metadata: dict[str, str], key: str | None
) -> str:
    """Create a thread bound to ``workflow_id`` over HTTP; returns its id."""
    headers = {"X-Api-Key": key} if key else {}
    thread = httpx.post(
        server.url + "/threads",
        json={"metadata": {**metadata, "graph_id": workflow_id}},
        headers=headers,
        timeout=10,
    )
    thread.raise_for_status()
    return str(thread.json()["thread_id"])


def start_run(
    server: Server,
    workflow_id: str,
    run_input: dict[str, object],
    *,
    metadata: dict[str, str] | None = None,
    key: str | None = None,
    thread_id: str | None = None,
) -> tuple[str, str]:
    """Start a background run (on a new thread unless given); returns (thread_id, run_id)."""
    headers = {"X-Api-Key": key} if key else {}
    thread_id = thread_id or create_thread(server, workflow_id, metadata or {}, key)
    run = httpx.post(
        f"{server.url}/threads/{thread_id}/runs",
        json={"assistant_id": workflow_id, "input": run_input},
        headers=headers,
        timeout=10,
    )
    run.raise_for_status()
    return thread_id, str(run.json()["run_id"])


def pending_approval(server: Server, thread_id: str, key: str | None = None) -> str:
    """Wait until the thread has a pending approval; returns its id."""
    import time

    headers = {"X-Api-Key": key} if key else {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = httpx.get(
            server.url + "/approvals", params={"thread_id": thread_id}, headers=headers
        ).json()
        if found:
            return str(found[0]["approval_id"])
        time.sleep(0.1)
    raise AssertionError(f"no approval for thread {thread_id}")
