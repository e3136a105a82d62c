"""CSV renderer: every number of the report in one long table, for spreadsheets.

Columns: ``section, date, key, value, bytes, share, previous`` — KPIs (``kpi``), days
(``daily``, ``daily_visitors``), the per-day series (``series:<dimension>``), the sections, the
vhosts and the compliance counts. Keys from logs are shown with control characters escaped and
formula-looking text neutralised (:func:`logtool.render.text.csv_safe`).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import polars as pl

from logtool.render.text import csv_safe, visible
from logtool.report import SECTIONS, Report

COLUMNS = ("section", "date", "key", "value", "bytes", "share", "previous")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, str):
        return csv_safe(visible(v))
    return v


def _rows(rep: Report) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for k in rep.kpis:
        out.append(("kpi", "", k.key, k.value, "", "", k.previous))
    for d in rep.days:
        out.append(("daily", d["date"], "requests", d["requests"], d["bytes"], "", ""))
        out.append(("daily", d["date"], "unique_visitors", d["visitors"], "", "", ""))
    for dim, rows in rep.series.items():
        out += [(f"series:{dim}", r["date"], r["key"], r["requests"], "", "", "") for r in rows]
    for v in rep.vhosts:
        out.append(("vhost", "", v["key"], v["requests"], "", v["share"], ""))
    for dim in SECTIONS:
        out += [(dim, "", r["key"], r["requests"], r["bytes"], r["share"], "") for r in rep.sections.get(dim, [])]
    c = rep.compliance
    if c is not None:
        for name, s in c.stages.items():
            out.append(("compliance:stage_rows", "", name, s["rows"], "", "", ""))
            out.append(("compliance:stage_days", "", name, s["days"], "", "", ""))
        for name, n in c.overdue_rows.items():
            out.append(("compliance:overdue_rows", "", name, n, "", "", ""))
        for d in c.timeline:
            out.append(("compliance:day_stage", d["date"], d["stage"], 1, "", "", ""))
        out.append(("compliance:holds", "", "active", len(c.holds), "", "", ""))
        out.append(("compliance:restricted_subjects", "", "count", c.restricted_subjects, "", "", ""))
        out.append(("compliance:audit", "", "ok" if c.audit["ok"] else "broken", c.audit["entries"], "", "", ""))
        if c.last_verify is not None:
            out.append(("compliance:verify", c.last_verify["at"], "ok" if c.last_verify["ok"] else "problems",
                        c.last_verify["problems"], "", "", ""))  # fmt: skip
        for dim, n in c.folded.items():
            out.append(("compliance:folded_groups", "", dim, n, "", "", ""))
    return out


def render(rep: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows([_cell(v) for v in row] for row in _rows(rep))
    return buf.getvalue()


def render_rows(rows: pl.DataFrame) -> str:
    """A hold's rows (personal data) as CSV."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows.columns)
    w.writerows(
        [_cell(v if v is None or isinstance(v, str | int | float) else str(v)) for v in r] for r in rows.iter_rows()
    )
    return buf.getvalue()
