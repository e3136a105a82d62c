"""The demo report in Firefox: headless ``firefox-esr`` (Debian's) driven over WebDriver BiDi
(:mod:`tests.firefox`), held to the checks the Chromium test makes (:mod:`tests.report_page`):
the page loads from ``file://`` with no console error or exception and no request, every panel's
heading, chart and table are drawn, the hostile text is shown as text and never runs, the
screenshot is not blank, and its first page prints to PDF.

Firefox's BiDi network events cover http(s) and websocket requests but not ``file:`` loads (the
page itself is not among them, and a CSP violation for a ``file:`` load is not logged either), so
the page's DOM and style sheets are also searched for anything that would load from outside the
file. A control page with a console error, an exception, a request, a reference to another file
and a script that runs proves that each check sees what it looks for: an empty list is then a
finding, not a deaf driver.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .firefox import FIREFOX, Firefox
from .report_page import (
    HOSTILE_DOM,
    PANEL_DOM,
    TILES_DOM,
    TRAP,
    ReportPage,
    check_hostile,
    check_not_blank,
    check_panels,
)

pytestmark = pytest.mark.skipif(
    FIREFOX is None, reason="firefox is not installed (apt-get install firefox-esr; .ci/run installs it)"
)
#: What the page references outside itself: URL attributes that load something (links to
#: fragments and ``<a href>``, which loads nothing until clicked, aside) and ``url()``/``@import``
#: in style sheets and ``style`` attributes.
REFS_DOM = r"""(() => {
  const names = ['src', 'href', 'xlink:href', 'srcset', 'data', 'poster', 'action', 'formaction', 'background',
                 'ping', 'manifest', 'imagesrcset'];
  const outside = /url\(\s*['"]?(?!#)|@import/;
  const refs = [];
  for (const el of document.querySelectorAll('*')) for (const a of el.attributes) {
    if (names.includes(a.name) && !a.value.startsWith('#') && el.localName !== 'a') refs.push(`${el.localName} ${a.name}=${a.value}`);
    if (a.name === 'style' && outside.test(a.value)) refs.push(`${el.localName} style=${a.value}`);
  }
  for (const sheet of document.styleSheets) for (const rule of sheet.cssRules)
    if (outside.test(rule.cssText)) refs.push(`css ${rule.cssText.slice(0, 120)}`);
  return refs; })()"""
#: Everything the report must never do, once: a console error, a request (to a documentation
#: address, through the profile's dead proxy), a reference to another file, an uncaught
#: exception and a script that calls ``alert``.
CONTROL = """<!doctype html><html><head><meta charset="utf-8"><title>control</title>
<link rel="stylesheet" href="missing.css"><style>body { background: url(missing.png) }</style></head>
<body><img src="http://192.0.2.1/x.png" alt="">
<script>console.error("control error"); alert(1);</script><script>null.control;</script></body></html>
"""


@pytest.fixture(scope="module")
def seen(report_page: ReportPage, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything Firefox saw of the demo report and of the control page (one browser for all)."""
    work = tmp_path_factory.mktemp("firefox")
    control = work / "control.html"
    control.write_text(CONTROL, encoding="utf-8")
    with Firefox(work / "profile") as browser:
        page = browser.page(report_page.url, init_script=TRAP)
        out: dict[str, Any] = {
            "version": browser.version,
            "href": page.eval("location.href"),
            "panels": page.eval(PANEL_DOM),
            "tiles": page.eval(TILES_DOM),
            "hostile": page.eval(HOSTILE_DOM),
            "refs": page.eval(REFS_DOM),
            "png": page.screenshot(),
            "pdf": base64.b64decode(
                browser.send("browsingContext.print", {"context": page.context, "pageRanges": ["1"]})["data"]
            ),
        }
        out |= {"errors": page.console_errors(), "requests": page.requests()}
        check = browser.page(control.as_uri(), init_script=TRAP)
        out["control"] = {"ran": check.eval("window.__ran"), "refs": check.eval(REFS_DOM),
                          "errors": check.console_errors(), "requests": check.requests()}  # fmt: skip
    return out


def test_the_driver_sees_errors_requests_and_scripts(seen: dict[str, Any]) -> None:
    c = seen["control"]
    assert c["ran"] == ["1"]
    assert any("control error" in e for e in c["errors"])
    assert any("control" in e and "null" in e for e in c["errors"])  # the uncaught TypeError
    assert any("192.0.2.1/x.png" in r for r in c["requests"])
    assert len(c["refs"]) == 3 and {"link href=missing.css", "img src=http://192.0.2.1/x.png"} <= set(c["refs"])
    assert any(r.startswith("css body") and "missing.png" in r for r in c["refs"])


def test_no_console_errors_and_no_request_leaves_the_file(seen: dict[str, Any], report_page: ReportPage) -> None:
    assert seen["href"] == report_page.url
    assert seen["errors"] == []
    assert seen["requests"] == []
    assert seen["refs"] == []


def test_every_panel_has_its_heading_chart_and_table(seen: dict[str, Any], report_page: ReportPage) -> None:
    check_panels(seen["panels"], seen["tiles"], report_page.report)


def test_hostile_text_is_shown_as_text(seen: dict[str, Any]) -> None:
    check_hostile(seen["hostile"])


def test_the_screenshot_is_not_blank(seen: dict[str, Any]) -> None:
    check_not_blank(seen["png"])


def test_the_page_prints(seen: dict[str, Any]) -> None:
    assert seen["pdf"].startswith(b"%PDF") and len(seen["pdf"]) > 20_000
