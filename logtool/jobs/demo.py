"""``logtool demo``: the whole lifecycle on generated sample logs, explained as it goes.

Fourteen days of traffic are generated (deterministic), written as rotated log files (some
gzip'd, like logrotate leaves them) and run through the nightly job as of the day after the
last log day with a short demo policy (raw 3 days, anonymised 10 days), so the store ends up
with raw, anonymised and deleted days; an incident hold is placed on the most severe finding.
Next to the logs lie the last day's call-bot and chat-bot records (a Twilio Calls page, Voice
Intelligence transcripts, chat JSON lines), generated with fictional numbers only; the reports
show them from the conversation aggregates. The reports go to ``reports/``:
``demo-report.html`` (the dashboard), ``.txt`` and ``.json``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logtool import convgen, generate
from logtool.config import Policy
from logtool.detect.findings import Finding
from logtool.enrich.geo import GeoDB
from logtool.governance.holds import create
from logtool.inputs import make_inputs
from logtool.jobs.nightly import nightly
from logtool.render import ReportFormat, render_report
from logtool.render.findings import summary
from logtool.report import build
from logtool.store import Store

DEMO_DAYS = 14
DEMO_LINES_PER_DAY = 3000
DEMO_FIRST_DAY = datetime(2026, 11, 1, tzinfo=UTC)
#: A short policy, so that 14 days end up raw, anonymised and deleted.
DEMO_POLICY = replace(Policy(), raw_days=3, anonymised_days=10)


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
    policy = DEMO_POLICY
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
        hold = _demo_hold(store, run.findings, now)
        if hold:
            say(f"5. Placed incident hold {hold}: its rows stay raw as evidence past the policy's windows "
                f"(see it with: logtool report --hold {hold} --format html)")  # fmt: skip
        report = build(store, policy, now=now)
        reports_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt, ext in ((ReportFormat.html, "html"), (ReportFormat.table, "txt"), (ReportFormat.json, "json")):
            p = reports_dir / f"demo-report.{ext}"
            p.write_text(render_report(report, fmt), encoding="utf-8")
            paths.append(p)
        say(f"6. Wrote the aggregate report (no personal data) with the store's privacy state to "
            f"{', '.join(str(p) for p in paths)}")  # fmt: skip
    return DemoResult(workdir / "store", logs, paths, now)


def _demo_hold(store: Store, findings: list[Finding], now: datetime) -> str | None:
    """A hold on the network of the most severe finding still in the raw stage, as a reviewer
    would place one (so the report shows a hold and its rows can be looked at)."""
    raw_days = {p.date for p in store.parts("raw")}
    for f in findings:  # most severe first
        start = datetime.fromisoformat(f.first_seen)
        if start.date().isoformat() in raw_days and "/" in f.client:
            create(store, "INC-DEMO-1", f"{f.category} from one network ({f.detector}); evidence for the incident file",
                   start, now, end=datetime.fromisoformat(f.last_seen) + timedelta(seconds=1), networks=[f.client])  # fmt: skip
            return "INC-DEMO-1"
    return None
