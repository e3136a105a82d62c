"""``logtool nightly``: what logrotate or a systemd timer runs after each rotation.

Ingest the rotated files, review the days they hold while their rows are still raw, apply
retention, and record the run — all under one writer lock, so nothing interleaves. The result
says what happened and whether the review found something at or above ``fail_on``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from logtool.config import Policy
from logtool.detect.findings import Finding, at_least
from logtool.enrich.geo import GeoDB
from logtool.errors import EXIT_FINDINGS, EXIT_OK
from logtool.inputs import LogInput
from logtool.lifecycle.ingest import FileResult, ingest
from logtool.lifecycle.retention import RetainResult, retain
from logtool.parsers import LineFormat
from logtool.progress import SILENT, Tick
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
) -> NightlyResult:
    """Ingest ``inputs``, review the days they hold, retain as of ``now``, record the run.
    ``clock`` (the CLI passes the wall clock) times the run record; by default ``now``."""
    started = (clock or (lambda: now))()
    with store.writing():
        files = ingest(store, inputs, policy, now, fmt, geo, progress)
        days = sorted({d for r in files for d in r.days})
        found = review(store, policy, now, date_from=days[0], date_to=days[-1]) if days else []
        retained = retain(store, policy, now)
        summary = {
            "files": [r.__dict__ for r in files],
            "anonymised_rows": retained.anonymised_rows,
            "deleted_rows": retained.deleted_rows,
            "findings": len(found),
        }
        finished = (clock or (lambda: now))()
        with store.change("nightly", now, {"files": len(files)}) as ch:
            ch.counts = {"findings": len(found)}
            ch.then(lambda cat: cat.runs.record("nightly", started.isoformat(), finished.isoformat(), summary))
    return NightlyResult(files, retained, days, found, fail_on)
