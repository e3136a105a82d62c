"""Terminal renderer: readable tables (rich), also fine as plain text in a file.

Keys (paths, referrer hosts, browsers), hold reasons and row values come from logs: they are
rich ``Text`` with control characters escaped, never markup."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from logtool.render.text import cell, visible
from logtool.report import NOT_REQUESTS, SECTIONS, Report
from logtool.report.conversations import TITLES as CONV_TITLES


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def render(report: Report, width: int = 100) -> str:
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    if not report.days:
        if report.conversations is None:
            con.print("No aggregates in this period. Ingest logs first: logtool ingest FILE")
        else:
            render_conversations(con, report)
        return buf.getvalue()
    con.print(
        f"[bold]Access report {report.date_from} … {report.date_to}[/bold]  "
        f"({len(report.days)} days, {report.requests:,} requests, {human_bytes(report.bytes)}, "
        f"bots {report.bot_share:.1%})"
    )
    if report.vhost:
        con.print(cell(f"vhost: {report.vhost}"))
    con.print(f"Groups under {report.min_group_size} requests are shown as (other).")
    for note in report.notes:
        con.print(cell(note))
    con.print(cell(_kpi_line(report)))  # text, not markup: "[changes against …]" is shown as written
    if report.compliance is not None:
        con.print(Text(visible(_compliance_lines(report), newlines=True)))
    con.print()
    daily = Table(title="Requests per day", title_justify="left")
    daily.add_column("date")
    daily.add_column("requests", justify="right")
    daily.add_column("unique visitors", justify="right")
    daily.add_column("bytes", justify="right")
    for d in report.days:
        v = d.get("visitors")
        daily.add_row(d["date"], f"{d['requests']:,}", "-" if v is None else f"{v:,}", human_bytes(d["bytes"]))
    con.print(daily)
    for dim, title in SECTIONS.items():
        rows = report.sections.get(dim, [])
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        t.add_column("key", overflow="fold", max_width=60)
        t.add_column("findings" if dim in NOT_REQUESTS else "requests", justify="right")
        t.add_column("share", justify="right")
        for r in rows:
            share = "-" if r["share"] is None else f"{r['share']:.1%}"
            t.add_row(cell(r["key"]), f"{r['requests']:,}", share)
        con.print(t)
    render_conversations(con, report)
    return buf.getvalue()


def _kpi_line(report: Report) -> str:
    parts = []
    for k in report.kpis:
        if k.value is None:
            value = "-"
        else:
            value = (
                human_bytes(k.value)
                if k.kind == "bytes"
                else f"{k.value:.1%}"
                if k.kind == "share"
                else f"{k.value:,.0f}"
            )
        c = k.change
        if c is not None:
            value += f" ({c * 100:+.1f} pp)" if k.kind == "share" else f" ({c:+.1%})"
        parts.append(f"{k.label}: {value}")
    prev = f"  [changes against {report.previous['from']} … {report.previous['to']}]" if report.previous else ""
    return " · ".join(parts) + prev


def _compliance_lines(report: Report) -> str:
    c = report.compliance
    assert c is not None
    dc = c.day_counts
    v = c.last_verify
    verify = "never recorded" if v is None else "no problems" if v["ok"] else f"{v['problems']} problems"
    lines = [
        f"Privacy and compliance ({'all checks pass' if c.ok else 'needs attention'}): days of this report "
        + ", ".join(f"{s} {n}" for s, n in dc.items())
        + f"; overdue rows: raw {c.overdue_rows['raw']:,}, anonymised {c.overdue_rows['anonymised']:,}",
        f"  active holds {len(c.holds)}, restricted subjects {c.restricted_subjects}, last verify: {verify}, "
        f"audit chain: {'intact' if c.audit['ok'] else 'BROKEN'} ({c.audit['entries']:,} entries)",
    ]
    return "\n".join(lines)


def render_conversations(con: Console, report: Report) -> None:
    """The chat-bot and call-bot section (aggregates only), if the period has one."""
    conv = report.conversations
    if conv is None:
        return
    con.print(
        f"\n[bold]Conversations {report.date_from} … {report.date_to}[/bold]  ({conv.conversations:,} conversations, "
        f"{conv.calls:,} calls, {conv.call_seconds / 3600:.1f} h of calls, {conv.messages:,} chat messages)"
    )
    daily = Table(title="Conversations per day", title_justify="left")
    for col in ("date", "conversations", "voice", "chat", "calls", "call time"):
        daily.add_column(col, justify="left" if col == "date" else "right")
    for d in conv.days:
        daily.add_row(d["date"], f"{d['conversations']:,}", f"{d['voice']:,}", f"{d['chat']:,}", f"{d['calls']:,}",
                      f"{d['call_seconds'] / 60:,.0f} min")  # fmt: skip
    con.print(daily)
    for dim, title in CONV_TITLES.items():
        rows = conv.sections.get(dim, [])
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        t.add_column("key", overflow="fold", max_width=60)
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        for r in rows:
            t.add_row(cell(r["key"]), f"{r['count']:,}", f"{r['share']:.1%}")
        con.print(t)


def render_rows(title: str, rows: Any, width: int = 160) -> str:
    """A plain table of rows (hold reports), at most 1,000 of them with a note when cut."""
    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    con.print(cell(title), f"({rows.height:,} rows)")
    table = Table()
    for c in rows.columns:
        table.add_column(c, overflow="fold")
    for r in rows.head(1000).iter_rows():
        table.add_row(*[cell("" if v is None else v) for v in r])
    con.print(table)
    if rows.height > 1000:
        con.print("… first 1,000 rows; 'logtool export --hold' or 'logtool hold export' give all of them")
    return buf.getvalue()
