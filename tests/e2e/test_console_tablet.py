"""The console at tablet width (768x1024) and with the keyboard only."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import Servers, pending_approval, screenshot, start_run

pytestmark = pytest.mark.integration

TABLET = {"width": 768, "height": 1024}

# Elements wider than the viewport that are not inside something that scrolls on its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      const inside = p.getBoundingClientRect().right <= width + 0.5;
      if ((x === "auto" || x === "scroll") && inside) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 0.5 && !scrolls(el)) {
      const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}`;
      out.push(`${name}.${el.className?.baseVal ?? el.className} right=${Math.round(r.right)}`);
    }
  }
  return {page: document.documentElement.scrollWidth, width, out: out.slice(0, 10)};
}"""


@pytest.fixture
def tablet(browser: Browser) -> Iterator[BrowserContext]:
    """A browser profile at tablet width, with touch."""
    made = browser.new_context(viewport=TABLET, has_touch=True)
    made.set_default_timeout(20_000)
    yield made
    made.close()


def assert_fits(page: Page, what: str) -> None:
    """Nothing makes the page scroll sideways, and every main navigation link is on screen."""
    found = page.evaluate(OVERFLOW)
    assert found["page"] <= found["width"], (what, found)
    assert found["out"] == [], (what, found)
    for link in page.locator("header.top a").all():
        box = link.bounding_box()
        assert box is not None, what
        assert box["x"] >= 0, (what, box)
        assert box["x"] + box["width"] <= TABLET["width"], (what, box)


def reachable(page: Page, selector: str) -> None:
    """The control is enabled, and on screen once scrolled to (not cut off at the side)."""
    control = page.locator(selector)
    control.scroll_into_view_if_needed()
    expect(control).to_be_in_viewport()
    expect(control).to_be_enabled()
    box = control.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= TABLET["width"]


def test_main_pages_fit_a_tablet_and_their_controls_are_reachable(
    servers: Servers, tablet: BrowserContext
) -> None:
    """At 768x1024 no main page scrolls sideways and each page's controls are on screen."""
    page = tablet.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    url = servers.auth.url
    page.goto(url + "/")
    assert_fits(page, "sign-in")
    page.fill("#api-key", servers.keys["ana"])
    page.click("#signin button[type=submit]")
    expect(page.locator("h1")).to_have_text("Workflows")
    assert_fits(page, "workflows")
    reachable(page, "#validate-btn")

    page.goto(url + "/ui/#/workflows/draft-review-loop")
    expect(page.locator("#start-form")).to_be_visible()
    assert_fits(page, "workflow")
    reachable(page, "#start-form button[type=submit]")
    client = f"tab-{secrets.token_hex(3)}"
    page.fill("#in-topic", "tablets")
    page.fill("#in-max_rounds", "1")
    page.fill("#meta-client_id", client)
    page.click("#start-form button[type=submit]")
    expect(page.locator(".gnode[data-node=review]")).to_have_attribute("data-state", "waiting")
    assert_fits(page, "thread")
    reachable(page, "#open-approval")
    screenshot(page, servers, "tablet-live-run")

    page.goto(url + "/ui/#/threads")
    expect(page.locator("#thread-filters")).to_be_visible()
    assert_fits(page, "threads")
    reachable(page, "#thread-filters button[type=submit]")

    page.goto(url + f"/ui/#/approvals?meta=client_id%3D{client}")
    row = page.locator("#inbox tbody tr")
    expect(row).to_have_count(1)
    assert_fits(page, "inbox")
    row.locator("a").click()
    expect(page.locator("#decide-form")).to_be_visible()
    assert_fits(page, "approval")
    reachable(page, "#decide-btn")
    screenshot(page, servers, "tablet-approval")

    page.goto(url + "/ui/#/ops")
    expect(page.locator("#ops-total")).to_be_visible()
    assert_fits(page, "operations")
    reachable(page, "#ops-refresh")
    assert not errors, errors


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


def test_an_approval_is_found_edited_and_decided_with_the_keyboard_only(
    servers: Servers, page: Page
) -> None:
    """Sign in, filter the inbox, open the approval, pick "edit", change the draft, comment
    and decide, with keys only; the run continues with the edit and the view follows it."""
    client = f"kb-{secrets.token_hex(3)}"
    ana = servers.keys["ana"]
    thread_id, _ = start_run(
        servers.auth,
        "draft-review-loop",
        {"topic": "keys", "max_rounds": 1},
        metadata={"client_id": client},
        key=ana,
    )
    pending_approval(servers.auth, thread_id, ana)

    page.goto(servers.auth.url + "/")
    expect(page.locator("#api-key")).to_be_focused()
    page.keyboard.type(servers.keys["bob"])
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Workflows")
    tab_to(page, "a[data-nav=approvals]")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Approvals")
    tab_to(page, "#a-meta")
    page.keyboard.type(f"client_id={client}")
    page.keyboard.press("Enter")
    expect(page.locator("#inbox tbody tr")).to_have_count(1)
    tab_to(page, "#inbox tbody a")
    page.keyboard.press("Enter")
    expect(page.locator("#decide-form")).to_be_visible()

    tab_to(page, "input[name=decision]")
    expect(page.locator("input[name=decision][value=approve]")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("input[name=decision][value=edit]")).to_be_checked()
    tab_to(page, "#edit-draft", limit=3)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("# keys\n\nEdited without a mouse.")
    tab_to(page, "#comment", limit=3)
    page.keyboard.type("typed")
    tab_to(page, "#decide-btn", limit=3)
    page.keyboard.press("Enter")

    expect(page.locator("#run-status")).to_contain_text("completed")
    expect(page.locator("#state")).to_contain_text("Edited without a mouse.")
    decided = page.locator("#gate")
    expect(decided).to_contain_text("review decided: edit by bob")
