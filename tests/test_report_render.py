"""Report renderers: every format renders, log text stays text in each of them (HTML, Markdown,
CSV, terminal), the hold page is marked as personal data, and the commands around them."""

from __future__ import annotations

import json
import re
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.governance import holds
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.render import ReportFormat, render_hold, render_report, report_html
from logtool.report import build, hold_detail
from logtool.store import Store

from .conftest import NOW
from .test_report import site_logs

#: Hostile values as a client can log them (each request 5 times, so no folding hides it).
HOSTILE_PATHS = ["/<script>alert(1)</script>", "/esc\x1b[31mred", "/[/x]", "/</script><img/src=x/onerror=alert(2)>",
                 "/a|b`c"]  # fmt: skip
HOSTILE_VHOST = "=1+2"
HOSTILE_UA = "<img src=x onerror=alert(3)>"


def hostile_log(path: Path, day: int = 10, each: int = 5) -> Path:
    lines = []
    for p in HOSTILE_PATHS:
        for i in range(each):
            lines.append(f'{HOSTILE_VHOST}:443 203.0.113.5 - - [{day}/Nov/2026:10:{i // 60:02d}:{i % 60:02d} +0000] "GET {p} HTTP/1.1" 404 5 '
                         f'"https://evil.example/\\"><script>x</script>" "{HOSTILE_UA}"')  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def hostile(store: Store, tmp_path: Path) -> Store:
    ingest(store, make_inputs([str(hostile_log(tmp_path / "hostile.log"))]), Policy(), NOW)
    holds.create(store, "INC-1", "probe <b>bold</b>", datetime(2026, 11, 10, tzinfo=UTC), NOW)
    return store


def test_every_format_renders_a_report_and_a_hold(hostile: Store) -> None:
    rep = build(hostile, Policy(), now=NOW)
    hold, rows = hold_detail(hostile, "INC-1", NOW)
    for fmt in ReportFormat:  # every member has a renderer (assert_never guards the dispatch)
        text = render_report(rep, fmt)
        assert text and "\x1b" not in text or fmt is ReportFormat.json, fmt
        held = render_hold(hold, rows, fmt, NOW)
        assert "203.0.113.5" in held, fmt  # the hold's rows in full
        assert "\x1b" not in held or fmt is ReportFormat.json, fmt


def test_html_shows_log_text_as_text(hostile: Store) -> None:
    html = render_report(build(hostile, Policy(), now=NOW), ReportFormat.html)
    body, data = html.split('<script type="application/json" id="report-data">')
    assert "<script" not in body and "<img" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;img src=x" not in body  # agents are not kept
    assert "/esc\\x1b[31mred" in body and "\x1b" not in html  # a control character is shown as its escape
    assert "/[/x]" in body and "/a|b`c" in body
    assert data.count("</script>") == 1 and data.endswith("</script>\n</body>\n</html>\n")
    doc = json.loads(data[: data.index("</script>")])
    assert {r["key"] for r in doc["sections"]["path"]} >= set(HOSTILE_PATHS)  # the numbers, intact
    assert re.search(r"Content-Security-Policy\" content=\"default-src 'none'", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing to load


def test_templates_never_mark_text_safe() -> None:
    folder = Path(report_html.__file__).parent / "templates"
    for t in folder.iterdir():
        text = t.read_text()
        assert not re.search(r"\|\s*safe|autoescape\s+false|Markup\(", text), t.name
    assert report_html._ENV.autoescape is True


def test_markdown_and_csv_keep_log_text_inert(hostile: Store) -> None:
    rep = build(hostile, Policy(), now=NOW)
    md = render_report(rep, ReportFormat.md)
    assert "| `/<script>alert(1)</script>` |" in md and "`/esc\\x1b[31mred`" in md
    assert "| ``/a\\|b`c`` |" in md  # a backtick in the text: a longer fence; the pipe escaped for the table
    outside_code = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)
    assert "<" not in outside_code and "[/x]" not in outside_code
    csv = render_report(rep, ReportFormat.csv)
    assert "vhost,,'=1+2," in csv  # no formula for a spreadsheet
    assert "\x1b" not in csv and "/esc\\x1b[31mred" in csv
    table = render_report(rep, ReportFormat.table)
    assert "/[/x]" in table and "\x1b" not in table  # no console markup, no terminal escape


def test_the_hold_page_says_it_holds_personal_data(hostile: Store) -> None:
    hold, rows = hold_detail(hostile, "INC-1", NOW)
    html = render_hold(hold, rows, ReportFormat.html, NOW)
    assert "Contains personal data" in html and "<title>PERSONAL DATA — hold INC-1</title>" in html
    assert "probe &lt;b&gt;bold&lt;/b&gt;" in html and HOSTILE_UA not in html
    assert html.count("203.0.113.5") == rows.height and "noindex" in html
    assert "Contains personal data" in render_hold(hold, rows, ReportFormat.md, NOW)
    actions = [e["action"] for e in hostile.catalog.audit.entries()]
    assert actions.count("report-hold") == 1  # one disclosure, one audit entry


def test_no_script_no_request(hostile: Store) -> None:
    html = render_report(build(hostile, Policy(), now=NOW), ReportFormat.html)
    assert len(html.encode()) < 1_500_000
    assert html.count("<script") == 1  # the data block; it is not run (and the CSP allows no script)
    assert not re.search(r"@import|url\(|<link|<iframe|<object|<embed", html)


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()

    def go(*args: str):
        return runner.invoke(cli, ["--store", str(tmp_path / "store"), *args], catch_exceptions=False)

    return go


def test_report_command(run, tmp_path: Path) -> None:
    logs = site_logs(tmp_path / "logs")
    assert run("ingest", *map(str, logs), "--now", NOW.isoformat()).exit_code == 0
    out = tmp_path / "r.html"
    r = run("report", "--format", "html", "-o", str(out), "--compare", "previous", "--from", "2026-11-11",
            "--to", "2026-11-11", "--now", NOW.isoformat())  # fmt: skip
    assert r.exit_code == 0 and f"report written to {out}" in r.stderr
    html = out.read_text()
    assert "Access report 2026-11-11 … 2026-11-11" in html and "vs 2026-11-10 … 2026-11-10" in html
    r = run("report", "--vhost", "shop.example.org", "--format", "md", "--month", "2026-11")
    assert r.stdout.startswith("# Access report 2026-11-01 … 2026-11-30 (`shop.example.org`)")
    r = run("report", "--format", "csv", "--vhost", "www.example.org")
    assert r.stdout.splitlines()[0] == "section,date,key,value,bytes,share,previous"
    assert "kpi,,requests,34," in r.stdout
    r = run("report", "--hold", "X", "--vhost", "a")
    assert r.exit_code == 2 and "--vhost and --compare apply to aggregate reports" in r.stderr
    r = run("report", "--compare", "next")
    assert r.exit_code == 2


def test_hold_report_as_html(run, tmp_path: Path) -> None:
    logs = site_logs(tmp_path / "logs")
    run("ingest", *map(str, logs), "--now", NOW.isoformat())
    run("hold", "create", "INC-2", "--reason", "probe", "--from", "2026-11-10T00:00:00Z", "--now", NOW.isoformat())
    out = tmp_path / "hold.html"
    r = run("report", "--hold", "INC-2", "--format", "html", "-o", str(out), "--now", NOW.isoformat())
    assert r.exit_code == 0 and "personal data" in r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Contains personal data" in out.read_text() and "2001:db8::1" in out.read_text()


def test_nightly_writes_the_days_report(run, tmp_path: Path) -> None:
    logs = site_logs(tmp_path / "logs")
    reports = tmp_path / "reports"
    r = run("nightly", str(logs[1]), "--report", str(reports), "--now", "2026-11-12T03:00:00Z")
    assert r.exit_code == 0, r.stderr
    page = reports / "logtool-report-2026-11-11.html"
    assert f"report written to {page}" in r.stderr and "verify: no problems; audit chain: intact" in r.stderr
    html = page.read_text()
    assert "Access report 2026-11-11 … 2026-11-11" in html and "all checks pass" in html
    assert not list(reports.glob(".*"))  # written whole: no temporary file left
    r = run("nightly", str(logs[1]), "--report", str(reports), "--no-verify", "--now", "2026-11-13T03:00:00Z")
    assert "verify:" not in r.stderr and (reports / "logtool-report-2026-11-12.html").exists()  # nothing new: yesterday


def test_strict_folding_is_reported(hostile: Store) -> None:
    rep = build(hostile, replace(Policy(), min_group_size=6), now=NOW)
    assert rep.folded["path"] == len(HOSTILE_PATHS)
    html = render_report(rep, ReportFormat.html)
    assert f"Top paths: {len(HOSTILE_PATHS)} groups" in html


def test_an_empty_store_and_one_with_vhosts_render(store: Store, tmp_path: Path) -> None:
    empty = render_report(build(store, Policy(), now=NOW), ReportFormat.html)
    assert "No aggregates in this period" in empty and "Privacy and compliance" in empty
    assert 'data-panel="traffic"' not in empty and "never recorded" in empty
    ingest(store, make_inputs([str(p) for p in site_logs(tmp_path / "logs")]), Policy(), NOW)
    html = render_report(build(store, Policy(), now=NOW), ReportFormat.html)
    assert 'id="p-vhosts"' in html and "www.example.org" in html and "needs attention" in html
    shop = render_report(build(store, Policy(), vhost="shop.example.org", now=NOW), ReportFormat.html)
    assert "Access report 2026-11-10 … 2026-11-11 — shop.example.org" in shop
    assert "Behavioural findings are counted per client across all vhosts" in shop
