"""Data-subject requests (GDPR Art. 15, 17, 18, 20) for one IP address.

A row is linked to a subject when its client address, or any element of its X-Forwarded-For
list, is that address in any spelling (ports, IPv4-mapped and so on). Only the raw stage holds
such links: anonymised rows keep networks, aggregates only counts, and quarantine lines are
masked at ingest. The audit trail names a subject only by a keyed hash (:func:`subject_key`).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import polars as pl

from logtool.errors import ConfigError
from logtool.governance.disclosure import disclose
from logtool.lifecycle.holdmatch import active, held_mask
from logtool.net import IPAddress, parse_ip
from logtool.schema import iso_times
from logtool.store import Partition, Store

LEGAL_GROUND_HOLD = (
    "Art. 17(3)(e) GDPR: retained for the establishment, exercise or defence of legal claims (incident hold)"
)


def subject_address(text: str) -> IPAddress:
    addr = parse_ip(text)
    if addr is None:
        raise ConfigError(f"--ip: not an IP address: {text!r}")
    return addr


def subject_key(store: Store, addr: IPAddress) -> str:
    """A keyed, non-reversible name for the subject (audit entries, restriction list)."""
    return "subj-" + hmac.new(store.secret(), str(addr).encode(), hashlib.sha256).hexdigest()[:24]


def _linked(values: pl.Series, addr: IPAddress, is_list: bool) -> pl.Series:
    """Per row: does this client (or X-Forwarded-For list) contain ``addr``? Parsed once per
    distinct value."""
    uniq = values.drop_nulls().unique()
    hits = []
    for v in uniq.to_list():
        items = [x.strip() for x in v.split(",")] if is_list else [v]
        hits.append(any(parse_ip(x) == addr for x in items))
    mapping = pl.DataFrame({"v": uniq, "h": pl.Series(hits, dtype=pl.Boolean)})
    return pl.DataFrame({"v": values}).join(mapping, on="v", how="left", maintain_order="left")["h"].fill_null(False)


def linked_mask(df: pl.DataFrame, addr: IPAddress) -> pl.Series:
    return _linked(df["client_ip"], addr, False) | _linked(df["xff"], addr, True)


def _raw_parts(store: Store, date_from: str | None, date_to: str | None) -> list[Partition]:
    return store.parts("raw", date_from, date_to)


def _subject_rows(store: Store, addr: IPAddress, date_from: str | None, date_to: str | None) -> Iterator[pl.DataFrame]:
    for df in store.iter_parts(_raw_parts(store, date_from, date_to), "raw"):
        rows = df.filter(linked_mask(df, addr))
        if rows.height:
            yield rows


def find(
    store: Store, ip: str, now: datetime, date_from: str | None = None, date_to: str | None = None
) -> dict[str, Any]:
    """What the store holds about an address (Art. 15), summarised."""
    addr = subject_address(ip)
    frames = list(_subject_rows(store, addr, date_from, date_to))
    rows = pl.concat(frames) if frames else None
    holds = active(store, now)
    held_by = []
    if rows is not None:
        for h in holds:
            n = int(held_mask(rows, [h], "raw").sum())
            if n:
                held_by.append({"hold": h.id, "rows": n, "expires_at": h.expires_at.isoformat()})
    return {
        "subject": subject_key(store, addr),
        "raw_rows": 0 if rows is None else rows.height,
        "days": [] if rows is None else sorted({d.isoformat() for d in rows["ts"].dt.date().unique().to_list()}),
        "first_seen": None if rows is None else rows["ts"].min().isoformat(),  # type: ignore[union-attr]
        "last_seen": None if rows is None else rows["ts"].max().isoformat(),  # type: ignore[union-attr]
        "quarantine_rows": 0,
        "quarantine_note": "quarantined lines are stored with every address masked: none can be linked",
        "anonymised_note": "anonymised rows keep only the network; aggregates only counts",
        "held_by": held_by,
        "restricted": is_restricted(store, addr),
    }


def export(store: Store, ip: str, out: BinaryIO, fmt: str, now: datetime) -> int:
    """A machine-readable copy of every row linked to the address (Art. 15 and 20)."""
    addr = subject_address(ip)
    if fmt not in ("json", "csv"):
        raise ConfigError(f"unknown format {fmt!r}: json or csv")
    with disclose(store, "subject-export", now, subject=subject_key(store, addr), format=fmt) as d:
        frames = list(_subject_rows(store, addr, None, None))
        rows = pl.concat(frames) if frames else store.read_parts([], "raw")
        if fmt == "json":
            doc = {"subject_ip": str(addr), "exported_at": now.isoformat(), "rows": iso_times(rows).to_dicts()}
            out.write(json.dumps(doc, indent=2, default=str).encode())
        else:
            buf = io.BytesIO()
            iso_times(rows).write_csv(buf)
            out.write(buf.getvalue())
        d.rows = rows.height
    return rows.height


@dataclass
class EraseResult:
    subject: str
    erased_rows: int = 0
    kept_rows: int = 0
    kept_by_holds: dict[str, int] = field(default_factory=dict)
    legal_ground: str | None = None
    dry_run: bool = False


def erase(store: Store, ip: str, now: datetime, dry_run: bool = False) -> EraseResult:
    """Delete every raw row linked to the address (Art. 17), except rows under an active hold.

    Each day is rewritten without the subject's rows (temp file, fsync, rename) and swapped in
    one catalog transaction with its audit entry: a crash leaves the old or the new day, never
    a mix. Aggregates are unchanged (they hold no personal data)."""
    addr = subject_address(ip)
    key = subject_key(store, addr)
    result = EraseResult(subject=key, dry_run=dry_run)
    holds = active(store, now)
    with store.writing():
        by_day: dict[str, list[Partition]] = {}
        for p in _raw_parts(store, None, None):
            by_day.setdefault(p.date, []).append(p)
        for day, parts in sorted(by_day.items()):
            with store.change("subject-erase-day", now, {"days": [day]}) as ch:
                w = ch.writer("raw")
                erased = kept = 0
                for df in store.iter_parts(parts, "raw"):
                    linked = linked_mask(df, addr)
                    if not linked.any():
                        w.write_day(day, df)
                        continue
                    held = held_mask(df, holds, "raw") & linked if holds else linked & False
                    for h in holds:
                        n = int((held_mask(df, [h], "raw") & linked).sum())
                        if n:
                            result.kept_by_holds[h.id] = result.kept_by_holds.get(h.id, 0) + n
                    erased += int((linked & ~held).sum())
                    kept += int(held.sum())
                    w.write_day(day, df.filter(~linked | held))
                if erased == 0 or dry_run:
                    ch.skip()
                else:
                    ch.retire(parts)
                    ch.counts = {"rows_removed": {"raw": erased}, "rows_written": 0, "salts_destroyed": []}
            result.erased_rows += erased
            result.kept_rows += kept
        if result.kept_by_holds:
            result.legal_ground = LEGAL_GROUND_HOLD
        if not dry_run:
            with store.change("subject-erase", now, {"subject": key}) as ch:
                ch.counts = {"erased": result.erased_rows, "kept_by_holds": result.kept_by_holds}
    return result


# restriction (Art. 18) ------------------------------------------------------------------------
def is_restricted(store: Store, addr: IPAddress) -> bool:
    return store.catalog.restricted.has(subject_key(store, addr))


def restrict(store: Store, ip: str, now: datetime, on: bool = True) -> str:
    """Mark (or unmark) a subject as restricted: its rows are kept but left out of exports."""
    addr = subject_address(ip)
    key = subject_key(store, addr)
    with store.change("subject-restrict" if on else "subject-unrestrict", now, {"subject": key}) as ch:
        if on:
            ch.then(lambda cat: cat.restricted.add(key, now.isoformat()))
        else:
            ch.then(lambda cat: cat.restricted.remove(key))
    return key


def restricted_keys(store: Store) -> set[str]:
    return store.catalog.restricted.keys()


def unrestricted(store: Store, df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (raw stage rows) without the rows of restricted subjects."""
    keys = restricted_keys(store)
    if not keys or df.height == 0:
        return df
    uniq = df["client_ip"].drop_nulls().unique()
    blocked = [v for v in uniq.to_list() if (a := parse_ip(v)) is not None and subject_key(store, a) in keys]
    return df.filter(~pl.col("client_ip").is_in(blocked))
