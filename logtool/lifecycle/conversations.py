"""Ingest of conversation records (chat bot, call bot): parse, enrich, commit raw rows, the
days' aggregates and the quarantine, in one :meth:`~logtool.store.Store.change` per input.

:func:`logtool.lifecycle.ingest.ingest_file` hands an input here when its format is a
conversation format. The content fingerprint makes a re-run a no-op, as for logs. Rejected
records go to the shared quarantine stage with every personal value masked: JSON values of
personal keys, CSV fields with words in them, and whatever text redaction finds (numbers,
e-mails, IBANs, cards, addresses, IPs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import polars as pl

from logtool.anonymize.text import redact_text
from logtool.config import Policy
from logtool.enrich.conversations import enrich_conversations
from logtool.enrich.geo import GeoDB
from logtool.inputs import LogInput
from logtool.lifecycle import conv_aggregate
from logtool.progress import SILENT, Tick
from logtool.schema import CONV_RAW_SCHEMA, conform
from logtool.store import Change, Store

MAX_QUARANTINE_LINE = 4096
#: JSON string values under keys that name a person (numbers, names, contacts, client data).
PERSONAL_KEY = (
    r'(?i)"((?:from|to)(?:_formatted)?|forwarded_from|caller_name|client_ip|user_agent|name|e-?mail|phone|contact\w*|'
    r'media_participant_id|customer_key|[a-z_]*(?:name|email|phone|address)[a-z_]*)"(\s*:\s*)"(?:[^"\\]|\\.)*"'
)
#: CSV fields with a word and a blank in them (a caller's name) in a row that did not parse.
CSV_WORDS = r"(^|,)([^,]*[A-Za-zÀ-ÿ][^,]*\s[^,]*)"


def quarantine_rows(rejects: pl.DataFrame, source: str, policy: Policy) -> pl.DataFrame:
    """Rejected conversation records, masked: nothing personal reaches the quarantine."""
    line = pl.col("line").str.slice(0, MAX_QUARANTINE_LINE)
    keyed = line.str.replace_all(PERSONAL_KEY, '"$1"$2"<redacted>"')
    is_json = line.str.strip_chars_start().str.contains(r"^[\[{]")
    masked = rejects.select(pl.when(is_json).then(keyed).otherwise(keyed.str.replace_all(CSV_WORDS, "${1}<text>")))
    clean = redact_text(masked.to_series().rename("line"), policy.sensitive_params, policy.phone_region)
    return rejects.select(pl.lit(source).alias("source_file"), "line_no", "reason").with_columns(clean.alias("line"))


def rebuild_aggregates(store: Store, ch: Change, days: list[str], new: list[pl.DataFrame]) -> None:
    """Replace the conversation aggregates of ``days`` by ones computed from all their rows
    (committed raw and anonymised rows, and ``new``). A day whose rows are gone already keeps
    its aggregates and has the new rows' counts added."""
    fresh = pl.concat([f.select(conv_aggregate.COLUMNS) for f in new]) if new else None
    for day in days:
        stored = [store.read(s, day, day, columns=conv_aggregate.COLUMNS) for s in ("conv_raw", "conv_anonymised")]
        mine = fresh.filter(pl.col("ts").dt.date().cast(pl.String) == day) if fresh is not None else None
        rows = pl.concat([f for f in [*stored, mine] if f is not None and f.height])
        old_parts = store.parts("conv_aggregates", day, day)
        agg = conv_aggregate.daily(rows)
        if old_parts and not any(f.height for f in stored):
            agg = conv_aggregate.add(store.read_parts(old_parts, "conv_aggregates"), agg)
        ch.retire(old_parts)
        ch.writer("conv_aggregates").write(agg, date_column="date")


def ingest_conversations(
    store: Store,
    inp: LogInput,
    policy: Policy,
    now: datetime,
    fmt: object,
    batches: Iterator[pl.DataFrame],
    geo: GeoDB | None = None,
    progress: Tick = SILENT,
) -> dict[str, Any]:
    """Ingest one conversation input (``batches`` are its line batches, the first included);
    returns the fields of the ingest's :class:`~logtool.lifecycle.ingest.FileResult`."""
    cat = store.catalog
    today = now.date().isoformat()
    with store.change("ingest", now) as ch:
        raw_w, quar_w = ch.writer("conv_raw"), ch.writer("quarantine")
        reasons: Counter[str] = Counter()
        kept: list[pl.DataFrame] = []
        parsed = seen = 0
        first_ts = last_ts = None

        def counted() -> Iterator[pl.DataFrame]:
            nonlocal seen
            for b in batches:
                yield b
                progress.advance(inp.disk_read - seen)
                seen = inp.disk_read

        for rec, rej in fmt.parse_stream(counted()):  # type: ignore[attr-defined]
            if rec.height:
                rec = conform(enrich_conversations(rec, policy, geo), CONV_RAW_SCHEMA)
                rec = rec.with_columns(pl.lit(inp.name).alias("source_file"))
                raw_w.write(rec)
                kept.append(rec.select(conv_aggregate.COLUMNS))
                parsed += rec.height
                lo, hi = rec.get_column("ts").min(), rec.get_column("ts").max()
                first_ts = lo if first_ts is None or lo < first_ts else first_ts  # type: ignore[operator]
                last_ts = hi if last_ts is None or hi > last_ts else last_ts  # type: ignore[operator]
            if rej.height:
                reasons.update(dict(rej.get_column("reason").value_counts().iter_rows()))
                quar_w.write_day(today, quarantine_rows(rej, inp.name, policy))
        for _ in batches:  # a format may stop early: read the rest for the fingerprint
            pass
        if prev := cat.files.by("fingerprint", inp.sha256):
            ch.skip()
            return {"name": inp.name, "status": "duplicate", "format": fmt.name, "lines": inp.lines,  # type: ignore[attr-defined]
                    "duplicate_of": prev["name"]}  # fmt: skip
        days = raw_w.days()
        rebuild_aggregates(store, ch, days, kept)
        result = {"name": inp.name, "status": "ingested", "format": fmt.name, "lines": inp.lines,  # type: ignore[attr-defined]
                  "parsed": parsed, "rejected": sum(reasons.values()), "reasons": dict(reasons), "days": days}  # fmt: skip
        ch.file_record = {
            "name": inp.name, "path": str(inp.path) if inp.path else None, "fingerprint": inp.sha256,
            "disk_sha256": inp.disk_sha256, "disk_size": inp.disk_bytes, "compression": inp.compression,
            "format": result["format"],
            "lines": inp.lines, "parsed": parsed, "rejected": result["rejected"],
            "first_ts": first_ts.isoformat() if first_ts else None, "last_ts": last_ts.isoformat() if last_ts else None,
            "ingested_at": now.isoformat(),
        }  # fmt: skip
        ch.quarantine_counts = dict(reasons)
        ch.params = {"file": inp.name, "fingerprint": inp.sha256[:16], "format": result["format"]}
        ch.counts = {"records": parsed, "quarantined": result["rejected"], "days": days, "stage": "conv_raw"}
    return result
