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

from logtool.aggregate import FINDINGS, VISITORS, unique_visitors
from logtool.anonymize.fields import anonymise_records
from logtool.anonymize.ip import networks
from logtool.config import Policy
from logtool.holds import Hold, held_mask
from logtool.schema import AGG_SCHEMA
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
    #: Rows kept past their window because an active hold matches them.
    held_rows: int = 0


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
    """Apply the policy as of ``now`` (timezone-aware), sparing rows under active holds."""
    from logtool import holds as holds_mod

    result = RetainResult(now=now, dry_run=dry_run)
    with store.writing():
        cat = store.catalog
        if not dry_run:
            holds_mod.record_expiries(store, now)
        active = holds_mod.active(store, now)
        for day, parts in _by_day(cat.partitions("raw")).items():
            if not day_expired(day, now, policy.raw_days):
                continue
            rows = sum(p.rows for p in parts)
            day_holds, held = holds_mod.held_on_day(store, day, parts, "raw", active)
            result.held_rows += held
            if held == rows:
                continue  # everything of this day is evidence under a hold
            past_both = day_expired(day, now, policy.anonymised_days)
            (result.deleted_days if past_both else result.anonymised_days).append(day)
            if past_both:
                result.deleted_rows += rows - held
            else:
                result.anonymised_rows += rows - held
            if not dry_run:
                _process_raw_day(store, policy, day, parts, now, day_holds, delete=past_both)
        for day, parts in _by_day(cat.partitions("anonymised")).items():
            if not day_expired(day, now, policy.anonymised_days):
                continue
            rows = sum(p.rows for p in parts)
            day_holds, held = holds_mod.held_on_day(store, day, parts, "anonymised", active)
            result.held_rows += held
            if held == rows:
                continue
            result.deleted_days.append(day)
            result.deleted_rows += rows - held
            if not dry_run:
                _keep_held(store, day, parts, day_holds, now)
        if not dry_run:  # salts of days that have no raw rows left and are past the window
            raw_days = {p.date for p in cat.partitions("raw")}
            stale = [d for d in cat.salt_days() if d not in raw_days and day_expired(d, now, policy.raw_days)]
            if stale:
                with cat.transaction() as db:
                    cat.destroy_salts(db, stale)
                    cat.audit(db, now.isoformat(), "destroy-salts", {"days": stale}, {})
    result.deleted_days = sorted(set(result.deleted_days))
    return result


def _process_raw_day(
    store: Store, policy: Policy, day: str, parts: list[Partition], now: datetime, holds: list[Hold], delete: bool
) -> None:
    """Anonymise (or, past both windows, delete) a raw day; rows under a hold stay raw.

    Everything is written first, then swapped in one transaction: the day's raw partitions
    for the held rows (if any) plus the anonymised partition, the day's unique-visitor count
    (once per day) and, when no raw row of the day remains, the destruction of its salt."""
    existing = [] if delete else store.catalog.partitions("anonymised", day, day)
    secret = store.secret()
    anon_w, held_w = store.writer("anonymised"), store.writer("raw")
    new: list[Partition] = []
    any_held = False
    try:
        for raw in store.iter_parts(parts, "raw"):
            if holds:
                mask = held_mask(raw, holds, "raw")
                if mask.any():
                    any_held = True
                    held_w.write_day(day, raw.filter(mask))
                    raw = raw.filter(~mask)
            if not delete and raw.height:
                net = networks(raw.get_column("client_ip"), policy.ipv4_prefix, policy.ipv6_prefix, secret)
                anon_w.write_day(day, anonymise_records(raw, net, policy))
        for anon in store.iter_parts(existing, "anonymised"):  # a late file for a day already done
            anon_w.write_day(day, anon)
        new = anon_w.finish() + held_w.finish()
        if not _has_visitor_count(store, day):
            new += _day_aggregates(store, policy, day, parts)
    except BaseException:
        anon_w.abort()
        held_w.abort()
        store.delete_files([p.path for p in new])
        raise
    _swap(store, parts + existing, new, now, salt_days=[] if any_held else [day],
          action="delete-day" if delete else "anonymise-day")  # fmt: skip


def _keep_held(store: Store, day: str, parts: list[Partition], holds: list[Hold], now: datetime) -> None:
    """Delete an anonymised day except the rows a hold matches."""
    w = store.writer("anonymised")
    try:
        for df in store.iter_parts(parts, "anonymised"):
            if holds:
                w.write_day(day, df.filter(held_mask(df, holds, "anonymised")))
        new = w.finish()
    except BaseException:
        w.abort()
        raise
    _swap(store, parts, new, now, action="delete-day")


def _has_visitor_count(store: Store, day: str) -> bool:
    return store.read("aggregates", day, day).filter(pl.col("dimension") == VISITORS).height > 0


def _day_aggregates(store: Store, policy: Policy, day: str, parts: list[Partition]) -> list[Partition]:
    """What only the whole raw day can tell, as an aggregates partition (written, not
    committed): its exact unique-visitor count and its behavioural findings per category."""
    from logtool.review.findings import behaviour_counts
    from logtool.review.rules import load_rules

    found = behaviour_counts(store, parts, policy, load_rules(policy.review_rules))
    rows = [(VISITORS, "unique", unique_visitors(store, parts))] + [(FINDINGS, c, n) for c, n in found.items()]
    w = store.writer("aggregates")
    df = pl.DataFrame(
        [(date.fromisoformat(day), dim, key, n, 0) for dim, key, n in rows], schema=AGG_SCHEMA, orient="row"
    )
    try:
        w.write(df, date_column="date")
        return w.finish()
    except BaseException:
        w.abort()
        raise


def _swap(
    store: Store,
    old: list[Partition],
    new: list[Partition],
    now: datetime,
    salt_days: list[str] | None = None,
    action: str = "delete-day",
) -> None:
    """Replace ``old`` partitions by ``new`` (and destroy ``salt_days``) in one transaction,
    with its audit entry."""
    stamp = now.isoformat()
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
