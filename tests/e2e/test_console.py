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


def finished_thread(servers: Servers, token: str) -> str:
    """A thread whose svc-chain run (one, two, three) has finished; returns its id."""
    thread_id = create_thread(servers.open, "svc-chain", {}, None)
    done = httpx.post(
        f"{servers.open.url}/threads/{thread_id}/runs/wait",
        json={"assistant_id": "svc-chain", "input": {"token": token}},
        timeout=30,
    )
    done.raise_for_status()
    return thread_id


def test_history_shows_a_checkpoint_state_with_its_changes(servers: Servers, page: Page) -> None:
    """ "Show state" of a past checkpoint shows its values and what changed since its parent."""
    thread_id = finished_thread(servers, "show")
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    checkpoint = page.locator("#history li[data-next=two]")
    checkpoint.locator("[data-action=show]").click()
    expect(page.locator("#checkpoint h3")).to_contain_text("State at step 1")
    trail = page.locator("#cp-changes tr[data-field=trail]")
    expect(trail.locator("td").nth(1)).to_have_text("[]")
    expect(trail.locator("td").nth(2)).to_have_text('["one"]')
    expect(page.locator("#cp-changes tbody tr")).to_have_count(1)
    screenshot(page, servers, "checkpoint-state")


def test_fork_from_an_earlier_checkpoint_runs_to_completion(servers: Servers, page: Page) -> None:
    """Forking a finished run at step 1 starts a run there that finishes; history has the branch."""
    thread_id = finished_thread(servers, "fork")
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    expect(page.locator("#conn")).to_have_text("● live")
    checkpoint = page.locator("#history li[data-next=two]")
    forked_from = checkpoint.get_attribute("data-checkpoint")
    checkpoint.locator("[data-action=fork]").click()
    result = page.locator("#fork-result")
    expect(result).to_contain_text("on this thread")
    run_id = result.get_attribute("data-run")
    expect(page.locator(f"#runs-table tr[data-run='{run_id}']")).to_contain_text("success")
    expect(page.locator("#run-status")).to_contain_text("completed")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    # The log holds both runs: the fork re-ran two and three from the checkpoint, not one.
    expect(page.locator("#events tr[data-type='run.finished']")).to_have_count(2)
    started = page.locator("#events tr[data-type='node.started'] td:nth-child(4)").all_inner_texts()
    assert sorted(started) == ["one", "three", "three", "two", "two"]
    history = httpx.post(
        f"{servers.open.url}/threads/{thread_id}/history", json={"limit": 50}, timeout=10
    ).json()
    parents = [(cp.get("parent_checkpoint") or {}).get("checkpoint_id") for cp in history]
    assert parents.count(forked_from) == 2, "the original step 2 and the fork's branch"
    assert history[0]["values"]["trail"] == ["one", "two", "three"]
    screenshot(page, servers, "fork")


def test_fork_on_a_copy_leaves_the_original_thread_alone(servers: Servers, page: Page) -> None:
    """ "…on a copy" runs a copy of the thread from the checkpoint; the original keeps one run."""
    thread_id = finished_thread(servers, "copy")
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    page.locator("#history li[data-next=three] [data-action=fork-copy]").click()
    expect(page).not_to_have_url(f"{servers.open.url}/ui/#/threads/{thread_id}")
    copy_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table tbody tr").first).to_contain_text("success")
    runs = httpx.get(f"{servers.open.url}/threads/{thread_id}/runs", timeout=10).json()
    assert len(runs) == 1
    state = httpx.get(f"{servers.open.url}/threads/{copy_id}/state", timeout=10).json()
    assert state["values"]["trail"] == ["one", "two", "three"]


def test_operations_page_shows_the_tenant_figures_and_refreshes(
    servers: Servers, page: Page
) -> None:
    """A viewer sees queue depth and pending approvals as /ops/summary has them; Refresh updates."""
    ana = servers.keys["ana"]
    thread_id, _ = start_run(servers.auth, "svc-gated", {"token": "ops"}, key=ana)
    pending_approval(servers.auth, thread_id, ana)
    delayed = {"assistant_id": "svc-chain", "input": {"token": "later"}, "after_seconds": 600}

    def queue_one() -> None:
        made = create_thread(servers.auth, "svc-chain", {}, ana)
        httpx.post(
            f"{servers.auth.url}/threads/{made}/runs",
            json=delayed,
            headers={"X-Api-Key": ana},
            timeout=10,
        ).raise_for_status()

    queue_one()
    sign_in(page, servers.auth, servers.keys["vic"])
    page.click("a[data-nav=ops]")
    expect(page.locator("h1")).to_have_text("Operations")
    summary = httpx.get(
        servers.auth.url + "/ops/summary", headers={"X-Api-Key": ana}, timeout=10
    ).json()
    total = page.locator("#ops-total")
    for figure in ("queued", "approvals_pending", "failed_last_hour"):
        tile = total.locator(f"[data-figure={figure}] .figure")
        expect(tile).to_have_text(str(summary["total"][figure]))
    per = {w["workflow_id"]: w for w in summary["workflows"]}
    assert per["svc-gated"]["approvals_pending"] >= 1
    rows = page.locator("#ops-workflows")
    gated = rows.locator("tr[data-workflow=svc-gated] [data-figure=approvals_pending]")
    expect(gated).to_have_text(str(per["svc-gated"]["approvals_pending"]))
    screenshot(page, servers, "operations")

    page.uncheck("#ops-auto")
    queue_one()
    page.click("#ops-refresh")
    queued = total.locator("[data-figure=queued] .figure")
    expect(queued).to_have_text(str(summary["total"]["queued"] + 1))
    chain = rows.locator("tr[data-workflow=svc-chain] [data-figure=queued]")
    expect(chain).to_have_text(str(per["svc-chain"]["queued"] + 1))
