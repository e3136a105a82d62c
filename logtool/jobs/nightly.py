"""``logtool nightly``: what logrotate or a systemd timer runs after each rotation.

Ingest the rotated files, review the days they hold while their rows are still raw, apply
retention, check the store (``verify`` and the audit chain, recorded with the run so reports
can show the last result), optionally write the day's HTML report, and record the run — all
under one writer lock, so nothing interleaves. The result says what happened and whether the
review found something at or above ``fail_on``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from logtool.config import Policy
from logtool.detect.findings import Finding, at_least
from logtool.enrich.geo import GeoDB
from logtool.errors import EXIT_FINDINGS, EXIT_OK, OutputError
from logtool.governance.audit import verify_chain
from logtool.governance.verify import verify
from logtool.inputs import LogInput
from logtool.lifecycle.ingest import FileResult, ingest
from logtool.lifecycle.retention import RetainResult, retain
from logtool.parsers import LineFormat
from logtool.progress import SILENT, Tick
from logtool.render import ReportFormat, render_report
from logtool.report import build
from logtool.review import review
from logtool.store import Store


@dataclass
class NightlyResult:
    files: list[FileResult]
    retained: RetainResult
    #: The UTC days the ingested files hold (the ones reviewed).
    days: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    fail_on: str | None = None
    #: What ``verify`` and the audit-chain check found (None when not run).
    checks: dict[str, Any] | None = None
    #: The HTML report written (with ``report_dir``).
    report: Path | None = None

    @property
    def period(self) -> str:
        if not self.days:
            return ""
        return self.days[0] if len(self.days) == 1 else f"{self.days[0]} … {self.days[-1]}"

    @property
    def exit_code(self) -> int:
        """1 when the review found something at least as severe as ``fail_on``, or a damaged
        partition kept retention from a day."""
        if self.retained.damaged:
            return EXIT_FINDINGS
        return EXIT_FINDINGS if self.fail_on and at_least(self.findings, self.fail_on) else EXIT_OK


def nightly(
    store: Store,
    inputs: list[LogInput],
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    fail_on: str | None = None,
    progress: Tick = SILENT,
    clock: Callable[[], datetime] | None = None,
    check: bool = True,
    report_dir: Path | None = None,
) -> NightlyResult:
    """Ingest ``inputs``, review the days they hold, retain as of ``now``, check the store
    (unless ``check`` is false), record the run, and with ``report_dir`` write the HTML report of
    the days ingested (of the day before ``now`` when none were). ``clock`` (the CLI passes the
    wall clock) times the run record; by default ``now``."""
    started = (clock or (lambda: now))()
    with store.writing():
        files = ingest(store, inputs, policy, now, fmt, geo, progress)
        days = sorted({d for r in files for d in r.days})
        found = review(store, policy, now, date_from=days[0], date_to=days[-1]) if days else []
        retained = retain(store, policy, now)
        checks = _checks(store, policy, now) if check else None
        summary: dict[str, Any] = {
            "files": [r.__dict__ for r in files],
            "anonymised_rows": retained.anonymised_rows,
            "deleted_rows": retained.deleted_rows,
            "findings": len(found),
            **(checks or {}),
        }
        finished = (clock or (lambda: now))()
        with store.change("nightly", now, {"files": len(files)}) as ch:
            ch.counts = {"findings": len(found)}
            ch.then(lambda cat: cat.runs.record("nightly", started.isoformat(), finished.isoformat(), summary))
        result = NightlyResult(files, retained, days, found, fail_on, checks)
        if report_dir is not None:
            period = days or [(now - timedelta(days=1)).date().isoformat()]
            result.report = write_report(store, policy, now, period[0], period[-1], report_dir)
    return result


def _checks(store: Store, policy: Policy, now: datetime) -> dict[str, Any]:
    """``verify`` and the audit chain, as recorded with the run (problems by kind, no detail)."""
    problems = verify(store, policy, now)
    chain = verify_chain(store)
    return {
        "verify": {"ok": not problems, "problems": len(problems), "kinds": dict(Counter(p.kind for p in problems))},
        "audit": {"ok": chain.ok, "entries": chain.entries, "problem": chain.problem},
    }


def write_report(store: Store, policy: Policy, now: datetime, date_from: str, date_to: str, folder: Path) -> Path:
    """The HTML report of ``date_from`` … ``date_to`` as ``folder/logtool-report-DAY.html`` (or
    ``…-FIRST_LAST.html``), written whole or not at all (a web server may serve the folder)."""
    name = date_to if date_from == date_to else f"{date_from}_{date_to}"
    path = folder / f"logtool-report-{name}.html"
    text = render_report(build(store, policy, date_from, date_to, now=now), ReportFormat.html)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the report {path}: {e.strerror}") from None
    return path
