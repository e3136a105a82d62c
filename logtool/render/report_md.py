"""Markdown renderer: the report as headings and tables (GitHub-flavoured), for wikis and tickets.

Text from logs goes into code spans — no emphasis, link, autolink or HTML inside one — with
control characters shown as escapes and ``|`` escaped for the table.
"""

from __future__ import annotations

import re

import polars as pl

from logtool.render.report_table import human_bytes
from logtool.render.text import visible
from logtool.report import NOT_REQUESTS, SECTIONS, Report
from logtool.report.compliance import DAY_STATES
from logtool.store import Hold


def code(text: object) -> str:
    """``text`` as a code span that shows it literally, also inside a table cell."""
    s = visible(text).replace("|", "\\|")
    if not s:
        return ""
    ticks = "`" * (max((len(m) for m in re.findall("`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or s.startswith(" ") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> list[str]:
    rule = ["---:" if i in right else "---" for i in range(len(head))]
    return [_row(head), _row(rule), *(_row(r) for r in rows), ""]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _num(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def _kpis(rep: Report) -> list[str]:
    head = ["KPI", "value", "detail"]
    if rep.previous:
        head += [f"previous ({rep.previous['from']} … {rep.previous['to']})", "change"]
    rows = []
    for k in rep.kpis:
        fmt = (lambda v: human_bytes(v) if v is not None else "–") if k.kind == "bytes" else (
            _pct if k.kind == "share" else _num)  # fmt: skip
        row = [k.label, fmt(k.value), k.detail]
        if rep.previous:
            c = k.change
            row += [fmt(k.previous), "–" if c is None else f"{c * 100:+.1f} pp" if k.kind == "share" else f"{c:+.1%}"]
        rows.append(row)
    return _table(head, rows, (1, 3, 4))


def _compliance(rep: Report) -> list[str]:
    c = rep.compliance
    if c is None:
        return []
    p = c.policy
    out = [
        "## Privacy and compliance",
        "",
        f"As of {c.now}. Status: **{'all checks pass' if c.ok else 'needs attention'}**.",
        "",
    ]
    out.append(f"Policy: raw {p['raw_days']} days, anonymised {p['anonymised_days']} days (IPv4 /{p['ipv4_prefix']}, "
               f"IPv6 /{p['ipv6_prefix']}), then deleted; aggregates kept.")  # fmt: skip
    out.append("")
    dc = c.day_counts
    out.append("Days of this report by stage: " + ", ".join(f"{s} {dc[s]}" for s in DAY_STATES) + ".")
    out.append("")
    rows = [[name, _num(s["days"]), _num(s["rows"]), f"{s['oldest_day'] or ''} … {s['newest_day'] or ''}",
             _num(c.overdue_rows.get(name)) if name in c.overdue_rows else ""]
            for name, s in c.stages.items()]  # fmt: skip
    out += _table(["stage", "days", "rows", "oldest … newest", "overdue rows"], rows, (1, 2, 4))
    v = c.last_verify
    verify = (
        "never recorded" if v is None else ("no problems" if v["ok"] else f"{v['problems']} problems") + f" ({v['at']})"
    )
    audit = f"{c.audit['entries']} entries, chain intact" if c.audit["ok"] else f"broken: {c.audit['problem']}"
    out += [f"- verify: {verify}", f"- audit verify: {audit}", f"- restricted subjects (Art. 18): {c.restricted_subjects}",
            f"- quarantined lines: {c.quarantined_lines:,}", ""]  # fmt: skip
    if c.holds:
        out += _table(["hold", "reason", "from", "to", "networks", "expires"],
                      [[code(h["id"]), code(h["reason"]), h["from"], h["to"] or "open", str(h["networks"]),
                        h["expires_at"]] for h in c.holds])  # fmt: skip
    else:
        out += ["No active holds.", ""]
    folded = ", ".join(f"{SECTIONS.get(d, d)} {n}" for d, n in sorted(c.folded.items()) if n)
    out += [f"Groups under {p['min_group_size']} requests folded into (other): {folded or 'none'}.", ""]
    return out


def render(rep: Report) -> str:
    title = f"# Access report {rep.date_from} … {rep.date_to}" if rep.days else "# Access report"
    out = [title + (f" ({code(rep.vhost)})" if rep.vhost else ""), ""]
    out += [*rep.notes, ""] if rep.notes else []
    if not rep.days:
        out += ["No aggregates in this period.", ""]
    else:
        out += [f"From the daily aggregates only (no personal data); groups under {rep.min_group_size} requests "
                "are shown as (other).", ""]  # fmt: skip
        out += _kpis(rep)
    out += _compliance(rep)
    if rep.days:
        out += ["## Requests per day", ""]
        out += _table(["date", "requests", "unique visitors", "bytes"],
                      [[d["date"], _num(d["requests"]), _num(d["visitors"]), human_bytes(d["bytes"])] for d in rep.days],
                      (1, 2, 3))  # fmt: skip
    if rep.vhosts:
        out += ["## Virtual hosts", ""]
        out += _table(["vhost", "requests", "share"], [[code(v["key"]), _num(v["requests"]), _pct(v["share"])]
                                                      for v in rep.vhosts], (1, 2))  # fmt: skip
    for dim, title in SECTIONS.items():
        rows = rep.sections.get(dim, [])
        if not rows:
            continue
        counts = "findings" if dim in NOT_REQUESTS else "requests"
        out += [f"## {title}", ""]
        out += _table(["key", counts, "share"], [[code(r["key"]), _num(r["requests"]), _pct(r["share"])] for r in rows],
                      (1, 2))  # fmt: skip
    return "\n".join(out).rstrip("\n") + "\n"


def render_rows(hold: Hold, rows: pl.DataFrame) -> str:
    """A hold's rows (personal data) as a Markdown table, marked as such."""
    out = [f"# Hold {code(hold.id)}: {code(hold.reason)}", "",
           "**Contains personal data** (full addresses and requests under an incident hold; this output is "
           f"audited). {rows.height:,} rows.", ""]  # fmt: skip
    cells: list[list[str]] = [[code("" if v is None else v) for v in r] for r in rows.iter_rows()]
    out += _table(list(rows.columns), cells)
    return "\n".join(out)
