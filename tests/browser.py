"""A small driver for headless Chromium over the DevTools protocol, for the report's browser tests.

Chromium is started with ``--remote-debugging-pipe``: protocol messages are NUL-terminated JSON
on file descriptors 3 (to the browser) and 4 (from it), so the driver needs no network port, no
websocket library and no browser download — only Debian's ``chromium`` package, which
``.ci/run`` installs. Events (console messages, exceptions, log entries, network requests) are
collected per page session so that tests can assert on them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process; ``page(url)`` opens a tab and waits for its load event."""

    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed")
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # in the child: the protocol's descriptors 3 and 4
            os.dup2(to_browser_r, 100)
            os.dup2(from_browser_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=fds,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._event = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    with self._event:
                        self.events.append(msg)
                        self._event.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Call ``method`` and return its result (raises on a protocol error)."""
        with self._lock:
            self._next += 1
            mid = self._next
            q: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[mid] = q
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=self.timeout)
        except queue.Empty:
            raise BrowserError(f"no reply to {method} within {self.timeout}s") from None
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str, after: int = 0) -> dict[str, Any]:
        """The first event ``method`` of ``session`` at index ``after`` or later."""
        with self._event:
            ok = self._event.wait_for(
                lambda: any(e["method"] == method and e.get("sessionId") == session for e in self.events[after:]),
                timeout=self.timeout,
            )
        if not ok:
            raise BrowserError(f"no {method} within {self.timeout}s")
        return next(e for e in self.events[after:] if e["method"] == method and e.get("sessionId") == session)

    def page(self, url: str, width: int = 1280, height: int = 900, bypass_csp: bool = False,
             init_script: str = "") -> Page:  # fmt: skip
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        # a safety net: whatever a page asks for over the network is seen (and counted) but never sent
        self.send("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]},
                  session)  # fmt: skip
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)  # fmt: skip
        if bypass_csp:
            self.send("Page.setBypassCSP", {"enabled": True}, session)
        if init_script:  # runs before the page's own scripts, whatever its CSP says
            self.send("Page.addScriptToEvaluateOnNewDocument", {"source": init_script}, session)
        start = len(self.events)
        self.send("Page.navigate", {"url": url}, session)
        self.wait_event("Page.loadEventFired", session, start)
        return Page(self, session, start)

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, session: str, start: int) -> None:
        self.browser, self.session, self.start = browser, session, start

    def events(self, *methods: str) -> list[dict[str, Any]]:
        return [e for e in self.browser.events[self.start :] if e.get("sessionId") == self.session
                and e["method"] in methods]  # fmt: skip

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and browser log entries (CSP
        violations, failed loads) of this page."""
        out = []
        for e in self.events("Runtime.consoleAPICalled"):
            if e["params"]["type"] in ("error", "assert", "warning"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in e["params"]["args"]))
        out += [
            e["params"]["exceptionDetails"].get("text", "exception") for e in self.events("Runtime.exceptionThrown")
        ]
        out += [e["params"]["entry"]["text"] for e in self.events("Log.entryAdded")
                if e["params"]["entry"]["level"] in ("error", "warning")]  # fmt: skip
        return out

    def requests(self) -> list[str]:
        """Every URL the page asked for (the page itself included) and every failed load."""
        urls = [e["params"]["request"]["url"] for e in self.events("Network.requestWillBeSent")]
        return urls + [f"failed: {e['params'].get('errorText')}" for e in self.events("Network.loadingFailed")]

    def eval(self, expression: str) -> Any:
        res = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, self.session)
        if "exceptionDetails" in res:
            raise BrowserError(f"evaluate: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self, full: bool = True) -> bytes:
        """A PNG of the page (the whole page when ``full``)."""
        params: dict[str, Any] = {"format": "png"}
        if full:
            size = self.browser.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}  # fmt: skip
        return base64.b64decode(self.browser.send("Page.captureScreenshot", params, self.session)["data"])

    def media(self, media: str) -> None:
        self.browser.send("Emulation.setEmulatedMedia", {"media": media}, self.session)

    def pdf(self) -> bytes:
        return base64.b64decode(self.browser.send("Page.printToPDF", {}, self.session)["data"])
