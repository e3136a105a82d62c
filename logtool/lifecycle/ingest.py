"""Ingest: read log files, parse, enrich, and commit raw records, aggregates and quarantine.

Per input the work streams in bounded batches. Everything an input produces is committed in
one catalog transaction at the end, so an interrupted ingest leaves no visible trace and a
re-run starts clean. An input whose content was ingested before (same SHA-256 of the
decompressed bytes, whatever its name or compression) is skipped.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from logtool.anonymize.fields import mask_ip_tokens
from logtool.config import Policy
from logtool.detect.rules import load_rules
from logtool.enrich import Enricher
from logtool.enrich.geo import GeoDB
from logtool.inputs import DEFAULT_BATCH_BYTES, LogInput, disk_size, file_digest, iter_batches
from logtool.lifecycle import aggregate
from logtool.parsers import LineFormat, detect_first
from logtool.pipeline import BackgroundWriter, prefetch
from logtool.progress import SILENT, Tick
from logtool.schema import RAW_SCHEMA, conform
from logtool.store import Store

#: Longest quarantined line kept (characters); the rest is cut with a marker.
MAX_QUARANTINE_LINE = 4096


@dataclass
class FileResult:
    """What ingesting one input did."""

    name: str
    status: str  # "ingested" | "duplicate" | "empty"
    format: str | None = None
    lines: int = 0
    parsed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    days: list[str] = field(default_factory=list)
    duplicate_of: str | None = None


def quarantine_rows(rejects: pl.DataFrame, source: str) -> pl.DataFrame:
    """Rejected lines with the client field and every IP-looking token masked."""
    line = pl.col("line").str.slice(0, MAX_QUARANTINE_LINE)
    masked = mask_ip_tokens(line.str.replace(r"^\S+", "<client>"))
    return rejects.select(pl.lit(source).alias("source_file"), "line_no", "reason", masked.alias("line"))


def ingest_file(
    store: Store,
    inp: LogInput,
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    progress: Tick = SILENT,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> FileResult:
    """Ingest one input into ``store`` (the caller holds the writer lock)."""
    cat = store.catalog
    disk_sha = inp.disk_sha256 = file_digest(inp.path) if inp.path is not None else None
    if disk_sha and (prev := cat.files.by("disk_sha256", disk_sha)):
        return FileResult(inp.name, "duplicate", prev["format"], duplicate_of=prev["name"])

    enrich = Enricher(policy, geo, cat.salts.get)
    rules = load_rules(policy.review_rules)
    batches = iter_batches(inp, batch_bytes)
    first = next(batches, None)
    if first is None:
        return FileResult(inp.name, "empty")
    if fmt is None:
        fmt, _ = detect_first(first.get_column("line"), inp.name)

    parser = fmt.parser()  # this input's own parser (per-file state such as W3C headers)
    with store.change("ingest", now) as ch:
        raw_w, quar_w = ch.writer("raw"), ch.writer("quarantine")
        bg = BackgroundWriter()
        partial_aggs: list[pl.DataFrame] = []
        reasons: Counter[str] = Counter()
        parsed = 0
        first_ts = last_ts = None
        today = now.date().isoformat()
        seen = 0
        try:
            for batch in itertools.chain([first], prefetch(batches)):
                rec, rej = parser.parse(batch)
                if rec.height:
                    rec = enrich(rec).with_columns(pl.lit(inp.name).alias("source_file"))
                    rec = conform(rec, RAW_SCHEMA)
                    bg.submit(raw_w.write, rec)
                    partial_aggs.append(aggregate.daily(rec, policy.sensitive_params, rules))
                    if len(partial_aggs) >= 8:
                        partial_aggs = [aggregate.merge(partial_aggs, policy.top_n)]
                    parsed += rec.height
                    lo, hi = rec.get_column("ts").min(), rec.get_column("ts").max()
                    first_ts = lo if first_ts is None or lo < first_ts else first_ts  # type: ignore[operator]
                    last_ts = hi if last_ts is None or hi > last_ts else last_ts  # type: ignore[operator]
                if rej.height:
                    reasons.update(dict(rej.get_column("reason").value_counts().iter_rows()))
                    quar_w.write_day(today, quarantine_rows(rej, inp.name))
                progress.advance(inp.disk_read - seen)
                seen = inp.disk_read
        finally:
            bg.close()

        if prev := cat.files.by("fingerprint", inp.sha256):
            ch.skip()
            return FileResult(inp.name, "duplicate", fmt.name, lines=inp.lines, duplicate_of=prev["name"])

        ch.writer("aggregates").write(aggregate.merge(partial_aggs, policy.top_n), date_column="date")
        result = FileResult(inp.name, "ingested", fmt.name, inp.lines, parsed, sum(reasons.values()), dict(reasons),
                            raw_w.days())  # fmt: skip
        ch.file_record = {
            "name": inp.name,
            "path": str(inp.path) if inp.path else None,
            "fingerprint": inp.sha256,
            "disk_sha256": disk_sha,
            "compression": inp.compression,
            "format": result.format,
            "lines": result.lines,
            "parsed": result.parsed,
            "rejected": result.rejected,
            "first_ts": first_ts.isoformat() if first_ts else None,
            "last_ts": last_ts.isoformat() if last_ts else None,
            "ingested_at": now.isoformat(),
        }
        ch.quarantine_counts = result.reasons
        ch.params = {"file": inp.name, "fingerprint": inp.sha256[:16], "format": result.format}
        ch.counts = {"lines": result.lines, "parsed": result.parsed, "quarantined": result.rejected,
                     "days": result.days}  # fmt: skip
    return result


def ingest(
    store: Store,
    inputs: list[LogInput],
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    progress: Tick = SILENT,
) -> list[FileResult]:
    """Ingest several inputs under one writer lock; each input commits on its own. ``progress``
    counts bytes of the files on disk (its total is known when every input is a regular file)."""
    sizes = [disk_size(inp) for inp in inputs]
    progress.total(None if None in sizes else sum(s or 0 for s in sizes), "bytes")
    results = []
    with store.writing():
        for inp, size in zip(inputs, sizes, strict=True):
            results.append(ingest_file(store, inp, policy, now, fmt, geo, progress))
            progress.advance(max(0, (size or 0) - inp.disk_read))  # a duplicate is not read
    return results
