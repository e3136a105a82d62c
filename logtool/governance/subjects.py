"""Data-subject requests (GDPR Art. 15, 17, 18, 20) for an IP address, a phone number and/or
an e-mail address, over web logs and conversation records.

A log row is linked to a subject when its client address, or any element of its X-Forwarded-For
list, is the subject's address in any spelling (ports, IPv4-mapped and so on). Conversation
records are linked by address, number or e-mail, a whole conversation at a time
(:mod:`logtool.governance.conv_subjects`); so a chat session from the address joins the
subject's log rows in one answer. Only the raw stages hold such links: anonymised rows keep
networks and number areas, aggregates only counts, and quarantine lines are masked at ingest.
The audit trail names a subject only by a keyed hash (:func:`subject_key`).
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
from logtool.escape import csv_safe_frame
from logtool.governance import conv_subjects as conv
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


def request_key(store: Store, s: conv.Subject) -> str:
    """The keyed name of a request's subject: as :func:`subject_key` for an address alone, else
    over all its identifiers."""
    ids = s.identifiers()
    if len(ids) == 1:
        return conv.identifier_key(store, *ids[0])
    msg = ";".join(f"{k}={v}" for k, v in ids)
    return "subj-" + hmac.new(store.secret(), msg.encode(), hashlib.sha256).hexdigest()[:24]


def _subject(ip: str | None, phone: str | None, email: str | None, region: str) -> conv.Subject:
    return conv.subject_of(ip, phone, email, region)


def _conv_summary(store: Store, s: conv.Subject, region: str, now: datetime, date_from: str | None,
                  date_to: str | None) -> dict[str, Any]:  # fmt: skip
    frames = list(conv.subject_records(store, s, region, date_from, date_to))
    rows = pl.concat(frames) if frames else None
    held_by = []
    if rows is not None:
        for h in active(store, now):
            n = int(held_mask(rows, [h], "conv_raw").sum())
            if n:
                held_by.append({"hold": h.id, "records": n, "expires_at": h.expires_at.isoformat()})
    kinds = {} if rows is None else dict(rows.get_column("kind").value_counts().iter_rows())
    return {
        "records": 0 if rows is None else rows.height,
        "conversations": 0 if rows is None else rows.select("channel", "conversation_id").n_unique(),
        "by_kind": kinds,
        "days": [] if rows is None else sorted({d.isoformat() for d in rows["ts"].dt.date().unique().to_list()}),
        "held_by": held_by,
        "anonymised_note": "anonymised conversation records keep only number areas and redacted text: none can be linked",
    }


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


def subject_mask(df: pl.DataFrame, s: conv.Subject, region: str = "DE") -> pl.Series:
    """Per raw log row: is it the subject's? By address (client, X-Forwarded-For), or by the
    e-mail address or phone number in its URL."""
    mask = linked_mask(df, s.ip) if s.ip is not None else pl.repeat(False, df.height, eager=True)
    if s.email is not None or s.phone is not None:
        mask = mask | conv.url_mask(df, s, region)
    return mask


def _subject_rows(store: Store, s: conv.Subject, region: str, date_from: str | None,
                  date_to: str | None) -> Iterator[pl.DataFrame]:  # fmt: skip
    for df in store.iter_parts(_raw_parts(store, date_from, date_to), "raw"):
        rows = df.filter(subject_mask(df, s, region))
        if rows.height:
            yield rows


def find(
    store: Store,
    ip: str | None,
    now: datetime,
    date_from: str | None = None,
    date_to: str | None = None,
    *,
    phone: str | None = None,
    email: str | None = None,
    region: str = "DE",
) -> dict[str, Any]:
    """What the store holds about a subject (Art. 15), summarised: log rows (by address) and
    conversation records (by address, number or e-mail)."""
    s = _subject(ip, phone, email, region)
    frames = list(_subject_rows(store, s, region, date_from, date_to))
    rows = pl.concat(frames) if frames else None
    holds = active(store, now)
    held_by = []
    if rows is not None:
        for h in holds:
            n = int(held_mask(rows, [h], "raw").sum())
            if n:
                held_by.append({"hold": h.id, "rows": n, "expires_at": h.expires_at.isoformat()})
    return {
        "subject": request_key(store, s),
        "identifiers": [k for k, _ in s.identifiers()],
        "raw_rows": 0 if rows is None else rows.height,
        "days": [] if rows is None else sorted({d.isoformat() for d in rows["ts"].dt.date().unique().to_list()}),
        "first_seen": None if rows is None else rows["ts"].min().isoformat(),  # type: ignore[union-attr]
        "last_seen": None if rows is None else rows["ts"].max().isoformat(),  # type: ignore[union-attr]
        "quarantine_rows": 0,
        "quarantine_note": "quarantined lines are stored with every address masked: none can be linked",
        "anonymised_note": "anonymised rows keep only the network; aggregates only counts",
        "held_by": held_by,
        "restricted": any(store.catalog.restricted.has(conv.identifier_key(store, *i)) for i in s.identifiers()),
        "conversations": _conv_summary(store, s, region, now, date_from, date_to),
    }


def export(
    store: Store,
    ip: str | None,
    out: BinaryIO,
    fmt: str,
    now: datetime,
    *,
    phone: str | None = None,
    email: str | None = None,
    region: str = "DE",
) -> int:
    """A machine-readable copy of every log row and conversation record linked to the subject
    (Art. 15 and 20). JSON: ``rows`` (web-log rows) and ``conversations`` (records); CSV: one
    table, its first column ``dataset`` (``web_log`` or ``conversation``) when there are both."""
    s = _subject(ip, phone, email, region)
    addr = s.ip
    if fmt not in ("json", "csv"):
        raise ConfigError(f"unknown format {fmt!r}: json or csv")
    with disclose(store, "subject-export", now, subject=request_key(store, s), format=fmt) as d:
        frames = list(_subject_rows(store, s, region, None, None))
        rows = pl.concat(frames) if frames else store.read_parts([], "raw")
        cframes = list(conv.subject_records(store, s, region))
        crows = pl.concat(cframes) if cframes else store.read_parts([], "conv_raw")
        if fmt == "json":
            doc = {"subject_ip": str(addr) if addr else None, "subject": dict(s.identifiers()),
                   "exported_at": now.isoformat(), "rows": iso_times(rows).to_dicts(),
                   "conversations": iso_times(crows).to_dicts()}  # fmt: skip
            out.write(json.dumps(doc, indent=2, default=str).encode())
        else:
            table = rows
            if crows.height:  # one table: the kinds of data side by side, told apart by ``dataset``
                table = pl.concat([rows.select(pl.lit("web_log").alias("dataset"), pl.all()),
                                   crows.select(pl.lit("conversation").alias("dataset"), pl.all())], how="diagonal_relaxed")  # fmt: skip
            buf = io.BytesIO()
            csv_safe_frame(iso_times(table)).write_csv(buf)  # no cell a spreadsheet would run as a formula
            out.write(buf.getvalue())
        d.rows = rows.height + crows.height
    return rows.height + crows.height


@dataclass
class EraseResult:
    subject: str
    erased_rows: int = 0
    kept_rows: int = 0
    kept_by_holds: dict[str, int] = field(default_factory=dict)
    legal_ground: str | None = None
    dry_run: bool = False
    #: Conversation records erased and kept under holds (counted in ``kept_by_holds`` too).
    erased_records: int = 0
    kept_records: int = 0


def erase(
    store: Store,
    ip: str | None,
    now: datetime,
    dry_run: bool = False,
    *,
    phone: str | None = None,
    email: str | None = None,
    region: str = "DE",
) -> EraseResult:
    """Delete every raw log row and conversation record linked to the subject (Art. 17),
    except rows under an active hold (named in the result, with the legal ground).

    Each day is rewritten without the subject's rows (temp file, fsync, rename) and swapped in
    one catalog transaction with its audit entry: a crash leaves the old or the new day, never
    a mix. Aggregates are unchanged (they hold no personal data)."""
    s = _subject(ip, phone, email, region)
    key = request_key(store, s)
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
                    linked = subject_mask(df, s, region)
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
        _erase_conversations(store, s, region, now, holds, result)
        if result.kept_by_holds:
            result.legal_ground = LEGAL_GROUND_HOLD
        if not dry_run:
            with store.change("subject-erase", now, {"subject": key}) as ch:
                ch.counts = {"erased": result.erased_rows, "erased_records": result.erased_records,
                             "kept_by_holds": result.kept_by_holds}  # fmt: skip
    return result


def _erase_conversations(store: Store, s: conv.Subject, region: str, now: datetime, holds: list[Any],
                         result: EraseResult) -> None:  # fmt: skip
    """Every record of the subject's conversations out of ``conv_raw``, day by day, held ones kept."""
    convs = conv.linked_conversations(store, s, region)
    if not convs:
        return
    by_day: dict[str, list[Partition]] = {}
    for p in store.parts("conv_raw"):
        by_day.setdefault(p.date, []).append(p)
    for day, parts in sorted(by_day.items()):
        with store.change("subject-erase-day", now, {"days": [day], "stage": "conv_raw"}) as ch:
            w = ch.writer("conv_raw")
            erased = kept = 0
            for df in store.iter_parts(parts, "conv_raw"):
                linked = conv.in_conversations(df, convs)
                if not linked.any():
                    w.write_day(day, df)
                    continue
                held = linked & held_mask(df, holds, "conv_raw") if holds else linked & False
                for h in holds:
                    n = int((held_mask(df, [h], "conv_raw") & linked).sum())
                    if n:
                        result.kept_by_holds[h.id] = result.kept_by_holds.get(h.id, 0) + n
                erased += int((linked & ~held).sum())
                kept += int(held.sum())
                w.write_day(day, df.filter(~linked | held))
            if erased == 0 or result.dry_run:
                ch.skip()
            else:
                ch.retire(parts)
                ch.counts = {"rows_removed": {"conv_raw": erased}, "rows_written": 0}
        result.erased_records += erased
        result.kept_records += kept


# restriction (Art. 18) ------------------------------------------------------------------------
def is_restricted(store: Store, addr: IPAddress) -> bool:
    return store.catalog.restricted.has(subject_key(store, addr))


def restrict(
    store: Store,
    ip: str | None,
    now: datetime,
    on: bool = True,
    *,
    phone: str | None = None,
    email: str | None = None,
    region: str = "DE",
) -> str:
    """Mark (or unmark) a subject as restricted: its rows are kept but left out of exports.
    Each identifier is listed on its own, so a later request by any of them sees it."""
    s = _subject(ip, phone, email, region)
    key = request_key(store, s)
    keys = [conv.identifier_key(store, *i) for i in s.identifiers()]
    with store.change("subject-restrict" if on else "subject-unrestrict", now, {"subject": key}) as ch:
        for k in keys:
            if on:
                ch.then(lambda cat, k=k: cat.restricted.add(k, now.isoformat()))
            else:
                ch.then(lambda cat, k=k: cat.restricted.remove(k))
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
