"""Drive the distribution's Firefox (``firefox-esr``) over WebDriver BiDi, with no driver.

Playwright's own Firefox is a patched build downloaded from its CDN, which this
machine cannot reach; Playwright's experimental BiDi mode (``channel="moz-firefox"``)
needs protocol commands newer than Firefox ESR has (``emulation.setMediaFeaturesOverride``),
and geckodriver is not packaged by Debian. Firefox itself speaks WebDriver BiDi
(``--remote-debugging-port``), so this small client talks to it directly over the
``websockets`` package: enough for a smoke test (navigate, evaluate, click, type,
screenshot, collect script errors).

The profile turns off Firefox's own network services and sends any request that is not
for the loopback interface to a closed local port, so the browser reaches nothing
outside this machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["BidiError", "FirefoxPage", "firefox_path", "launch_firefox"]

CANDIDATES = ("firefox-esr", "firefox")
# Nothing leaves the machine: updates, telemetry, safe browsing, captive-portal and
# connectivity checks, push and remote settings are off, and every non-loopback request
# goes through a proxy on a closed loopback port (discard, 9).
PREFS: dict[str, Any] = {
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.search.update": False,
    "browser.region.network.url": "",
    "browser.topsites.contile.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "dom.push.connection.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "network.trr.mode": 5,
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1, [::1]",
    "network.proxy.allow_hijacking_localhost": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
}


class BidiError(RuntimeError):
    """A WebDriver BiDi command failed, or a wait timed out."""


def firefox_path() -> str | None:
    """Firefox from the distribution (``GW_TEST_FIREFOX`` overrides), or None."""
    explicit = os.environ.get("GW_TEST_FIREFOX")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _Session:
    """One BiDi connection: numbered commands, and the events that arrive in between."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("type") == "event":
                self.events.append(message)
                continue
            if message.get("id") != ident:
                continue
            if message.get("type") == "error":
                raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return dict(message.get("result") or {})


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi remote value as Python (primitives, arrays and objects; nodes as themselves)."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return remote["value"]
    if kind == "number":
        value = remote["value"]
        return value if isinstance(value, int | float) else float(value)
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {_value(k) if isinstance(k, dict) else k: _value(v) for k, v in remote["value"]}
    return remote


class FirefoxPage:
    """The one tab of a Firefox session, with the few actions a smoke test needs."""

    def __init__(self, session: _Session, context: str, url_timeout: float = 30) -> None:
        """Use browsing context ``context`` of ``session``."""
        self.session = session
        self.context = context
        self.timeout = url_timeout

    @property
    def errors(self) -> list[str]:
        """Uncaught script errors and ``console.error`` messages so far."""
        out = []
        for event in self.session.events:
            params = event.get("params", {})
            if event.get("method") == "log.entryAdded" and params.get("level") == "error":
                out.append(str(params.get("text")))
        return out

    def set_viewport(self, width: int, height: int) -> None:
        """Resize the viewport."""
        viewport = {"width": width, "height": height}
        self.session.send(
            "browsingContext.setViewport", {"context": self.context, "viewport": viewport}
        )

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""
        params = {"context": self.context, "url": url, "wait": "complete"}
        self.session.send("browsingContext.navigate", params, timeout=self.timeout)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited).

        Raises:
            BidiError: the expression threw.
        """
        result = self.session.send(
            "script.evaluate",
            {"expression": expression, "target": {"context": self.context}, "awaitPromise": True},
        )
        if result.get("type") == "exception":
            raise BidiError(str(result.get("exceptionDetails", {}).get("text")))
        return _value(result["result"])

    def wait_for(self, expression: str, timeout: float = 20) -> Any:
        """Poll until ``expression`` is truthy; returns its value.

        Raises:
            BidiError: still falsy after ``timeout`` seconds (with its last value).
        """
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(BidiError):  # the page may be navigating
                value = self.evaluate(expression)
                if value:
                    return value
            time.sleep(0.1)
        raise BidiError(f"timed out after {timeout} s waiting for {expression} (last: {value!r})")

    def text(self, selector: str) -> str:
        """The text of the first element matching ``selector`` ('' if none)."""
        return str(
            self.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? ''")
        )

    def click(self, selector: str) -> None:
        """Click the middle of the element with the mouse (scrolled into view first)."""
        found = self.session.send(
            "script.evaluate",
            {
                "expression": f"(el => {{ el?.scrollIntoView({{block: 'center'}}); return el; }})"
                f"(document.querySelector({json.dumps(selector)}))",
                "target": {"context": self.context},
                "awaitPromise": False,
                "resultOwnership": "root",
            },
        )
        element = found.get("result", {})
        if element.get("type") != "node":
            raise BidiError(f"no element {selector}")
        origin = {"type": "element", "element": {"sharedId": element["sharedId"]}}
        actions = [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        self.session.send(
            "input.performActions",
            {
                "context": self.context,
                "actions": [{"type": "pointer", "id": "mouse", "actions": actions}],
            },
        )

    def type(self, selector: str, text: str) -> None:
        """Focus the element, clear it, and type ``text`` key by key."""
        self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.focus(); el.select?.(); })()"
        )
        keys = [{"type": "keyDown", "value": "\ue003"}, {"type": "keyUp", "value": "\ue003"}]
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        self.session.send(
            "input.performActions",
            {"context": self.context, "actions": [{"type": "key", "id": "kbd", "actions": keys}]},
        )

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the whole document."""
        result = self.session.send(
            "browsingContext.captureScreenshot", {"context": self.context, "origin": "document"}
        )
        path.write_bytes(base64.b64decode(result["data"]))


def _listen(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@contextlib.contextmanager
def launch_firefox(executable: str, *, startup: float = 60) -> Iterator[FirefoxPage]:
    """Start headless Firefox on a fresh profile and yield its first tab.

    Raises:
        BidiError: Firefox did not open its WebDriver BiDi port within ``startup`` seconds.
    """
    profile = Path(tempfile.mkdtemp(prefix="gw-firefox-"))
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
    )
    env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_DISABLE_AUTO_SAFE_MODE": "1"}
    command = [executable, "--headless", "--no-remote", "--remote-debugging-port=0"]
    process = subprocess.Popen(
        [*command, "--profile", str(profile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    listener = threading.Thread(target=_listen, args=(process.stderr, lines), daemon=True)
    listener.start()
    try:
        url, seen = None, []
        deadline = time.monotonic() + startup
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if process.poll() is not None:
                    break
                continue
            seen.append(line)
            found = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            url = found.group(1) if found else None
        if url is None:
            raise BidiError("Firefox did not start WebDriver BiDi:\n" + "".join(seen[-20:]))
        with connect(url + "/session", max_size=None, open_timeout=startup) as ws:
            session = _Session(ws)
            session.send("session.new", {"capabilities": {}})
            session.send("session.subscribe", {"events": ["log.entryAdded"]})
            tree = session.send("browsingContext.getTree", {"maxDepth": 0})
            page = FirefoxPage(session, tree["contexts"][0]["context"])
            try:
                yield page
            finally:
                with contextlib.suppress(Exception):
                    session.send("browser.close", {}, timeout=10)
    finally:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        listener.join(5)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)
