"""``logtool demo``: the whole lifecycle on generated sample logs, explained as it goes.

Fourteen days of traffic are generated (deterministic), written as rotated log files (some
gzip'd, like logrotate leaves them) and run through the nightly job as of the day after the
last log day with a short demo policy (raw 3 days, anonymised 10 days), so the store ends up
with raw, anonymised and deleted days. Next to the logs lie the last day's call-bot and chat-bot
records (a Twilio Calls page, Voice Intelligence transcripts, chat JSON lines), generated with
fictional numbers only; the report shows them from the conversation aggregates. The report
goes to ``reports/``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logtool import convgen, generate
from logtool.config import Policy
from logtool.enrich.geo import GeoDB
from logtool.inputs import make_inputs
from logtool.jobs.nightly import nightly
from logtool.render import ReportFormat, render_report
from logtool.render.findings import summary
from logtool.report import build
from logtool.store import Store

DEMO_DAYS = 14
DEMO_LINES_PER_DAY = 3000
DEMO_FIRST_DAY = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class DemoResult:
    store: Path
    logs: list[Path]
    reports: list[Path]
    now: datetime


def write_sample_logs(folder: Path, days: int = DEMO_DAYS, per_day: int = DEMO_LINES_PER_DAY) -> list[Path]:
    """Rotated sample logs: ``access.log-YYYYMMDD``, every other one gzip'd."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (day, lines) in enumerate(generate.days(DEMO_FIRST_DAY, days, per_day)):
        text = ("\n".join(lines) + "\n").encode()
        name = f"access.log-{day:%Y%m%d}"
        if i % 2:
            path = folder / f"{name}.gz"
            path.write_bytes(gzip.compress(text, mtime=0))
        else:
            path = folder / name
            path.write_bytes(text)
        out.append(path)
    return out


def write_sample_conversations(folder: Path, day: datetime) -> list[Path]:
    """A day of call-bot and chat-bot records as the exports look: ``calls-…json`` (a REST API
    page), ``transcripts-….jsonl``, ``chat-….jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = convgen.generate_day(day, calls=120, chats=80)
    files = {
        f"calls-{day:%Y%m%d}.json": convgen.calls_page(gen.calls),
        f"transcripts-{day:%Y%m%d}.jsonl": convgen.json_lines(gen.transcripts),
        f"chat-{day:%Y%m%d}.jsonl": convgen.json_lines(gen.chats),
    }
    out = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


def run_demo(workdir: Path, reports_dir: Path, say: Callable[[str], None] = lambda _: None) -> DemoResult:
    """Run the demo in ``workdir`` (logs and store) and write reports to ``reports_dir``: the
    same :func:`~logtool.jobs.nightly.nightly` job the timer runs, as of the day after the logs."""
    policy = replace(Policy(), raw_days=3, anonymised_days=10)
    logs = write_sample_logs(workdir / "logs")
    convs = write_sample_conversations(workdir / "logs", DEMO_FIRST_DAY + timedelta(days=DEMO_DAYS - 1))
    say(
        f"1. Generated {len(logs)} days of sample access logs ({DEMO_LINES_PER_DAY:,} lines a day, "
        f"IPv4/IPv6 clients, bots, attacks, malformed lines) and a day of call-bot and chat-bot records "
        f"(calls, transcripts, chats; fictional numbers) in {workdir / 'logs'}"
    )
    now = DEMO_FIRST_DAY + timedelta(days=DEMO_DAYS)
    with Store(workdir / "store") as store:
        run = nightly(store, make_inputs([str(p) for p in [*logs, *convs]]), policy, now, geo=GeoDB())
        lines = sum(r.lines for r in run.files)
        bad = sum(r.rejected for r in run.files)
        reasons: dict[str, int] = {}
        for r in run.files:
            for k, v in r.reasons.items():
                reasons[k] = reasons.get(k, 0) + v
        say(
            f"2. Ingested {lines:,} lines into the store {store.root}: full detail (raw stage), "
            f"daily aggregates, and {bad} unparseable lines quarantined with IPs masked "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})"
        )
        say("3. " + summary(run.findings, run.period).rstrip("\n").replace("\n", "\n   "))
        res = run.retained
        say(
            f"4. Applied the demo policy (raw {policy.raw_days} days, anonymised {policy.anonymised_days} "
            f"days) as of {now:%Y-%m-%d}: {len(res.anonymised_days)} days anonymised "
            f"({res.anonymised_rows:,} rows: IP → network, user/XFF/user agent dropped, query reduced "
            f"to utm_*, referrer to its origin), {len(res.deleted_days)} days deleted "
            f"({res.deleted_rows:,} rows); aggregates kept for all {DEMO_DAYS} days"
        )
        conv_files = [r for r in run.files if r.format in ("twilio_calls", "twilio_transcripts", "chat_jsonl")]
        say(
            f"   conversations: {sum(r.parsed for r in conv_files):,} records ("
            + ", ".join(f"{r.format} {r.parsed:,}" for r in conv_files)
            + f") kept in full for {policy.conversations_raw_days} days, then anonymised (numbers to country + "
            "area, contacts dropped, text redacted)"
        )
        raw_days = sorted({p.date for p in store.parts("raw")})
        anon_days = sorted({p.date for p in store.parts("anonymised")})
        say(f"   raw stage now: {raw_days[0]} … {raw_days[-1]}; anonymised: {anon_days[0]} … {anon_days[-1]}")
        report = build(store, policy)
        reports_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, ext in ((ReportFormat.table, "txt"), (ReportFormat.json, "json")):
            p = reports_dir / f"demo-report.{ext}"
            p.write_text(render_report(report, fmt), encoding="utf-8")
            paths.append(p)
        say(f"5. Wrote the aggregate report (no personal data) to {', '.join(str(p) for p in paths)}")
    return DemoResult(workdir / "store", logs, paths, now)
