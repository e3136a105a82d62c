"""Renderers: reports, findings and row-level views as terminal tables, JSON, CSV, Markdown.

Every value taken from a log is attacker text: renderers show it as text, never as markup.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import assert_never

import polars as pl

from logtool.render import report_json, report_table
from logtool.report import Report
from logtool.schema import iso_times
from logtool.store import Hold


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"


def render_report(report: Report, fmt: ReportFormat, width: int = 100) -> str:
    """The report as text in ``fmt``."""
    if fmt is ReportFormat.table:
        return report_table.render(report, width)
    if fmt is ReportFormat.json:
        return report_json.render(report)
    assert_never(fmt)


def render_hold(hold: Hold, rows: pl.DataFrame, fmt: ReportFormat, now: datetime) -> str:
    """Row-level detail of the rows an incident hold matches (full addresses and requests)."""
    cols = ["ts", "client_ip", "xff", "method", "path", "query", "status", "bytes", "referrer", "user_agent", "vhost"]
    view = rows.select([c for c in cols if c in rows.columns])
    if fmt is ReportFormat.json:
        doc = {"hold": hold.to_dict(now), "rows": view.height, "detail": iso_times(view).to_dicts()}
        return json.dumps(doc, indent=2, default=str) + "\n"
    if fmt is ReportFormat.table:
        return report_table.render_rows(f"Hold {hold.id}: {hold.reason}", view)
    assert_never(fmt)
