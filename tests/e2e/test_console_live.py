"""The live run view (subworkflows opened in place, crew activity), the thread time filter
and the approval form's inline errors."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    Servers,
    create_thread,
    pending_approval,
    screenshot,
    start_run,
)
from tests.integration.service.conftest import EXAMPLES

pytestmark = pytest.mark.integration

TRIAGE_HIGH = {
    "target": "host-7",
    "indicators": ["file:mimikatz.exe", "port:4444", "ip:203.0.113.7"],
}
DISCOVERY_INPUT = json.loads((EXAMPLES / "inputs" / "asset-discovery.json").read_text())


def progress_events(servers: Servers, thread_id: str, run_id: str) -> list[dict[str, object]]:
    """Every progress event of a finished (or paused) run, from the API."""
    out = []
    with httpx.stream(
        "GET",
        f"{servers.open.url}/threads/{thread_id}/runs/{run_id}/stream",
        params={"stream_mode": "progress"},
        timeout=20,
    ) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "progress":
                out.append(json.loads(line[6:]))
    return out


def test_subworkflow_opens_in_place_and_its_nodes_light_up_live(
    servers: Servers, page: Page
) -> None:
    """A subworkflow node opened (by keyboard) before the run shows the inner workflow's
    graph, whose nodes go from pending to finished as the run's inner events arrive."""
    thread_id = create_thread(servers.open, "threat-triage", {}, None)
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    expect(page.locator("#conn")).to_have_text("● live")
    respond = page.locator("#live-graph .gnode[data-node=respond]")
    expect(respond).to_have_attribute("aria-expanded", "false")
    respond.focus()
    page.keyboard.press("Enter")
    expect(respond).to_have_attribute("aria-expanded", "true")
    inner = page.locator("[data-subworkflow=respond]")
    expect(inner.locator("h3")).to_contain_text("respond: incident-response v1")
    contain = inner.locator(".gnode[data-node=contain]")
    expect(contain).to_have_attribute("data-state", "pending")

    start_run(servers.open, "threat-triage", TRIAGE_HIGH, thread_id=thread_id)
    expect(page.locator("#run-status")).to_contain_text("completed")
    for node in ("open_incident", "contain"):
        expect(inner.locator(f".gnode[data-node={node}]")).to_have_attribute(
            "data-state", "finished"
        )
    expect(respond).to_have_attribute("data-state", "finished")
    expect(page.locator("#live-graph .gnode[data-node=monitor]")).to_have_attribute(
        "data-state", "pending"
    )
    # The inner nodes say what they wrote (in their accessible name and tooltip).
    expect(inner.locator(".gnode[data-node=open_incident]")).to_have_attribute(
        "aria-label", re.compile(r"finished, .* wrote incident")
    )
    screenshot(page, servers, "live-subworkflow", page.locator("section[aria-labelledby=live-h]"))

    # Closing and opening again replays what happened inside.
    respond.click()
    expect(inner).to_have_count(0)
    respond.click()
    expect(inner.locator(".gnode[data-node=open_incident]")).to_have_attribute(
        "data-state", "finished"
    )


def test_a_subworkflow_opened_after_the_run_shows_what_happened(
    servers: Servers, page: Page
) -> None:
    """Opening the subworkflow of a finished run fills its graph from the events so far;
    the branch not taken stays pending."""
    thread_id, _ = start_run(servers.open, "threat-triage", {"target": "host-8", "indicators": []})
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    expect(page.locator("#run-status")).to_contain_text("completed")
    page.locator("#live-graph .gnode[data-node=monitor]").click()
    inner = page.locator("[data-subworkflow=monitor]")
    for node in ("add_watch", "schedule_rescan"):
        expect(inner.locator(f".gnode[data-node={node}]")).to_have_attribute(
            "data-state", "finished"
        )
    expect(page.locator("#live-graph .gnode[data-node=respond]")).to_have_attribute(
        "data-state", "pending"
    )


SUB_GATED = {
    "dsl": "graphwright/v1",
    "id": "e2e-sub-gated",
    "state": {"token": {"type": "string", "default": ""}},
    "input": ["token"],
    "nodes": {
        "inner": {
            "kind": "subworkflow",
            "workflow": "svc-gated",
            "inputs": {"token": "state.token"},
        }
    },
    "edges": [{"from": "START", "to": "inner"}, {"from": "inner", "to": "END"}],
}


def test_a_gate_inside_a_subworkflow_waits_in_both_graphs(servers: Servers, page: Page) -> None:
    """A run paused at a gate inside a subworkflow shows the subworkflow node waiting, and
    its opened graph shows which gate; the banner names the gate by its path."""
    httpx.post(servers.open.url + "/workflows", json=SUB_GATED, timeout=30).raise_for_status()
    thread_id, _ = start_run(servers.open, "e2e-sub-gated", {"token": "inside"})
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    inner = page.locator("#live-graph .gnode[data-node=inner]")
    expect(inner).to_have_attribute("data-state", "waiting")
    expect(page.locator("#gate")).to_contain_text("Waiting for approval at inner \u203a gate")
    inner.click()
    opened = page.locator("[data-subworkflow=inner]")
    expect(opened.locator(".gnode[data-node=gate]")).to_have_attribute("data-state", "waiting")
    expect(opened.locator(".gnode[data-node=first]")).to_have_attribute("data-state", "finished")
    expect(opened.locator(".gnode[data-node=last]")).to_have_attribute("data-state", "pending")


def test_crew_node_shows_steps_tool_calls_and_tokens(servers: Servers, page: Page) -> None:
    """The example's crew node gets a panel with its tool calls, tasks done and the tokens
    crew.usage reports; the graph node carries the same token count."""
    thread_id = create_thread(servers.open, "asset-discovery", {}, None)
    page.goto(f"{servers.open.url}/ui/#/threads/{thread_id}")
    expect(page.locator("#conn")).to_have_text("● live")
    _, run_id = start_run(servers.open, "asset-discovery", DISCOVERY_INPUT, thread_id=thread_id)
    # The first crew of a server process imports crewai (seconds on a loaded machine).
    expect(page.locator(".gnode[data-node=review]")).to_have_attribute(
        "data-state", "waiting", timeout=90_000
    )

    events = progress_events(servers, thread_id, run_id)
    [usage] = [e["data"] for e in events if e["type"] == "crew.usage"]
    assert isinstance(usage, dict)
    tokens = int(usage["tokens"])
    panel = page.locator("[data-crew=analyse]")
    expect(panel.locator("[data-figure=tasks]")).to_have_text("Tasks 2/2")
    expect(panel.locator("[data-figure=tokens]")).to_have_text(f"Tokens {tokens:,}")
    expect(panel.locator("[data-figure=tools]")).to_have_text("Tool calls 2")
    tools = panel.locator(".crew-log li[data-kind=tool] code")
    expect(tools).to_have_text(["infer_dependencies", "write_asset_plan"])
    expect(panel.locator(".crew-log li[data-kind=usage]")).to_contain_text(
        f"completed: {tokens} tokens"
    )
    expect(page.locator(".gnode[data-node=analyse]")).to_contain_text(f"{tokens:,} tok")
    expect(page.locator("#events tr[data-type='crew.tool_used']")).to_have_count(2)
    screenshot(page, servers, "live-crew", page.locator("section[aria-labelledby=live-h]"))


def test_thread_list_filters_by_creation_time(servers: Servers, page: Page) -> None:
    """The time filter keeps threads created in the window: "last hour" finds new ones,
    a window that ends before they were made finds none, and "updated" filters too."""
    client = f"t-{secrets.token_hex(3)}"
    made = {create_thread(servers.open, "svc-chain", {"client_id": client}, None) for _ in range(2)}
    page.goto(f"{servers.open.url}/ui/#/threads")
    page.fill("#f-meta", f"client_id={client}")
    page.select_option("#f-within", "1h")
    expect(page.locator("#f-from")).to_be_disabled()
    page.click("#thread-filters button[type=submit]")
    rows = page.locator("#threads-table tbody tr")
    expect(rows).to_have_count(2)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.thread)")) == made
    assert "within=1h" in page.url

    page.select_option("#f-within", "")
    earlier = datetime.now(UTC).astimezone() - timedelta(hours=2)
    page.fill("#f-to", earlier.strftime("%Y-%m-%dT%H:%M"))
    page.click("#thread-filters button[type=submit]")
    expect(page.locator("#threads-empty")).to_be_visible()

    page.fill("#f-to", "")
    page.fill("#f-from", earlier.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#f-time", "updated")
    page.click("#thread-filters button[type=submit]")
    expect(rows).to_have_count(2)
    screenshot(page, servers, "threads-time")


TAGGED = {
    "dsl": "graphwright/v1",
    "id": "e2e-tagged",
    "state": {
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
        "review": {"type": "object", "nullable": True},
    },
    "input": ["tags"],
    "nodes": {
        "gate": {
            "kind": "approval",
            "prompt": "Keep these tags?",
            "decisions": ["approve", "edit"],
            "editable": ["tags"],
            "writes": "review",
        }
    },
    "edges": [{"from": "START", "to": "gate"}, {"from": "gate", "to": "END"}],
}


def test_an_edit_the_server_refuses_is_shown_under_its_field(servers: Servers, page: Page) -> None:
    """An edit of the wrong shape comes back as approval.invalid_edit pointing at the field;
    the message appears under that field, and the approval stays pending until fixed."""
    httpx.post(servers.open.url + "/workflows", json=TAGGED, timeout=30).raise_for_status()
    thread_id, _ = start_run(servers.open, "e2e-tagged", {"tags": ["a"]})
    approval = pending_approval(servers.open, thread_id)
    page.goto(f"{servers.open.url}/ui/#/approvals/{approval}")
    page.check("input[name=decision][value=edit]")
    page.fill("#edit-tags", '["ok", 7]')
    page.click("#decide-btn")
    expect(page.locator("#edit-tags-error")).to_contain_text("valid string (at 1)")
    expect(page.locator("#decide-result")).to_contain_text("approval.invalid_edit")
    pending = httpx.get(f"{servers.open.url}/approvals/{approval}", timeout=10).json()
    assert pending["status"] == "pending"

    page.fill("#edit-tags", '["ok", "seven"]')
    page.click("#decide-btn")
    expect(page.locator("#run-status")).to_contain_text("completed")
    expect(page.locator("#state")).to_contain_text("seven")
