"""Findings as text: a terminal table, JSON, CSV, Markdown, and the nightly one-screen summary.

The table is for a reviewer at an 80-column terminal: one summary line per category first, then
one finding per row, most severe first, with full dates, where it matched and the excerpt.
Clients, samples and the next step hold attacker text: tables take them as rich ``Text`` (never
markup), every text output shows control characters escaped, CSV cells cannot start a formula.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections import Counter
from typing import assert_never

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from logtool.detect.findings import Finding
from logtool.detect.rules import SEVERITIES
from logtool.render.text import cell, csv_safe, visible


class FindingFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


COLUMNS = ("severity", "category", "detector", "client", "clients", "count", "distinct_paths", "first_seen",
           "last_seen", "field", "excerpt", "samples", "next_step")  # fmt: skip


def select(findings: list[Finding], min_severity: str | None = None, limit: int | None = None) -> list[Finding]:
    """The findings at or above ``min_severity``, at most ``limit`` of them (0 or None: all)."""
    if min_severity:
        floor = SEVERITIES.index(min_severity)
        findings = [f for f in findings if SEVERITIES.index(f.severity) >= floor]
    return findings[:limit] if limit else findings


def _cells(f: Finding) -> list[str]:
    d = f.to_dict()
    d["samples"] = " | ".join(f.samples)
    return [visible(d[c]) for c in COLUMNS]


def _console(buf: io.StringIO, width: int) -> Console:
    return Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False)


def _per_category(findings: list[Finding]) -> list[tuple[str, str, list[Finding]]]:
    per: dict[str, list[Finding]] = {}
    for f in findings:
        per.setdefault(f.category, []).append(f)
    rows = [(cat, max((f.severity for f in fs), key=SEVERITIES.index), fs) for cat, fs in per.items()]
    return sorted(rows, key=lambda r: (-SEVERITIES.index(r[1]), -sum(f.count for f in r[2]), r[0]))


def summary_lines(findings: list[Finding]) -> list[str]:
    """One line per category: severity, findings, requests, clients."""
    out = []
    for cat, sev, fs in _per_category(findings):
        n, req, cl = len(fs), sum(f.count for f in fs), sum(f.clients for f in fs)
        out.append(f"{visible(sev):<6} {visible(cat):<15} {n:>5,} finding{'s' if n != 1 else ' '} {req:>9,} requests "
                   f"{cl:>7,} clients")  # fmt: skip
    return out


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (wide characters count two), without trailing blanks."""
    if len(text) > width or not text.isascii():
        text = text[:width]
        while cell_len(text) > width:
            text = text[:-1]
    return text.rstrip()


def _table(findings: list[Finding], width: int = 80) -> str:
    """The summary lines, then one block per finding: severity, category, client and count;
    first and last seen (full dates) and where it matched; the first sample request. Every
    value is already :func:`visible` and cut to the width, so the lines are joined as text
    (thousands of findings through rich cost seconds)."""
    lines = [_fit(line, width) for line in summary_lines(findings)]
    for f in findings:
        client = f.client if f.clients == 1 else f"{f.client} ({f.clients:,} clients)"
        first, last = (x[:19].replace("T", " ") for x in (f.first_seen, f.last_seen))
        seen = first if first == last else f"{first} → {last}"
        where = f"{visible(f.field)}: {visible(f.excerpt)}" if f.field else visible(f.detector)
        lines.append("")
        lines.append(
            _fit(f"{visible(f.severity):<6} {visible(f.category):<15} {visible(client)}  {f.count:,} requests", width)
        )
        lines.append(_fit(f"       {seen}  {where}", width))
        if f.samples:
            lines.append(_fit(f"       {visible(f.samples[0])}", width))
    return "\n".join(lines) + "\n"


def _markdown(findings: list[Finding]) -> str:
    def esc(text: str) -> str:
        return visible(text).replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("\n", " ")

    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(esc(c) for c in _cells(f)) + " |" for f in findings]
    return "\n".join(out) + "\n"


def render(findings: list[Finding], fmt: FindingFormat, width: int = 80) -> str:
    """``findings`` in ``fmt``."""
    if fmt is FindingFormat.json:
        return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"
    if fmt is FindingFormat.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows([csv_safe(c) for c in _cells(f)] for f in findings)
        return buf.getvalue()
    if fmt is FindingFormat.md:
        return _markdown(findings)
    if fmt is FindingFormat.table:
        return _table(findings, width) if findings else ""
    assert_never(fmt)


def summary(findings: list[Finding], period: str, top: int = 5, width: int = 100) -> str:
    """The nightly one-screen summary: counts per severity and category, the top findings, and
    the command that shows the rest."""
    buf = io.StringIO()
    con = _console(buf, width)
    by_sev = Counter(f.severity for f in findings)
    sev_text = ", ".join(f"{by_sev[s]} {s}" for s in reversed(SEVERITIES))
    con.print(Text(f"Security review {visible(period)}: {len(findings)} findings ({sev_text})"))
    if not findings:
        return buf.getvalue()
    t = Table(show_edge=False, pad_edge=False)
    for name in ("category", "severity", "findings", "requests", "clients"):
        t.add_column(name, justify="left" if name in ("category", "severity") else "right")
    for cat, sev, fs in _per_category(findings):
        t.add_row(cell(cat), cell(sev), f"{len(fs):,}", f"{sum(f.count for f in fs):,}",
                  f"{sum(f.clients for f in fs):,}")  # fmt: skip
    con.print(t)
    con.print(Text(f"Top {min(top, len(findings))}:"))
    for f in findings[:top]:
        sample = visible((f.samples or [""])[0])[:40]
        con.print(
            Text(
                f"  {visible(f.severity):<6} {visible(f.category):<14} {visible(f.client):<24} {f.count:>7,}x  {sample}"
            )
        )
    if len(findings) > top:
        con.print(Text(f"  … {len(findings) - top} more"))
    return buf.getvalue()
