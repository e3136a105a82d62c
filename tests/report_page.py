"""The page every browser test opens, and the checks every browser must pass.

The demo store gets a hostile client on its last day (a scanner's not-found paths: markup,
console markup, a terminal escape) and its report is rendered to HTML once per test session
(the ``report_page`` fixture in ``conftest.py``); ``test_report_browser.py`` (Chromium) and
``test_report_firefox.py`` (Firefox) open that same file and hand what they saw to the
``check_*`` functions here, so both browsers are held to the same assertions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtool.report import Report

from .test_report_render import HOSTILE_PATHS, hostile_log

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
TILES_DOM = "[...document.querySelectorAll('.tile')].map(t => [t.dataset.kpi, t.querySelector('.value').textContent])"


@dataclass(frozen=True)
class ReportPage:
    report: Report
    path: Path  # the report with the hostile client
    plain: Path  # the demo report as ``make demo`` writes it (the README's pictures)

    @property
    def url(self) -> str:
        return self.path.as_uri()

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def build_report_page(work: Path) -> ReportPage:
    from logtool.inputs import make_inputs
    from logtool.jobs.demo import DEMO_POLICY, run_demo
    from logtool.lifecycle.ingest import ingest
    from logtool.render import ReportFormat, render_report
    from logtool.report import build
    from logtool.store import Store

    demo = run_demo(work / "demo", work / "reports")
    page = work / "reports" / "demo-report.html"
    plain = work / "reports" / "demo-plain.html"
    plain.write_bytes(page.read_bytes())
    with Store(demo.store) as store:
        ingest(store, make_inputs([str(hostile_log(work / "hostile.log", day=14, each=200))]), DEMO_POLICY, demo.now)
        report = build(store, DEMO_POLICY, now=demo.now)
    page.write_text(render_report(report, ReportFormat.html), encoding="utf-8")
    return ReportPage(report, page, plain)


def check_panels(panels: list[dict[str, Any]], tiles: list[list[str]], report: Report) -> None:
    """Every panel's heading, chart and table are drawn; the KPI tiles show the report's numbers."""
    from logtool.render.report_html import PANELS

    drawn = {p["id"]: p for p in panels}
    for pid, title in [("privacy", "Privacy and compliance"), *PANELS]:
        assert pid in drawn, pid
        assert drawn[pid]["h2"].startswith(title), (pid, drawn[pid]["h2"])
        assert drawn[pid]["shapes"] > 0 and drawn[pid]["rows"] > 0, pid
    shown = dict(tiles)
    assert list(shown) == [k.key for k in report.kpis]
    assert shown["requests"] == f"{report.requests:,}"
    assert shown["attack_requests"] == f"{report.kpi('attack_requests').value:,}"
    assert drawn["traffic"]["rows"] == len(report.days) == 14


def check_hostile(h: dict[str, Any]) -> None:
    """The hostile paths are shown as text (control characters as escapes) and never ran."""
    assert h["scripts"] == ["application/json"] and h["injected"] == 0
    assert h["ran"] == []
    shown = [p.replace("\x1b", "\\x1b") for p in HOSTILE_PATHS]
    assert set(shown) <= set(h["cells"])
    assert "/esc\\x1b[31mred" in h["cells"] and not any("\x1b" in c for c in h["cells"])
    assert any(t.startswith("/</script><img/src=x/onerror=alert(2)>:") for t in h["titles"])
    assert set(HOSTILE_PATHS) <= set(h["data"])  # the JSON block was not broken out of


def check_not_blank(png: bytes, width: int = 1280) -> Any:
    """The screenshot is the whole page, mostly not background, in colour; returns the image."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.width == width and img.height > 3000, img.size
    colours = img.resize((img.width // 4, img.height // 4)).getcolors(1 << 20) or []
    pixels = sum(n for n, _ in colours)
    background = max(n for n, _ in colours)
    assert pixels - background > 0.3 * pixels  # panels, not an empty page
    assert len(colours) > 50  # charts in colour
    return img
