"""The demo report in a real browser: headless Chromium (Debian's ``chromium``) driven over the
DevTools protocol (:mod:`tests.browser`). The demo store gets a hostile client on its last day;
the page must load with no console error and no request, draw every panel, show the hostile
text (a scanner's not-found paths: markup, console markup, a terminal escape) as text, print, and make a screenshot that is not blank.

``UPDATE_SCREENSHOTS=1 pytest tests/test_report_browser.py`` refreshes the README's pictures
in ``docs/``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from logtool.inputs import make_inputs
from logtool.jobs.demo import DEMO_POLICY, run_demo
from logtool.lifecycle.ingest import ingest
from logtool.render import ReportFormat, render_report
from logtool.render.report_html import PANELS
from logtool.report import build
from logtool.store import Store

from .browser import CHROMIUM, Browser
from .test_report_render import HOSTILE_PATHS, hostile_log

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)
DOCS = Path(__file__).parents[1] / "docs"
#: Defined before the page runs: if any text from the log ever ran as a script, it would say so.
TRAP = "window.__ran = []; window.alert = (x) => window.__ran.push(String(x));"

PANEL_DOM = """[...document.querySelectorAll('section[data-panel]')].map(s => ({
  id: s.dataset.panel, h2: (s.querySelector('h2') || {}).textContent || '',
  shapes: s.querySelectorAll('svg.chart rect, svg.chart circle').length,
  rows: s.querySelectorAll('tbody tr').length,
  top: s.getBoundingClientRect().top + window.scrollY, height: s.getBoundingClientRect().height}))"""
HOSTILE_DOM = """(() => ({
  scripts: [...document.querySelectorAll('script')].map(s => s.type),
  injected: document.querySelectorAll('img, iframe, object, embed, main b').length,
  cells: [...document.querySelectorAll('td')].map(td => td.textContent),
  titles: [...document.querySelectorAll('svg title')].map(t => t.textContent),
  data: Object.values(JSON.parse(document.getElementById('report-data').textContent).sections).flat().map(r => r.key),
  ran: window.__ran}))()"""


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Everything the browser saw of the demo report (one browser session for all tests)."""
    work = tmp_path_factory.mktemp("browser")
    demo = run_demo(work / "demo", work / "reports")
    plain = work / "reports" / "demo-plain.html"  # as make demo writes it: the README's pictures
    plain.write_bytes((work / "reports" / "demo-report.html").read_bytes())
    with Store(demo.store) as store:
        ingest(store, make_inputs([str(hostile_log(work / "hostile.log", day=14, each=200))]), DEMO_POLICY, demo.now)
        report = build(store, DEMO_POLICY, now=demo.now)
    page_path = work / "reports" / "demo-report.html"
    page_path.write_text(render_report(report, ReportFormat.html), encoding="utf-8")
    url = page_path.as_uri()
    out: dict[str, Any] = {"report": report, "size": page_path.stat().st_size, "url": url}
    with Browser(work / "profile") as browser:
        page = browser.page(url, init_script=TRAP)
        out |= {"errors": page.console_errors(), "requests": page.requests(), "panels": page.eval(PANEL_DOM),
                "hostile": page.eval(HOSTILE_DOM), "png": page.screenshot(),
                "tiles": page.eval("[...document.querySelectorAll('.tile')].map(t => [t.dataset.kpi, "
                                   "t.querySelector('.value').textContent])")}  # fmt: skip
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
            readme = browser.page(plain.as_uri())
            out |= {"readme_png": readme.screenshot(), "readme_panels": readme.eval(PANEL_DOM)}  # fmt: skip
    return out


def test_no_console_errors_and_no_request_leaves_the_file(seen: dict[str, Any]) -> None:
    assert seen["errors"] == [] and seen["open_errors"] == []
    assert seen["requests"] == [seen["url"]] and seen["open_requests"] == [seen["url"]]
    assert seen["size"] < 1_500_000


def test_every_panel_has_its_heading_chart_and_table(seen: dict[str, Any]) -> None:
    drawn = {p["id"]: p for p in seen["panels"]}
    expected = [("privacy", "Privacy and compliance"), *PANELS]
    for pid, title in expected:
        assert pid in drawn, pid
        assert drawn[pid]["h2"].startswith(title), (pid, drawn[pid]["h2"])
        assert drawn[pid]["shapes"] > 0 and drawn[pid]["rows"] > 0, pid
    rep = seen["report"]
    tiles = dict(seen["tiles"])
    assert list(tiles) == [k.key for k in rep.kpis]
    assert (
        tiles["requests"] == f"{rep.requests:,}" and tiles["attack_requests"] == f"{rep.kpi('attack_requests').value:,}"
    )
    assert drawn["traffic"]["rows"] == len(rep.days) == 14


def test_hostile_text_is_shown_as_text(seen: dict[str, Any]) -> None:
    h = seen["hostile"]
    assert h["scripts"] == ["application/json"] and h["injected"] == 0
    assert h["ran"] == [] and seen["open_ran"] == []  # nothing ran, even without the CSP
    shown = [p.replace("\x1b", "\\x1b") for p in HOSTILE_PATHS]  # control characters as escapes
    assert set(shown) <= set(h["cells"])
    assert "/esc\\x1b[31mred" in h["cells"] and not any("\x1b" in c for c in h["cells"])
    assert any(t.startswith("/</script><img/src=x/onerror=alert(2)>:") for t in h["titles"])
    assert set(HOSTILE_PATHS) <= set(h["data"])  # the JSON block was not broken out of


def test_the_screenshot_is_not_blank(seen: dict[str, Any]) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(seen["png"])).convert("RGB")
    assert img.width == 1280 and img.height > 3000
    colours = img.resize((img.width // 4, img.height // 4)).getcolors(1 << 20) or []
    pixels = sum(n for n, _ in colours)
    background = max(n for n, _ in colours)
    assert pixels - background > 0.3 * pixels  # panels, not an empty page
    assert len(colours) > 50  # charts in colour
    if os.environ.get("UPDATE_SCREENSHOTS"):
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
