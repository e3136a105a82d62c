"""A small driver for headless Firefox over WebDriver BiDi, for the report's browser tests.

Firefox (Debian's ``firefox-esr``, which ``.ci/run`` installs) is started with
``--remote-debugging-port=0``: it picks a free port and says which on stderr, so two test runs
never race for one. The driver speaks BiDi over a websocket (the ``websockets`` package, a dev
dependency) and collects events (log entries, requests, failed loads) per browsing context, so
that tests can assert on them, as :mod:`tests.browser` does for Chromium.

The profile is made fresh for each run, with a proxy on a closed local port for every scheme: a
request the page (or the browser itself) makes is still seen and counted, but never leaves the
machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

from .browser import BrowserError

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
#: The profile's preferences: no first-run pages, no background traffic, nothing through the
#: network (port 9 is "discard": nothing listens there, so a proxied request fails at once).
PREFS: dict[str, Any] = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.no_proxies_on": "",
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.connectivity-service.enabled": False,
    "network.captive-portal-service.enabled": False,
    "app.update.disabledForTesting": True,
    "app.normandy.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/v1",
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "extensions.update.enabled": False,
    "layout.css.devPixelsPerPx": "1.0",
    "ui.useOverlayScrollbars": 1,  # the page is as wide as the viewport, as in Chromium's screenshots
}
EVENTS = ["log.entryAdded", "network.beforeRequestSent", "network.fetchError"]


class Firefox:
    """One headless Firefox process and its BiDi session; ``page(url)`` opens a tab and loads it."""

    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        if FIREFOX is None:
            raise BrowserError("firefox is not installed")
        from websockets.sync.client import connect

        self.timeout = timeout
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()), encoding="utf-8"
        )
        self.proc = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", str(profile)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.stderr: list[str] = []
        self._next = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._stack = contextlib.ExitStack()
        try:
            self._connect(connect)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise

    def _connect(self, connect: Any) -> None:
        endpoint: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._drain, args=(endpoint,), daemon=True).start()
        try:
            url = endpoint.get(timeout=self.timeout)
        except queue.Empty:
            raise BrowserError(f"firefox did not start within {self.timeout}s: {self.stderr[-5:]}") from None
        # proxy=None: the session is on localhost, whatever *_PROXY says
        self.ws = self._stack.enter_context(
            connect(f"{url}/session", proxy=None, max_size=None, compression=None, open_timeout=self.timeout)
        )
        threading.Thread(target=self._read, daemon=True).start()
        caps = self.send("session.new", {"capabilities": {}}).get("capabilities", {})
        self.version = f"{caps.get('browserName', 'firefox')} {caps.get('browserVersion', '?')}"
        self.send("session.subscribe", {"events": EVENTS})

    def _drain(self, endpoint: queue.Queue[str]) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr.append(line)
            if m := re.search(r"WebDriver BiDi listening on (ws://\S+)", line):
                endpoint.put(m.group(1))

    def _read(self) -> None:
        with contextlib.suppress(Exception):  # the connection closes when the browser does
            for raw in self.ws:
                msg = json.loads(raw)
                if msg.get("type") == "event":
                    with self._lock:
                        self.events.append(msg)
                elif "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call ``method`` and return its result (raises on a protocol error)."""
        with self._lock:
            self._next += 1
            mid = self._next
            q: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[mid] = q
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        try:
            reply = q.get(timeout=self.timeout)
        except queue.Empty:
            raise BrowserError(f"no reply to {method} within {self.timeout}s") from None
        if reply.get("type") == "error":
            raise BrowserError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        return reply.get("result", {})

    def page(self, url: str, width: int = 1280, height: int = 900, init_script: str = "") -> Page:
        """A new tab showing ``url`` after its load event; ``init_script`` runs before the page's
        own scripts, whatever its CSP says."""
        context = self.send("browsingContext.create", {"type": "tab"})["context"]
        self.send("browsingContext.setViewport",
                  {"context": context, "viewport": {"width": width, "height": height}})  # fmt: skip
        if init_script:
            self.send("script.addPreloadScript",
                      {"functionDeclaration": f"() => {{ {init_script} }}", "contexts": [context]})  # fmt: skip
        self.send("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})
        return Page(self, context)

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError, Exception):
            self.send("browser.close")
        with contextlib.suppress(Exception):
            self._stack.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Firefox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Firefox, context: str) -> None:
        self.browser, self.context = browser, context

    def events(self, *methods: str) -> list[dict[str, Any]]:
        with self.browser._lock:
            events = list(self.browser.events)
        return [e for e in events if e["method"] in methods and _context(e) == self.context]

    def console_errors(self) -> list[str]:
        """Console errors and warnings and uncaught exceptions of this page."""
        return [f"{e['params'].get('type')}: {e['params'].get('text')}" for e in self.events("log.entryAdded")
                if e["params"].get("level") in ("error", "warn")]  # fmt: skip

    def requests(self) -> list[str]:
        """Every URL the page asked for (the page itself included) and every failed load."""
        urls = [e["params"]["request"]["url"] for e in self.events("network.beforeRequestSent")]
        return urls + [f"failed: {e['params'].get('errorText')}" for e in self.events("network.fetchError")]

    def eval(self, expression: str) -> Any:
        """The value of ``expression`` (JSON-serialisable) in the page."""
        res = self.browser.send("script.evaluate", {
            "expression": f"JSON.stringify(({expression}))", "target": {"context": self.context},
            "awaitPromise": False})  # fmt: skip
        if res.get("type") == "exception":
            raise BrowserError(f"evaluate: {res.get('exceptionDetails', {}).get('text')}")
        value = res["result"]
        return json.loads(value["value"]) if value.get("type") == "string" else None

    def screenshot(self, full: bool = True) -> bytes:
        """A PNG of the page (the whole page when ``full``)."""
        params = {"context": self.context, "origin": "document" if full else "viewport"}
        return base64.b64decode(self.browser.send("browsingContext.captureScreenshot", params)["data"])


def _context(event: dict[str, Any]) -> str | None:
    params = event["params"]
    return params.get("context") or params.get("source", {}).get("context")
