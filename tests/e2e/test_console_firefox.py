"""Smoke test of the console in Firefox (the distribution's ``firefox-esr``, over WebDriver BiDi).

Skips, saying why, when Firefox is not installed (``apt-get install -y firefox-esr``).
"""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Servers
from tests.e2e.test_console_tablet import OVERFLOW

pytestmark = pytest.mark.integration

if importlib.util.find_spec("websockets") is None:  # pragma: no cover - a dependency today
    pytest.skip("the Firefox smoke test needs the websockets package", allow_module_level=True)

from tests.e2e.bidi import FirefoxPage, firefox_path, launch_firefox  # noqa: E402


@pytest.fixture(scope="module")
def firefox() -> Iterator[FirefoxPage]:
    """Headless Firefox from the distribution, one tab, for this module."""
    path = firefox_path()
    if path is None:
        pytest.skip("no Firefox: install it with `apt-get install -y firefox-esr`")
    with launch_firefox(path) as page:
        yield page


def test_console_starts_follows_and_decides_a_run_in_firefox(
    servers: Servers, firefox: FirefoxPage
) -> None:
    """In Firefox: start a run from the form, watch it reach the gate live over SSE, decide
    it with an edit, see it complete; the thread list filters; the page fits a tablet;
    /docs renders offline; no script error."""
    page = firefox
    url = servers.open.url
    client = f"ff-{secrets.token_hex(3)}"
    page.set_viewport(1280, 900)
    page.goto(url + "/")
    page.wait_for("document.querySelector('h1')?.textContent === 'Workflows'")
    assert page.evaluate("location.pathname") == "/ui/"
    page.click("a[href='#/workflows/draft-review-loop']")
    page.wait_for(
        "document.querySelectorAll('.gnode').length >= 5 && !!document.querySelector('#start-form')"
    )

    page.type("#in-topic", "foxes")
    page.type("#in-max_rounds", "1")
    page.type("#meta-client_id", client)
    page.click("#start-form button[type=submit]")
    page.wait_for("document.querySelector('#conn')?.textContent === '● live'")
    page.wait_for("document.querySelector('.gnode[data-node=review]')?.dataset.state === 'waiting'")
    assert (
        page.evaluate("document.querySelector('.gnode[data-node=write_draft]').dataset.state")
        == "finished"
    )
    page.screenshot(servers.shots / "firefox-live-run.png")

    page.set_viewport(768, 1024)
    fits = page.evaluate(f"({OVERFLOW})()")
    assert fits["page"] <= fits["width"], fits
    assert fits["out"] == [], fits
    page.set_viewport(1280, 900)

    page.click("#open-approval")
    page.wait_for("!!document.querySelector('#decide-form')")
    page.click("input[name=decision][value=edit]")
    page.wait_for("!document.querySelector('#edits').disabled")
    page.type("#edit-draft", "Edited in Firefox.")
    page.click("#decide-btn")
    page.wait_for(
        "document.querySelector('#run-status')?.textContent.includes('completed')", timeout=30
    )
    page.wait_for("document.querySelector('#state')?.textContent.includes('Edited in Firefox.')")
    assert page.text(".gnode[data-node=review]").find("finished") >= 0

    page.goto(f"{url}/ui/#/threads?meta=client_id%3D{client}")
    page.wait_for("document.querySelectorAll('#threads-table tbody tr').length === 1")

    page.goto(url + "/docs")
    page.wait_for("!!document.querySelector('.swagger-ui .information-container')")
    assert page.errors == []
