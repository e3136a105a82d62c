"""Ingest: read log files, parse, enrich, and commit raw records, aggregates and quarantine.

Per input the work streams in bounded batches. Everything an input produces is committed in
one catalog transaction at the end, so an interrupted ingest leaves no visible trace and a
re-run starts clean. An input whose content was ingested before (same SHA-256 of the
decompressed bytes, whatever its name or compression) is skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from logtool import aggregate
from logtool.anonymize.fields import mask_ip_tokens
from logtool.config import Policy
from logtool.enrich import Enricher
from logtool.errors import InputError
from logtool.geo import GeoDB
from logtool.inputs import DEFAULT_BATCH_BYTES, LogInput, file_digest, iter_batches
from logtool.parsers import LineFormat, detect
from logtool.pipeline import BackgroundWriter, prefetch
from logtool.review.rules import load_rules
from logtool.schema import RAW_SCHEMA, conform
from logtool.store import Partition, Store

#: Longest quarantined line kept (characters); the rest is cut with a marker.
MAX_QUARANTINE_LINE = 4096

Progress = Callable[[int], None]


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
    progress: Progress | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> FileResult:
    """Ingest one input into ``store`` (the caller holds the writer lock)."""
    cat = store.catalog
    disk_sha = inp.disk_sha256 = file_digest(inp.path) if inp.path is not None else None
    if disk_sha and (prev := cat.file_by("disk_sha256", disk_sha)):
        return FileResult(inp.name, "duplicate", prev["format"], duplicate_of=prev["name"])

    enrich = Enricher(policy, store.secret(), geo, store.catalog.salt)
    rules = load_rules(policy.review_rules)
    batches = iter_batches(inp, batch_bytes)
    first = next(batches, None)
    if first is None:
        return FileResult(inp.name, "empty")
    if fmt is None:
        nonempty = first.get_column("line").filter(first.get_column("line").str.len_bytes() > 0)
        if nonempty.len() == 0:
            raise InputError(f"{inp.name}: the first {first.height} lines are empty; cannot detect the format")
        fmt, _ = detect(nonempty, inp.name)

    if hasattr(fmt, "start_file"):  # formats with per-file state (W3C #Fields headers)
        fmt.start_file()
    raw_w, quar_w = store.writer("raw"), store.writer("quarantine")
    bg = BackgroundWriter()
    partial_aggs: list[pl.DataFrame] = []
    reasons: Counter[str] = Counter()
    parsed = 0
    first_ts = last_ts = None
    today = now.date().isoformat()
    try:
        for batch in itertools.chain([first], prefetch(batches)):
            rec, rej = fmt.parse(batch)
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
            if progress:
                progress(batch.height)
        bg.close()
    except BaseException:
        bg.close()
        raw_w.abort()
        quar_w.abort()
        raise

    if prev := cat.file_by("fingerprint", inp.sha256):
        raw_w.abort()
        quar_w.abort()
        return FileResult(inp.name, "duplicate", fmt.name, lines=inp.lines, duplicate_of=prev["name"])

    agg_w = store.writer("aggregates")
    try:
        aggs = aggregate.merge(partial_aggs, policy.top_n)
        agg_w.write(aggs, date_column="date")
        parts = raw_w.finish() + quar_w.finish() + agg_w.finish()
    except BaseException:
        raw_w.abort()
        quar_w.abort()
        agg_w.abort()
        raise
    result = FileResult(
        inp.name,
        "ingested",
        fmt.name,
        inp.lines,
        parsed,
        sum(reasons.values()),
        dict(reasons),
        sorted({p.date for p in parts if p.stage == "raw"}),
    )
    commit_ingest(store, inp, disk_sha, result, parts, first_ts, last_ts, now)
    return result


def commit_ingest(
    store: Store,
    inp: LogInput,
    disk_sha: str | None,
    result: FileResult,
    parts: list[Partition],
    first_ts: datetime | None,
    last_ts: datetime | None,
    now: datetime,
) -> None:
    """One transaction: the file record, its partitions, its quarantine counts."""
    stamp = now.isoformat()
    try:
        with store.catalog.transaction() as db:
            file_id = store.catalog.insert_file(
                db,
                {
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
                    "ingested_at": stamp,
                },
            )
            for p in parts:
                store.catalog.insert_partition(db, dataclasses.replace(p, file_id=file_id), stamp)
            store.catalog.add_quarantine_stats(db, file_id, result.reasons)
            store.catalog.audit(
                db,
                stamp,
                "ingest",
                {"file": inp.name, "fingerprint": inp.sha256[:16], "format": result.format},
                {"lines": result.lines, "parsed": result.parsed, "quarantined": result.rejected, "days": result.days},
            )
    except BaseException:
        store.delete_files([p.path for p in parts])
        raise


def ingest(
    store: Store,
    inputs: list[LogInput],
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Ingest several inputs under one writer lock; each input commits on its own."""
    with store.writing():
        return [ingest_file(store, inp, policy, now, fmt, geo, progress) for inp in inputs]
