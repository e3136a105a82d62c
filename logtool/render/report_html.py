"""HTML renderer: the report as one self-contained page — KPI tiles, the privacy and compliance
panel, and a panel per view (an inline-SVG chart and its table, the accessible fallback).

Jinja2 templates (``templates/``) with autoescaping on, and a ``finalize`` hook that shows every
control character of a value as an escape before it is escaped, so text from logs (paths,
referrers, user agents) is only ever text. No template marks log data safe; the report's
numbers ride along as JSON in a data block (``tojson`` escapes ``<``, ``>``, ``&``), never as
a script. A Content-Security-Policy of ``default-src 'none'`` (inline styles allowed) keeps
the page from loading anything at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from logtool.render import charts
from logtool.render.report_table import human_bytes
from logtool.render.text import visible
from logtool.report import NOT_REQUESTS, SECTIONS, Report
from logtool.report.compliance import DAY_STATES
from logtool.store import Hold

#: Rows of a hold's detail shown in the page (the export commands give all of them).
HOLD_ROWS = 1000
#: Attack categories drawn per day; the rest are stacked as ``(other)``.
ATTACK_SERIES = 7


def _finalize(value: Any) -> Any:
    """Every printed string with its control characters shown as escapes (``\\x1b``)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


_ENV = Environment(
    loader=PackageLoader("logtool.render", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def num(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


_ENV.filters.update(num=num, pct=pct, bytes=human_bytes)


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    #: Columns holding numbers (right-aligned).
    numeric: tuple[int, ...] = ()


@dataclass
class Panel:
    id: str
    title: str
    chart: charts.Chart
    table: Table
    note: str = ""
    wide: bool = False


#: Every panel of the report: (id, title). Tests check each is drawn.
PANELS = [
    ("traffic", "Requests and visitors per day"),
    ("hours", "Requests per hour of day (UTC)"),
    ("status", "Status classes per day"),
    ("status_codes", "Status codes"),
    ("paths", "Top paths"),
    ("not_found", "Not-found paths (404)"),
    ("referrers", "Referrer hosts"),
    ("browsers", "Browsers"),
    ("os", "Operating systems"),
    ("devices", "Devices"),
    ("bots", "Bots vs humans"),
    ("countries", "Countries"),
    ("methods", "Methods"),
    ("response_times", "Response times"),
    ("attacks", "Attack requests per category per day"),
    ("findings", "Behavioural findings per category"),
]
_RANKED = {  # panel id → report section drawn as horizontal bars
    "status_codes": "status",
    "paths": "path",
    "not_found": "not_found",
    "referrers": "referrer_host",
    "browsers": "browser",
    "os": "os",
    "devices": "device",
    "bots": "bot",
    "countries": "country",
    "methods": "method",
    "findings": "findings",
}
_NOTES = {
    "traffic": "Unique visitors: distinct (address, user agent, vhost) per day, counted before the day's secret "
    "salt is destroyed.",
    "attacks": "Requests matching attack signatures, protocol anomalies or fake crawlers; a request can be in "
    "several categories.",
    "not_found": "Requests answered 404, by path (query removed, personal data redacted).",
    "referrers": "Referrers reduced to their host; (unknown) means no referrer was sent.",
    "countries": "Country of the client address, looked up at ingest; only the code is kept.",
    "findings": "Behavioural findings (brute force, probing, floods …) counted once per day when the day "
    "leaves the raw stage.",
    "response_times": "Time to answer, as logged; (unknown) when the log format records none.",
}


def _table(rows: list[dict[str, Any]], first: str, counts: str = "requests") -> Table:
    return Table([first, counts, "share"], [[str(r["key"]), num(r["requests"]), pct(r["share"])] for r in rows], (1, 2))


def _ranked_panel(pid: str, title: str, rows: list[dict[str, Any]], first: str = "key") -> Panel:
    counts = "findings" if _RANKED.get(pid) in NOT_REQUESTS else "requests"
    items = [(str(r["key"]), float(r["requests"]), num(r["requests"])) for r in rows]
    return Panel(pid, title, charts.hbars(title, items), _table(rows, first, counts), _NOTES.get(pid, ""))


def _series_panel(rep: Report, pid: str, title: str, dim: str, colours: dict[str, str] | None) -> Panel:
    """Stacked columns per day of a ``Report.series`` dimension, its busiest keys on their own."""
    rows = rep.series.get(dim, [])
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["key"]] = totals.get(r["key"], 0) + r["requests"]
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    keys = ranked if len(ranked) <= ATTACK_SERIES else ranked[: ATTACK_SERIES - 1]
    if colours:  # fixed categories (status classes) in their natural order
        keys = sorted(keys)
    values: dict[tuple[str, str], float] = {}
    for r in rows:
        k = r["key"] if r["key"] in keys else charts.OTHER
        values[(r["date"][5:], k)] = values.get((r["date"][5:], k), 0) + r["requests"]
    if len(keys) < len(ranked):
        keys = [*keys, charts.OTHER]
    chart = charts.stacked(title, [d["date"][5:] for d in rep.days], keys, values, colours, width=charts.WIDE)
    total = sum(totals.values())
    table = _table(
        [{"key": k, "requests": totals[k], "share": totals[k] / total if total else 0} for k in ranked], "key"
    )
    return Panel(pid, title, chart, table, _NOTES.get(pid, ""), wide=True)


def panels(rep: Report) -> list[Panel]:
    """The report's panels in ``PANELS`` order (and the vhosts, when logged), each with its
    chart and table."""
    titles = dict(PANELS)
    days = [d["date"][5:] for d in rep.days]  # MM-DD
    made: dict[str, Panel] = {}
    t = titles["traffic"]
    made["traffic"] = Panel(
        "traffic", t,
        charts.columns(t, days, [d["requests"] for d in rep.days], "requests", [d["visitors"] for d in rep.days],
                       "unique visitors", width=charts.WIDE),
        Table(["date", "requests", "unique visitors", "bytes"],
              [[d["date"], num(d["requests"]), num(d["visitors"]), human_bytes(d["bytes"])] for d in rep.days],
              (1, 2, 3)),
        _NOTES["traffic"], wide=True,
    )  # fmt: skip
    hours = {r["key"]: r["requests"] for r in rep.sections.get("hour", [])}
    hour_keys = [f"{h:02d}" for h in range(24)]
    t = titles["hours"]
    made["hours"] = Panel("hours", t, charts.columns(t, hour_keys, [hours.get(h, 0) for h in hour_keys], every=3),
                          _table(rep.sections.get("hour", []), "hour"))  # fmt: skip
    made["status"] = _series_panel(rep, "status", titles["status"], "status_class", charts.STATUS_COLOURS)
    made["attacks"] = _series_panel(rep, "attacks", titles["attacks"], "attack", None)
    rt = rep.sections.get("response_time", [])
    t = titles["response_times"]
    made["response_times"] = Panel("response_times", t,
                                   charts.columns(t, [r["key"] for r in rt], [r["requests"] for r in rt], every=1),
                                   _table(rt, "time"), _NOTES["response_times"])  # fmt: skip
    for pid, section in _RANKED.items():
        made[pid] = _ranked_panel(pid, titles[pid], rep.sections.get(section, []))
    out = [made[pid] for pid, _ in PANELS]
    if rep.vhosts:
        out.insert(1, _ranked_panel("vhosts", "Virtual hosts", rep.vhosts, "vhost"))
    return out


def kpi_tiles(rep: Report) -> list[dict[str, str]]:
    """Each KPI as display text: value, detail, change against the previous period."""
    out = []
    for k in rep.kpis:
        value = human_bytes(k.value) if k.kind == "bytes" and k.value is not None else (
            pct(k.value) if k.kind == "share" else num(k.value))  # fmt: skip
        change, direction = "", ""
        if rep.previous is not None:
            c = k.change
            if c is None:
                change = "no previous value"
            else:
                direction = "up" if c > 0 else "down" if c < 0 else "flat"
                change = f"{c * 100:+.1f} pp" if k.kind == "share" else f"{c:+.1%}"
        out.append({"key": k.key, "label": k.label, "value": value, "detail": k.detail, "change": change,
                    "direction": direction})  # fmt: skip
    return out


def compliance_view(rep: Report) -> dict[str, Any] | None:
    """The compliance panel's chart and what it lists."""
    c = rep.compliance
    if c is None:
        return None
    strip = charts.strip("Where the rows of each day are now", [(d["date"][5:], d["stage"]) for d in c.timeline],
                         charts.STAGE_COLOURS)  # fmt: skip
    problems = []
    if any(c.overdue_rows.values()):
        problems.append("rows are overdue for retention: run 'logtool retain'")
    if not c.audit.get("ok"):
        problems.append(f"the audit chain is broken: {c.audit.get('problem')}")
    if c.last_verify is None:
        problems.append("no verify result recorded yet: 'logtool nightly' records one")
    elif not c.last_verify.get("ok"):
        problems.append(f"the last verify found {c.last_verify.get('problems')} problems: run 'logtool verify'")
    folded = [(SECTIONS.get(d, d), n) for d, n in sorted(c.folded.items()) if n]
    return {"c": c, "strip": strip, "problems": problems, "folded": folded, "states": DAY_STATES}


def render(rep: Report) -> str:
    """The report as one HTML page."""
    tpl = _ENV.get_template("report.html.j2")
    return tpl.render(r=rep, panels=panels(rep) if rep.days else [], tiles=kpi_tiles(rep),
                      compliance=compliance_view(rep), data=rep.to_dict())  # fmt: skip


def render_hold(hold: Hold, rows: pl.DataFrame, now: datetime) -> str:
    """A hold's rows (personal data) as an HTML page marked as such on screen and on paper."""
    tpl = _ENV.get_template("hold.html.j2")
    head = rows.head(HOLD_ROWS)
    cells = [["" if v is None else str(v) for v in r] for r in head.iter_rows()]
    return tpl.render(hold=hold.to_dict(now), columns=head.columns, rows=cells, total=rows.height, limit=HOLD_ROWS,
                      made=now)  # fmt: skip
