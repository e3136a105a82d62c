"""The demo report in a real browser: headless Chromium (Debian's ``chromium``) driven over the
DevTools protocol (:mod:`tests.browser`). The page (:mod:`tests.report_page`: the demo store
with a hostile client on its last day) must load with no console error and no request, draw
every panel, show the hostile text (a scanner's not-found paths: markup, console markup, a
terminal escape) as text, print, and make a screenshot that is not blank.
``test_report_firefox.py`` holds Firefox to the same checks.

``UPDATE_SCREENSHOTS=1 pytest tests/test_report_browser.py`` refreshes the README's pictures
in ``docs/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .browser import CHROMIUM, Browser
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
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)
DOCS = Path(__file__).parents[1] / "docs"


@pytest.fixture(scope="module")
def seen(report_page: ReportPage, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything the browser saw of the demo report (one browser session for all tests)."""
    url = report_page.url
    out: dict[str, Any] = {"report": report_page.report, "size": report_page.size, "url": url}
    with Browser(tmp_path_factory.mktemp("chromium") / "profile") as browser:
        page = browser.page(url, init_script=TRAP)
        out |= {"errors": page.console_errors(), "requests": page.requests(), "panels": page.eval(PANEL_DOM),
                "hostile": page.eval(HOSTILE_DOM), "png": page.screenshot(), "tiles": page.eval(TILES_DOM)}  # fmt: skip
        page.media("print")
        out["print"] = page.eval("[getComputedStyle(document.querySelector('nav.toc')).display, "
                                 "getComputedStyle(document.querySelector('.scroll')).maxHeight]")  # fmt: skip
        out["pdf"] = page.pdf()
        # without the page's CSP nothing is blocked: whatever it asked for would show as a request
        open_page = browser.page(url, bypass_csp=True, init_script=TRAP)
        out |= {
            "open_requests": open_page.requests(),
            "open_errors": open_page.console_errors(),
            "open_ran": open_page.eval("window.__ran"),
        }
        if os.environ.get("UPDATE_SCREENSHOTS"):
            readme = browser.page(report_page.plain.as_uri())
            out |= {"readme_png": readme.screenshot(), "readme_panels": readme.eval(PANEL_DOM)}  # fmt: skip
    return out


def test_no_console_errors_and_no_request_leaves_the_file(seen: dict[str, Any]) -> None:
    assert seen["errors"] == [] and seen["open_errors"] == []
    assert seen["requests"] == [seen["url"]] and seen["open_requests"] == [seen["url"]]
    assert seen["size"] < 1_500_000


def test_every_panel_has_its_heading_chart_and_table(seen: dict[str, Any]) -> None:
    check_panels(seen["panels"], seen["tiles"], seen["report"])


def test_hostile_text_is_shown_as_text(seen: dict[str, Any]) -> None:
    check_hostile(seen["hostile"])
    assert seen["open_ran"] == []  # nothing ran, even without the CSP


def test_the_screenshot_is_not_blank(seen: dict[str, Any]) -> None:
    check_not_blank(seen["png"])
    if os.environ.get("UPDATE_SCREENSHOTS"):
        import io

        from PIL import Image

        _save_screenshots(
            Image.open(io.BytesIO(seen["readme_png"])).convert("RGB"), {p["id"]: p for p in seen["readme_panels"]}
        )


def test_the_page_prints(seen: dict[str, Any]) -> None:
    assert seen["print"] == ["none", "none"]  # no navigation, tables in full
    assert seen["pdf"].startswith(b"%PDF") and len(seen["pdf"]) > 20_000


def _save_screenshots(img: Any, panels: dict[str, dict[str, Any]]) -> None:
    """The README's pictures: the top of the page (KPIs, privacy, traffic) and the security panels."""
    from PIL import Image

    DOCS.mkdir(exist_ok=True)
    top = img.crop((0, 0, img.width, int(panels["traffic"]["top"] + panels["traffic"]["height"] * 0.55)))
    first, last = panels["attacks"], panels["findings"]
    lo, hi = min(first["top"], last["top"]), max(first["top"] + first["height"], last["top"] + last["height"])
    security = img.crop((0, int(lo) - 12, img.width, int(hi) + 12))
    for name, part in (("report-overview.png", top), ("report-security.png", security)):
        part = part.resize((960, round(part.height * 960 / part.width)))
        part.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE).save(
            DOCS / name, optimize=True
        )
