"""The discovery console in headless Chromium against a live ``graphwright serve``."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    Servers,
    create_thread,
    pending_approval,
    screenshot,
    sign_in,
    start_run,
)
from tests.e2e.proxy import CuttingProxy

pytestmark = pytest.mark.integration

BROKEN = {
    "dsl": "graphwright/v1",
    "id": "e2e-broken",
    "state": {"token": {"type": "string", "default": ""}},
    "nodes": {"first": {"kind": "function", "ref": "svc.stap"}},
    "edges": [{"from": "START", "to": "first"}, {"from": "first", "to": "END"}],
}


def test_run_from_form_reaches_gate_live_is_decided_with_edit_and_completes(
    servers: Servers, page: Page
) -> None:
    """A run started from the form shows the gate waiting live; an edit decision completes it."""
    client = f"acme-{secrets.token_hex(3)}"
    page.goto(servers.open.url + "/")
    expect(page).to_have_url(servers.open.url + "/ui/")
    page.click("a:has-text('draft-review-loop')")
    page.wait_for_selector("#start-form")
    screenshot(page, servers, "workflow")
    page.fill("#in-topic", "owls")
    page.fill("#in-max_rounds", "1")
    page.fill("#meta-client_id", client)
    page.click("#start-form button[type=submit]")
    gate = page.locator(".gnode[data-node=review]")
    expect(gate).to_have_attribute("data-state", "waiting")
    expect(gate).to_contain_text("waiting for approval")
    expect(page.locator(".gnode[data-node=write_draft]")).to_have_attribute(
        "data-state", "finished"
    )
    screenshot(page, servers, "live-run")
    page.click("a[data-nav=approvals]")
    row = page.locator("#inbox tr", has_text=client)
    expect(row).to_have_count(1)
    screenshot(page, servers, "inbox")
    row.locator("a").click()
    page.check("input[name=decision][value=edit]")
    page.fill("#edit-draft", "# owls\n\nEdited in the browser.")
    page.fill("#comment", "tightened")
    screenshot(page, servers, "approval")
    page.click("#decide-btn")
    expect(page.locator("#run-status")).to_contain_text("completed")
    expect(gate).to_have_attribute("data-state", "finished")
    expect(page.locator("#state")).to_contain_text("Edited in the browser.")
    expect(page.locator("#thread-status")).to_contain_text("idle")


def test_sse_drop_reconnects_and_catches_up_without_duplicates(
    servers: Servers, page: Page
) -> None:
    """Cutting the stream mid-run shows "reconnecting…", then every event appears exactly once."""
    port = int(servers.open.url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port)
    try:
        delays = {"one": 1.0, "two": 1.5, "three": 0.5}
        thread_id = create_thread(servers.open, "svc-chain", {}, None)
        page.goto(f"{proxy.url}/ui/#/threads/{thread_id}")
        expect(page.locator("#conn")).to_have_text("● live")
        _, run_id = start_run(
            servers.open, "svc-chain", {"token": "cut", "delays": delays}, thread_id=thread_id
        )
        expect(page.locator(".gnode[data-node=one]")).to_have_attribute("data-state", "running")
        assert proxy.cut(refuse=True) > 0
        expect(page.locator("#conn")).to_have_text("reconnecting…")
        page.wait_for_timeout(1500)  # the run goes on meanwhile: node two starts unseen
        proxy.restore()
        expect(page.locator("#conn")).to_have_text("● live", timeout=10_000)
        expect(page.locator("#run-status")).to_contain_text("completed", timeout=20_000)
    finally:
        proxy.close()
    ids = page.locator("#events tr").evaluate_all("rows => rows.map(r => r.dataset.eventId)")
    with httpx.stream(
        "GET",
        f"{servers.open.url}/threads/{thread_id}/runs/{run_id}/stream",
        params={"stream_mode": "progress"},
        timeout=10,
    ) as stream:
        expected, event = [], None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("id: ") and event == "progress":
                expected.append(f"{run_id}:{line[4:]}")
    assert len(ids) == len(set(ids))
    assert ids == expected
    for node in ("one", "two", "three"):
        state = page.locator(f".gnode[data-node={node}]")
        expect(state).to_have_attribute("data-state", "finished")


def test_two_browsers_decide_one_approval_and_the_loser_is_told_who_won(
    servers: Servers, browser: Browser
) -> None:
    """Of two approvers deciding together one wins; the other sees who decided and when."""
    thread_id, _ = start_run(servers.auth, "svc-gated", {"token": "race"}, key=servers.keys["ana"])
    approval = pending_approval(servers.auth, thread_id, servers.keys["ana"])
    pages = []
    for name in ("ana", "bob"):
        ctx = browser.new_context()
        ctx.set_default_timeout(20_000)
        opened = ctx.new_page()
        sign_in(opened, servers.auth, servers.keys[name])
        opened.goto(f"{servers.auth.url}/ui/#/approvals/{approval}")
        opened.wait_for_selector("#decide-form")
        pages.append(opened)
    ana, bob = pages
    ana.click("#decide-btn")
    expect(ana.locator("#live-graph")).to_be_visible()
    bob.click("#decide-btn")
    expect(bob.locator("#decided")).to_contain_text("Decided: approve by ana (key:")
    expect(bob.locator("[role=alert]")).to_have_count(0)
    screenshot(bob, servers, "already-decided")
    for opened in pages:
        opened.context.close()


def test_viewer_sees_the_inbox_read_only_and_cannot_decide(servers: Servers, page: Page) -> None:
    """A viewer key lists approvals but gets no decision form, and the API answers 403."""
    thread_id, _ = start_run(servers.auth, "svc-gated", {"token": "view"}, key=servers.keys["ana"])
    approval = pending_approval(servers.auth, thread_id, servers.keys["ana"])
    sign_in(page, servers.auth, servers.keys["vic"])
    page.click("a[data-nav=approvals]")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator(f"#inbox tr[data-approval='{approval}']")).to_have_count(1)
    page.goto(f"{servers.auth.url}/ui/#/approvals/{approval}")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#decide-form")).to_have_count(0)
    status = page.evaluate(
        """async (id) => (await fetch(`/approvals/${id}/decide`, {method: "POST",
            headers: {"Content-Type": "application/json",
                      "X-Api-Key": sessionStorage.getItem("graphwright.apiKey")},
            body: JSON.stringify({decision: "approve"})})).status""",
        approval,
    )
    assert status == 403


def test_validation_problems_are_shown_at_their_place(servers: Servers, page: Page) -> None:
    """A broken document's problem appears under the line its JSON pointer names."""
    page.goto(servers.open.url + "/ui/#/workflows")
    page.fill("#doc-text", json.dumps(BROKEN))
    page.click("#validate-btn")
    problem = page.locator(
        ".doclines li", has=page.locator(".problem[data-pointer='/nodes/first/ref']")
    )
    expect(problem).to_have_count(1)
    expect(problem.locator("pre.line")).to_have_text('      "ref": "svc.stap"')
    expect(problem.locator(".problem")).to_contain_text("registry.unknown_name")
    expect(problem.locator(".problem")).to_contain_text("did you mean svc.step?")
    screenshot(page, servers, "validate")


def test_thread_list_filters_by_client_id(servers: Servers, page: Page) -> None:
    """Filtering threads by client_id=<value> lists only that client's threads."""
    mine, theirs = f"c-{secrets.token_hex(3)}", f"c-{secrets.token_hex(3)}"
    wanted, _ = start_run(servers.open, "svc-chain", {"token": "a"}, metadata={"client_id": mine})
    start_run(servers.open, "svc-chain", {"token": "b"}, metadata={"client_id": theirs})
    page.goto(servers.open.url + "/ui/#/threads")
    page.fill("#f-meta", f"client_id={mine}")
    page.click("#thread-filters button[type=submit]")
    rows = page.locator("#threads-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-thread", wanted)
    screenshot(page, servers, "threads")


def test_api_docs_load_from_the_server_only(servers: Servers, page: Page) -> None:
    """/docs renders Swagger UI with no request leaving the server (works offline)."""
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(servers.open.url) else outside.append(request.url)
        ),
    )
    page.goto(servers.open.url + "/docs")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible()
    assert outside == []
