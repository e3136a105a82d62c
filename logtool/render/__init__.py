"""Renderers: reports, findings and row-level views as terminal tables, JSON, CSV, Markdown, HTML.

Every value taken from a log is attacker text: renderers show it as text, never as markup.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import TYPE_CHECKING, assert_never

if TYPE_CHECKING:  # the renderers load on first use: commands that render nothing start faster
    import polars as pl

    from logtool.report import Report
    from logtool.store import Hold


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"
    md = "md"
    csv = "csv"
    html = "html"


def render_report(report: Report, fmt: ReportFormat, width: int = 100) -> str:
    """The report as text in ``fmt``."""
    from logtool.render import report_csv, report_json, report_md, report_table

    if fmt is ReportFormat.table:
        return report_table.render(report, width)
    if fmt is ReportFormat.json:
        return report_json.render(report)
    if fmt is ReportFormat.md:
        return report_md.render(report)
    if fmt is ReportFormat.csv:
        return report_csv.render(report)
    if fmt is ReportFormat.html:
        from logtool.render import report_html  # Jinja2 only for commands that write HTML

        return report_html.render(report)
    assert_never(fmt)


HOLD_COLUMNS = ["ts", "client_ip", "xff", "method", "path", "query", "status", "bytes", "referrer", "user_agent",
                "vhost"]  # fmt: skip


def render_hold(hold: Hold, rows: pl.DataFrame, fmt: ReportFormat, now: datetime) -> str:
    """Row-level detail of the rows an incident hold matches (full addresses and requests)."""
    from logtool.render import report_csv, report_md, report_table
    from logtool.schema import iso_times

    view = rows.select([c for c in HOLD_COLUMNS if c in rows.columns])
    if fmt is ReportFormat.json:
        doc = {"hold": hold.to_dict(now), "personal_data": True, "rows": view.height,
               "detail": iso_times(view).to_dicts()}  # fmt: skip
        return json.dumps(doc, indent=2, default=str) + "\n"
    if fmt is ReportFormat.table:
        return report_table.render_rows(f"Hold {hold.id}: {hold.reason}", view)
    if fmt is ReportFormat.md:
        return report_md.render_rows(hold, iso_times(view))
    if fmt is ReportFormat.csv:
        return report_csv.render_rows(iso_times(view))
    if fmt is ReportFormat.html:
        from logtool.render import report_html

        return report_html.render_hold(hold, iso_times(view), now)
    assert_never(fmt)
