"""Findings as text: a terminal table, JSON, CSV, Markdown, and the nightly one-screen summary.

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
           "last_seen", "samples", "next_step")  # fmt: skip


def _cells(f: Finding) -> list[str]:
    d = f.to_dict()
    d["samples"] = " | ".join(f.samples)
    return [visible(d[c]) for c in COLUMNS]


def _console(buf: io.StringIO, width: int) -> Console:
    return Console(file=buf, width=width, force_terminal=False, color_system=None, highlight=False)


def _table(findings: list[Finding], width: int = 160) -> str:
    buf = io.StringIO()
    t = Table(show_edge=False, pad_edge=False)
    for name, just in (("severity", "left"), ("category", "left"), ("client", "left"), ("count", "right"),
                       ("paths", "right"), ("first … last seen (UTC)", "left"), ("samples", "left")):  # fmt: skip
        t.add_column(name, justify=just, overflow="fold")  # type: ignore[arg-type]
    for f in findings:
        client = f.client if f.clients == 1 else f"{f.client} ({f.clients} clients)"
        samples = Text("\n".join(visible(s)[:80] for s in f.samples))
        t.add_row(cell(f.severity), cell(f.category), cell(client), f"{f.count:,}", f"{f.distinct_paths:,}",
                  cell(f"{f.first_seen[:19]} … {f.last_seen[11:19]}"), samples)  # fmt: skip
    _console(buf, width).print(t)
    return buf.getvalue()


def _markdown(findings: list[Finding]) -> str:
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("\n", " ")

    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(esc(c) for c in _cells(f)) + " |" for f in findings]
    return "\n".join(out) + "\n"


def render(findings: list[Finding], fmt: FindingFormat) -> str:
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
        return _table(findings) if findings else ""
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
    per_cat: dict[str, list[Finding]] = {}
    for f in findings:
        per_cat.setdefault(f.category, []).append(f)
    t = Table(show_edge=False, pad_edge=False)
    for name in ("category", "severity", "findings", "requests", "clients"):
        t.add_column(name, justify="left" if name in ("category", "severity") else "right")
    for cat, fs in sorted(per_cat.items(), key=lambda kv: (-SEVERITIES.index(kv[1][0].severity), -len(kv[1]))):
        t.add_row(cell(cat), cell(fs[0].severity), f"{len(fs):,}", f"{sum(f.count for f in fs):,}",
                  f"{sum(f.clients for f in fs):,}")  # fmt: skip
    con.print(t)
    con.print(Text(f"Top {min(top, len(findings))}:"))
    for f in findings[:top]:
        sample = visible((f.samples or [""])[0])[:40]
        con.print(Text(f"  {f.severity:<6} {visible(f.category):<14} {visible(f.client):<24} {f.count:>7,}x  {sample}"))
    if len(findings) > top:
        con.print(Text(f"  … {len(findings) - top} more"))
    return buf.getvalue()
