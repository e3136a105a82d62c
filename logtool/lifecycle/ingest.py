"""Ingest: read log files, parse, enrich, and commit raw records, aggregates and quarantine.

Per input the work streams in bounded batches. Everything an input produces is committed in
one catalog transaction at the end, so an interrupted ingest leaves no visible trace and a
re-run starts clean. An input whose content was ingested before (same SHA-256 of the
decompressed bytes, whatever its name or compression) is skipped.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from logtool.anonymize.fields import vhost_networks
from logtool.config import Policy
from logtool.detect.flags import SignatureCache
from logtool.detect.rules import load_rules
from logtool.enrich import Enricher
from logtool.enrich.geo import GeoDB
from logtool.enrich.ua import warm_up
from logtool.inputs import (
    DEFAULT_BATCH_BYTES,
    LogInput,
    disk_digest,
    disk_size,
    is_regular,
    iter_batches,
)
from logtool.lifecycle import aggregate
from logtool.lifecycle.forget import forget_record
from logtool.lifecycle.quarantine import MAX_QUARANTINE_LINE, Quarantine, few, quarantine_rows
from logtool.linesplit import split_overlong
from logtool.parsers import LineFormat, Parser, detect_first
from logtool.parsers.base import Stateless
from logtool.parsers.conversations import is_conversation
from logtool.pipeline import BackgroundWriter, in_background, in_order, prefetch
from logtool.progress import SILENT, Tick
from logtool.schema import RAW_SCHEMA, conform
from logtool.store import Store

__all__ = ["Caches", "FileResult", "MAX_QUARANTINE_LINE", "ingest", "ingest_file", "quarantine_rows"]

RAW_EMPTY = pl.DataFrame(schema=RAW_SCHEMA)
#: The first batch's size: smaller than the others, so a worker starts sooner, while the next
#: batch is read (the format is detected on it). 4 MiB held ~17 MiB less at the peak of a
#: 1M-line ingest than a first batch of 12, in the same time.
FIRST_BATCH_BYTES = 4 * 1024 * 1024
#: Batches handed to the two workers before the oldest one's result is taken: the third is read
#: and queued while both parse, so a worker that finishes starts on it at once instead of waiting
#: for this thread to hand the oldest to the writer (which may be busy) and read the next. 1M
#: lines: 2.5 % less time, +23 MiB peak; 10M lines: 7–11 % less time, 443–458 MiB peak.
READ_AHEAD = 2


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
    #: Lines read in a layout variant (syslog prefix, trailing fields …), per variant.
    variants: dict[str, int] = field(default_factory=dict)
    #: An earlier ingest of the same content was forgotten first (``replace``).
    replaced: bool = False


def _drain(batches: list[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """The items of ``batches``, each taken out of the list as it is handed on (a list that
    kept them would keep the first batches for the whole file)."""
    while batches:
        yield batches.pop(0)


def _head(batches: Iterator[pl.DataFrame], most: int = 16) -> list[pl.DataFrame]:
    """The first batches, up to one with a line to detect the format from (an overlong line
    comes as a batch of its own, and is never parsed)."""
    out = []
    for b in batches:
        out.append(b)
        if split_overlong(b)[0].height or len(out) >= most:
            break
    return out


class _BatchWork:
    """What a batch goes through on a worker thread: parsing (when the parser keeps no state
    between batches; else the batch arrives parsed), enrichment, partial aggregates (attack
    counts included), its time range, and its rejects masked for the quarantine (unless few: they
    wait, see :class:`~logtool.lifecycle.quarantine.Quarantine`). The caches it
    shares between batches tolerate concurrent use."""

    def __init__(self, parser: Parser | None, policy: Policy, enrich: Enricher, rules: dict[str, Any], source: str,
                 now: datetime, signatures: SignatureCache) -> None:  # fmt: skip
        self.parser, self.policy, self.enrich, self.rules = parser, policy, enrich, rules
        self.source, self.now, self.signatures = source, now, signatures

    def __call__(self, box: list[pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]]) -> _Done:
        """The work on the batch in ``box`` (taken out: its lines' bytes go once parsed, not
        when the call ends, as they would if the pool's reference to the argument held them)."""
        item = box.pop()
        rec, rej = parse(self.parser, item) if self.parser is not None else item  # type: ignore[arg-type]
        del item
        quar = None
        if rej.height:
            if (waiting := few(rej)) is None:
                quar = quarantine_rows(rej, self.source, self.now, self.policy.sensitive_params)
            else:
                rej = waiting
        if rec.height == 0:
            return _Done(rec, rej, quar, None, None, None)
        rec = self.enrich(rec)
        # aggregates are kept for good: a virtual host that is an address as its network
        vhost = vhost_networks(rec.get_column("vhost"), self.policy.ipv4_prefix, self.policy.ipv6_prefix)
        agg = aggregate.daily(rec.with_columns(vhost), self.policy.sensitive_params, self.rules, self.signatures)
        ts = rec.get_column("ts")
        return _Done(rec, rej, quar, agg, ts.min(), ts.max())


class _DiskDigest:
    """The SHA-256 of a regular file's bytes on disk, taken on a thread of its own while the
    first batch is read. When an ingested file had this file's size (``early``), parsing waits
    for it (:meth:`duplicate`), so a file ingested before is skipped before its format is
    detected or a line parsed; a file of a size none had cannot be one of them, and is parsed
    at once (its digest is needed for its record only). A pipe, FIFO or ``/dev/stdin`` can be
    read only once: its fingerprint is taken while parsing. (Should the first batch fail to
    read, the thread finishes its read alone; its result is not needed.)"""

    def __init__(self, inp: LogInput, store: Store) -> None:
        self.inp, self.regular = inp, is_regular(inp.path)
        self._future = in_background(disk_digest, inp.path) if self.regular else None
        inp.disk_sha256_later = self.regular
        self.early = self.regular and store.catalog.files.may_have_size(disk_size(inp))
        self.checked = False

    def duplicate(self, store: Store) -> dict[str, Any] | None:
        """The earlier ingest of the same bytes on disk, if any (None for a stream)."""
        self.checked = True
        if self._future is None:
            return None
        inp = self.inp
        sha, inp.disk_bytes = self._future.result()
        inp.disk_sha256 = sha
        if inp.compression == "none":  # plain text: the disk digest is the content's fingerprint
            inp.sha256 = sha  # (reading may have ended already, in the first batch)
        return store.catalog.files.by("disk_sha256", sha)


def parse(parser: Parser, whole: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A batch's records and rejects (overlong lines are rejects, never parsed)."""
    batch, overlong = split_overlong(whole)
    rec, rej = parser.parse(batch) if batch.height else (RAW_EMPTY, overlong)
    if overlong.height and batch.height:
        rej = pl.concat([rej, overlong])
    return rec, rej


@dataclass
class Caches:
    """What the inputs of one :func:`ingest` call share: the enrichment of distinct addresses
    and agents and the classification of distinct attacker text. Their results depend on the
    value and on the policy's prefixes and the country database alone, which one call does not
    change; a site's files repeat most of their clients, agents and requests, so ten small
    files took a fifth less time with one set than with a set each."""

    enrich: Enricher
    signatures: SignatureCache
    #: What they were made for: the enricher reads this store's salts.
    made_for: tuple[Store, Policy, GeoDB | None]

    @classmethod
    def new(cls, store: Store, policy: Policy, geo: GeoDB | None) -> Caches:
        return cls(Enricher(policy, geo, store.catalog.salts.get), SignatureCache(), (store, policy, geo))

    def serve(self, store: Store, policy: Policy, geo: GeoDB | None) -> bool:
        """Were they made for this store, policy and country database?"""
        made = self.made_for
        return made[0] is store and made[1] == policy and made[2] is geo


@dataclass
class _Done:
    rec: pl.DataFrame
    rej: pl.DataFrame
    quar: pl.DataFrame | None  # the rejects as quarantine rows (masked), unless few
    agg: pl.DataFrame | None
    first: Any
    last: Any


def ingest_file(
    store: Store,
    inp: LogInput,
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    progress: Tick = SILENT,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    replace: bool = False,
    caches: Caches | None = None,
) -> FileResult:
    """Ingest one input into ``store`` (the caller holds the writer lock). ``replace``: an
    earlier ingest of the same content is forgotten first (:mod:`logtool.lifecycle.forget`).
    ``caches``: shared with other inputs of the same policy and country database."""
    cat, replaced = store.catalog, False
    disk = _DiskDigest(inp, store)
    if caches is None:
        caches = Caches.new(store, policy, geo)
    elif not caches.serve(store, policy, geo):
        raise ValueError("ingest caches made for another store, policy or country database")
    enrich = caches.enrich
    rules = load_rules(policy.review_rules)
    batches = iter_batches(inp, batch_bytes, first_bytes=min(batch_bytes, FIRST_BATCH_BYTES))
    head = _head(batches)
    if disk.early and (prev := disk.duplicate(store)) is not None:  # before detection: its format may need --format
        if not replace:
            return FileResult(inp.name, "duplicate", prev["format"], duplicate_of=prev["name"])
        forget_record(store, prev, now)
        replaced = True
    if not head:
        return FileResult(inp.name, "empty")
    if fmt is None:
        fmt, _ = detect_first(pl.concat([split_overlong(b)[0] for b in head]).get_column("line"), inp.name)
    if is_conversation(fmt):  # chat-bot and call-bot records: their own stages
        if not disk.checked:
            disk.duplicate(store)  # none (a size no ingested file had), but the record needs the digest
        from logtool.lifecycle.conversations import ingest_conversations  # phone numbers: loaded when needed

        done = ingest_conversations(store, inp, policy, now, fmt, itertools.chain(_drain(head), batches), geo, progress)
        return FileResult(**done)

    # The user-agent parser compiles (~0.2 s, holding the GIL) while the first batches are parsed
    # (polars, without the GIL); it would stall the hashing above.
    warm_up()
    parser = fmt.parser()  # this input's own parser (per-file state such as W3C headers)
    stateless = isinstance(parser, Stateless)  # its batches may be parsed on worker threads
    work = _BatchWork(parser if stateless else None, policy, enrich, rules, inp.name, now, caches.signatures)
    with store.change("ingest", now) as ch:
        raw_w = ch.writer("raw")
        quar = Quarantine(ch.writer("quarantine"), inp.name, now, policy.sensitive_params)
        bg, stack = BackgroundWriter(), ExitStack()
        partial_aggs: list[pl.DataFrame] = []
        reasons: Counter[str] = Counter()
        variants: Counter[str] = Counter()
        parsed = 0
        first_ts = last_ts = None
        seen = 0

        def write_raw(rec: pl.DataFrame, seeds: dict[date, int]) -> None:  # on the writer thread
            rec = enrich.visitor_keys(rec, seeds).with_columns(pl.lit(inp.name).alias("source_file"))
            raw_w.write(conform(rec, RAW_SCHEMA))

        try:  # two batches at a time on worker threads, writing on a thread of its own
            # A regular file's next batch is read here, while both workers parse (``in_order``
            # asks for it :data:`READ_AHEAD` batches ahead of the oldest result): a reader
            # thread further ahead held a batch more in memory (~100 MiB at 1M lines) for no
            # time saved. A stateful format is parsed here, so its batches are read ahead on a
            # thread of their own; so is a pipe, whose read may block for as long as the writer
            # waits (Ctrl-C must still reach here).
            here = stateless and disk.regular
            ahead = closing(batches) if here else closing(prefetch(batches))
            wholes = itertools.chain(_drain(head), stack.enter_context(ahead))  # closed here, not when collected
            items = wholes if stateless else (parse(parser, w) for w in wholes)  # stateful: in order, here
            for done in in_order(work, ([item] for item in items), ahead=READ_AHEAD):
                rec, rej = done.rec, done.rej
                if "_variant" in rec.columns:
                    variants.update(dict(rec.get_column("_variant").drop_nulls().value_counts().iter_rows()))
                if done.agg is not None:
                    bg.submit(write_raw, rec, enrich.seeds(rec))  # salts: read on this thread
                    partial_aggs.append(done.agg)
                    if len(partial_aggs) >= 8:
                        partial_aggs = [aggregate.merge(partial_aggs, policy.top_n)]
                    parsed += rec.height
                    first_ts = done.first if first_ts is None or done.first < first_ts else first_ts
                    last_ts = done.last if last_ts is None or done.last > last_ts else last_ts
                if rej.height:
                    reasons.update(dict(rej.get_column("reason").value_counts().iter_rows()))
                    quar.add(rej, done.quar)
                progress.advance(inp.disk_read - seen)
                seen = inp.disk_read
                del done, rec, rej  # not while the next batch is awaited: the writer may be done with it
            quar.flush()
        finally:
            stack.close()
            bg.close()

        prev = None if disk.checked else disk.duplicate(store)  # (none: see _DiskDigest)
        if prev := prev or cat.files.by("fingerprint", inp.sha256):
            if not replace:
                ch.skip()
                return FileResult(inp.name, "duplicate", fmt.name, lines=inp.lines, duplicate_of=prev["name"])
            forget_record(store, prev, now)  # its own change, committed before this one
            replaced = True

        ch.writer("aggregates").write(aggregate.merge(partial_aggs, policy.top_n), date_column="date")
        result = FileResult(inp.name, "ingested", fmt.name, inp.lines, parsed, sum(reasons.values()), dict(reasons),
                            raw_w.days(), variants=dict(variants), replaced=replaced)  # fmt: skip
        ch.file_record = {
            "name": inp.name,
            "path": str(inp.path) if inp.path else None,
            "fingerprint": inp.sha256,
            "disk_sha256": inp.disk_sha256,
            "disk_size": inp.disk_bytes,
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
                     "days": result.days, "variants": result.variants}  # fmt: skip
    return result


def ingest(
    store: Store,
    inputs: list[LogInput],
    policy: Policy,
    now: datetime,
    fmt: LineFormat | None = None,
    geo: GeoDB | None = None,
    progress: Tick = SILENT,
    replace: bool = False,
) -> list[FileResult]:
    """Ingest several inputs under one writer lock; each input commits on its own. ``progress``
    counts bytes of the files on disk (its total is known when every input is a regular file)."""
    load_rules(policy.review_rules)  # a bad rules file stops ingest before it starts
    sizes = [disk_size(inp) for inp in inputs]
    progress.total(None if None in sizes else sum(s or 0 for s in sizes), "bytes")
    results = []
    with store.writing():
        caches = Caches.new(store, policy, geo)
        for inp, size in zip(inputs, sizes, strict=True):
            results.append(ingest_file(store, inp, policy, now, fmt, geo, progress, replace=replace, caches=caches))
            progress.advance(max(0, (size or 0) - inp.disk_read))  # a duplicate is not read
    return results
