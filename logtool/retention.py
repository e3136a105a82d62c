"""Retention: raw days past the security window become anonymised; old anonymised days go.

A day leaves a stage once *all* of it is older than the stage's window, so a record lives in
the raw stage for at least ``raw_days`` and at most ``raw_days + 1`` days. Each day is one
crash-safe step: the anonymised partition is written and fsynced, then one catalog transaction
swaps the raw partitions for it; the raw files are unlinked only after that commit (an
interruption leaves orphans that the next writer removes). Aggregates are never touched.
Running ``retain`` twice with the same ``now`` changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl

from logtool.aggregate import VISITORS, unique_visitors
from logtool.anonymize.fields import anonymise_records
from logtool.anonymize.ip import networks
from logtool.config import Policy
from logtool.store import Partition, Store


@dataclass
class RetainResult:
    """What a retention run did (or, with ``dry_run``, would do)."""

    now: datetime
    dry_run: bool
    anonymised_days: list[str] = field(default_factory=list)
    anonymised_rows: int = 0
    deleted_days: list[str] = field(default_factory=list)
    deleted_rows: int = 0


def day_expired(day: str, now: datetime, keep_days: int) -> bool:
    """True when the whole UTC ``day`` is older than ``keep_days`` at ``now``."""
    end_of_day = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return end_of_day <= now - timedelta(days=keep_days)


def _by_day(parts: list[Partition]) -> dict[str, list[Partition]]:
    out: dict[str, list[Partition]] = {}
    for p in parts:
        out.setdefault(p.date, []).append(p)
    return out


def retain(store: Store, policy: Policy, now: datetime, dry_run: bool = False) -> RetainResult:
    """Apply the policy as of ``now`` (timezone-aware)."""
    result = RetainResult(now=now, dry_run=dry_run)
    with store.writing():
        cat = store.catalog
        for day, parts in _by_day(cat.partitions("raw")).items():
            if not day_expired(day, now, policy.raw_days):
                continue
            rows = sum(p.rows for p in parts)
            if day_expired(day, now, policy.anonymised_days):
                # Past both windows already (a late or re-ingested old file): delete outright.
                result.deleted_days.append(day)
                result.deleted_rows += rows
                if not dry_run:
                    _swap(store, parts, _visitor_aggregate(store, day, parts), now, salt_days=[day])
                continue
            result.anonymised_days.append(day)
            result.anonymised_rows += rows
            if not dry_run:
                _anonymise_day(store, policy, day, parts, now)
        for day, parts in _by_day(cat.partitions("anonymised")).items():
            if day_expired(day, now, policy.anonymised_days):
                result.deleted_days.append(day)
                result.deleted_rows += sum(p.rows for p in parts)
                if not dry_run:
                    _swap(store, parts, [], now)
        if not dry_run:  # salts of days that have no raw rows left and are past the window
            raw_days = {p.date for p in cat.partitions("raw")}
            stale = [d for d in cat.salt_days() if d not in raw_days and day_expired(d, now, policy.raw_days)]
            if stale:
                with cat.transaction() as db:
                    cat.destroy_salts(db, stale)
                    cat.audit(db, now.isoformat(), "destroy-salts", {"days": stale}, {})
    result.deleted_days.sort()
    return result


def _visitor_aggregate(store: Store, day: str, parts: list[Partition]) -> list[Partition]:
    """The day's exact unique-visitor count, as an aggregates partition (written, not committed)."""
    n = unique_visitors(store, parts)
    w = store.writer("aggregates")
    df = pl.DataFrame(
        {"date": [date.fromisoformat(day)], "dimension": [VISITORS], "key": ["unique"], "requests": [n], "bytes": [0]}
    )
    try:
        w.write(df, date_column="date")
        return w.finish()
    except BaseException:
        w.abort()
        raise


def _anonymise_day(store: Store, policy: Policy, day: str, parts: list[Partition], now: datetime) -> None:
    """Stream the day's raw partitions (and any earlier anonymised one) into one new partition."""
    existing = store.catalog.partitions("anonymised", day, day)
    secret = store.secret()
    w = store.writer("anonymised")
    try:
        for raw in store.iter_parts(parts, "raw"):
            net = networks(raw.get_column("client_ip"), policy.ipv4_prefix, policy.ipv6_prefix, secret)
            w.write_day(day, anonymise_records(raw, net, policy))
        for anon in store.iter_parts(existing, "anonymised"):  # a late file for a day already done
            w.write_day(day, anon)
        new = w.finish()
        new += _visitor_aggregate(store, day, parts)
    except BaseException:
        w.abort()
        store.delete_files([p.path for p in w_done(new)])
        raise
    _swap(store, parts + existing, new, now, salt_days=[day])


def w_done(new: object) -> list[Partition]:
    return new if isinstance(new, list) else []


def _swap(
    store: Store,
    old: list[Partition],
    new: list[Partition],
    now: datetime,
    salt_days: list[str] | None = None,
) -> None:
    """Replace ``old`` partitions by ``new`` (and destroy ``salt_days``) in one transaction,
    with its audit entry."""
    stamp = now.isoformat()
    action = "anonymise-day" if any(p.stage == "anonymised" for p in new) else "delete-day"
    days = sorted({p.date for p in old})
    counts = {
        "rows_removed": {s: sum(p.rows for p in old if p.stage == s) for s in sorted({p.stage for p in old})},
        "rows_written": sum(p.rows for p in new if p.stage == "anonymised"),
        "salts_destroyed": salt_days or [],
    }
    try:
        with store.catalog.transaction() as db:
            for p in old:
                store.catalog.delete_partition(db, p.path)
            for p in new:
                store.catalog.insert_partition(db, p, stamp)
            store.catalog.destroy_salts(db, salt_days or [])
            store.catalog.audit(db, stamp, action, {"days": days}, counts)
    except BaseException:
        store.delete_files([p.path for p in new])
        raise
    store.delete_files([p.path for p in old])
