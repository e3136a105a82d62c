"""Undo an ingest: ``logtool forget FILE`` (and ``ingest --replace``).

Forgetting a file drops, in one crash-safe change with its audit entry, every partition its
ingest committed (raw rows, quarantined lines, that ingest's aggregates) and its record, so the
file can be ingested again — with the right ``--format`` after a wrong one had quarantined
everything. It is exact only while the file's rows are as the ingest wrote them: once retention
anonymised them or an erasure rewrote their day, the rows are no longer the file's alone, and
forgetting is refused (nothing changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logtool.errors import ConfigError
from logtool.inputs import LogInput, file_digest, is_regular, iter_batches
from logtool.store import Store


@dataclass
class ForgetResult:
    name: str
    ingested_at: str
    partitions: int = 0
    rows: dict[str, int] = field(default_factory=dict)


def find_record(store: Store, inp: LogInput) -> dict[str, Any] | None:
    """The catalog record of the ingest of ``inp``'s content (by the bytes on disk, else by the
    decompressed content, the way ``ingest`` recognises a file it has seen)."""
    if is_regular(inp.path):
        assert inp.path is not None
        if rec := store.catalog.files.by("disk_sha256", file_digest(inp.path)):
            return rec
    for _ in iter_batches(inp):  # reads it once: the fingerprint is computed while reading
        pass
    return store.catalog.files.by("fingerprint", inp.sha256)


def forget_record(store: Store, rec: dict[str, Any], now: datetime) -> ForgetResult:
    """Drop everything the ingest ``rec`` committed (see the module docstring)."""
    res = ForgetResult(rec["name"], rec["ingested_at"])
    params = {"file": rec["name"], "fingerprint": rec["fingerprint"][:16], "ingested_at": rec["ingested_at"]}
    with store.change("forget", now, params) as ch:
        parts = store.catalog.partitions.of_file(rec["id"])
        raw = sum(p.rows for p in parts if p.stage == "raw")
        quarantined = sum(p.rows for p in parts if p.stage == "quarantine")
        if raw != (rec["parsed"] or 0) or quarantined != (rec["rejected"] or 0):
            raise ConfigError(
                f"{rec['name']}: {rec['parsed'] or 0:,} rows were ingested but {raw:,} are still as the ingest wrote "
                "them (retention or an erasure has since rewritten their days): it cannot be forgotten exactly"
            )
        ch.retire(parts)
        file_id = int(rec["id"])
        ch.then(lambda cat: cat.files.delete(file_id))
        res.partitions = len(parts)
        res.rows = {s: sum(p.rows for p in parts if p.stage == s) for s in sorted({p.stage for p in parts})}
        ch.counts = {"partitions": res.partitions, "rows_removed": res.rows}
    return res


def forget(store: Store, inp: LogInput, now: datetime) -> ForgetResult:
    """Forget the ingest of ``inp`` (a file that was ingested, found by its content)."""
    with store.writing():
        rec = find_record(store, inp)
        if rec is None:
            raise ConfigError(f"{inp.name}: no ingested file has this content (nothing to forget)")
        return forget_record(store, rec, now)
