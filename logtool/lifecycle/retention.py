"""Retention: raw days past the security window become anonymised; old anonymised days go.

A day leaves a stage once *all* of it is older than the stage's window, so a record lives in
the raw stage for at least ``raw_days`` and at most ``raw_days + 1`` days. Each day is one
crash-safe :meth:`~logtool.store.Store.change`: the anonymised partition is written and
fsynced, then one catalog transaction swaps the raw partitions for it; the raw files are
unlinked only after that commit. Aggregates are never touched, except that a day leaving the
raw stage adds what only the whole raw day can tell (unique visitors, behavioural findings).
Quarantined lines follow the raw window too (:mod:`logtool.lifecycle.quarantine`). Running
``retain`` twice with the same ``now`` changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from logtool.anonymize.fields import anonymise_records, vhost_networks
from logtool.config import Policy
from logtool.detect.findings import BEHAVIOURS, counts, review_frame
from logtool.detect.rules import load_rules
from logtool.errors import EXIT_FINDINGS, EXIT_OK, DamagedPartitionError
from logtool.lifecycle import quarantine
from logtool.lifecycle.aggregate import FINDINGS, VISITORS, merge_plain, unique_visitors, unique_visitors_by_vhost  # noqa: F401
from logtool.lifecycle.conv_retention import ConvRetainResult, retain_conversations
from logtool.lifecycle.holdmatch import active, held_mask, held_on_day, record_expiries
from logtool.net import networks
from logtool.progress import SILENT, Tick
from logtool.schema import AGG_SCHEMA
from logtool.store import Change, Hold, Partition, Store
from logtool.timespec import day_expired

#: Rows reviewed at once when counting a whole day's findings (memory stays bounded).
SHARD_ROWS = 2_000_000
_DAY_COLUMNS = ["ts", "client_ip", "client_net", "method", "path", "query", "status", "user_agent", "vhost"]


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
    #: What happened to conversation records (their own windows).
    conversations: ConvRetainResult = field(default_factory=ConvRetainResult)
    #: Quarantine days (and rows) deleted with the raw window; rows kept under a hold.
    quarantine_days: list[str] = field(default_factory=list)
    quarantine_rows: int = 0
    quarantine_held_rows: int = 0
    #: Days left as they were because a partition is damaged: (stage/day, partition, why).
    damaged: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when a damaged partition kept a day from being processed (every other day was)."""
        return EXIT_FINDINGS if self.damaged else EXIT_OK


def _by_day(parts: list[Partition]) -> dict[str, list[Partition]]:
    out: dict[str, list[Partition]] = {}
    for p in parts:
        out.setdefault(p.date, []).append(p)
    return out


def retain(store: Store, policy: Policy, now: datetime, dry_run: bool = False, progress: Tick = SILENT) -> RetainResult:
    """Apply the policy as of ``now`` (timezone-aware), sparing rows under active holds.
    ``progress`` counts the days looked at."""
    result = RetainResult(now=now, dry_run=dry_run)
    load_rules(policy.review_rules)  # a bad rules file stops retention before it starts
    with store.writing():
        if not dry_run:
            record_expiries(store, now)
        holds = active(store, now)
        raw_due = {d: ps for d, ps in _by_day(store.parts("raw")).items() if day_expired(d, now, policy.raw_days)}
        anon_due = {
            d: ps for d, ps in _by_day(store.parts("anonymised")).items() if day_expired(d, now, policy.anonymised_days)
        }
        progress.total(len(raw_due) + len(anon_due), "days")
        for day, parts in raw_due.items():
            progress.advance()
            try:
                store.check(parts, "raw")
                rows = sum(p.rows for p in parts)
                day_holds, held = held_on_day(store, day, parts, "raw", holds)
                if held == rows:
                    result.held_rows += held
                    continue  # everything of this day is evidence under a hold
                past_both = day_expired(day, now, policy.anonymised_days)
                if not dry_run:
                    _process_raw_day(store, policy, day, parts, now, day_holds, delete=past_both)
            except DamagedPartitionError as e:  # every other day is still processed
                result.damaged.append((f"raw/{day}", e.path, e.why))
                continue
            result.held_rows += held
            (result.deleted_days if past_both else result.anonymised_days).append(day)
            if past_both:
                result.deleted_rows += rows - held
            else:
                result.anonymised_rows += rows - held
        for day, parts in anon_due.items():
            progress.advance()
            try:
                store.check(parts, "anonymised")
                rows = sum(p.rows for p in parts)
                day_holds, held = held_on_day(store, day, parts, "anonymised", holds)
                if held == rows:
                    result.held_rows += held
                    continue
                if not dry_run:
                    _keep_held(store, day, parts, day_holds, now)
            except DamagedPartitionError as e:
                result.damaged.append((f"anonymised/{day}", e.path, e.why))
                continue
            result.held_rows += held
            result.deleted_days.append(day)
            result.deleted_rows += rows - held
        result.conversations = retain_conversations(store, policy, now, holds, day_expired, dry_run)
        _retain_quarantine(store, policy, now, holds, result, dry_run)
        if not dry_run:  # salts of days that have no raw rows left and are past the window
            raw_days = {p.date for p in store.parts("raw")}
            salts = store.catalog.salts.days()
            stale = [d for d in salts if d not in raw_days and day_expired(d, now, policy.raw_days)]
            if stale:
                with store.change("destroy-salts", now, {"days": stale}) as ch:
                    ch.then(lambda cat: cat.salts.destroy(stale))
    result.deleted_days = sorted(set(result.deleted_days))
    return result


def _retain_quarantine(
    store: Store, policy: Policy, now: datetime, holds: list[Hold], result: RetainResult, dry_run: bool
) -> None:
    """Quarantined lines are raw data: a quarantine day past the raw window is deleted, except
    the lines a hold keeps (:mod:`logtool.lifecycle.quarantine`)."""
    for day, parts in _by_day(store.parts("quarantine")).items():
        if not day_expired(day, now, policy.raw_days):
            continue
        try:
            store.check(parts, "quarantine")
            day_holds, held = held_on_day(store, day, parts, "quarantine", holds)
            if held < sum(p.rows for p in parts) and not dry_run:
                quarantine.delete_day(store, day, parts, day_holds, now)
        except DamagedPartitionError as e:
            result.damaged.append((f"quarantine/{day}", e.path, e.why))
            continue
        result.quarantine_held_rows += held
        if held == sum(p.rows for p in parts):
            continue
        result.quarantine_days.append(day)
        result.quarantine_rows += sum(p.rows for p in parts) - held


def _swap_counts(ch: Change, old: list[Partition], salt_days: list[str]) -> None:
    """Retire ``old`` and say so in the change's audit entry."""
    ch.retire(old)
    ch.counts = {
        "rows_removed": {s: sum(p.rows for p in old if p.stage == s) for s in sorted({p.stage for p in old})},
        "rows_written": 0,
        "salts_destroyed": salt_days,
    }
    if salt_days:
        ch.then(lambda cat: cat.salts.destroy(salt_days))


def _process_raw_day(
    store: Store, policy: Policy, day: str, parts: list[Partition], now: datetime, holds: list[Hold], delete: bool
) -> None:
    """Anonymise (or, past both windows, delete) a raw day; rows under a hold stay raw.

    Everything is written first, then swapped in one transaction: the day's raw partitions
    for the held rows (if any) plus the anonymised partition, the day's unique-visitor count
    (once per day) and, when no raw row of the day remains, the destruction of its salt."""
    existing = [] if delete else store.parts("anonymised", day, day)
    with store.change("delete-day" if delete else "anonymise-day", now, {"days": [day]}) as ch:
        anon_w, held_w = ch.writer("anonymised"), ch.writer("raw")
        any_held, written = False, 0
        for raw in store.iter_parts(parts, "raw"):
            if holds:
                mask = held_mask(raw, holds, "raw")
                if mask.any():
                    any_held = True
                    held_w.write_day(day, raw.filter(mask))
                    raw = raw.filter(~mask)
            if not delete and raw.height:
                net = networks(raw.get_column("client_ip"), policy.ipv4_prefix, policy.ipv6_prefix)
                anon_w.write_day(day, anonymise_records(raw, net, policy))
                written += raw.height
        for anon in store.iter_parts(existing, "anonymised"):  # a late file for a day already done
            anon_w.write_day(day, anon)
            written += anon.height
        if not _has_visitor_count(store, day):
            _day_aggregates(store, ch, policy, day, parts)
        _swap_counts(ch, parts + existing, [] if any_held else [day])
        ch.counts["rows_written"] = written


def _keep_held(store: Store, day: str, parts: list[Partition], holds: list[Hold], now: datetime) -> None:
    """Delete an anonymised day except the rows a hold matches."""
    with store.change("delete-day", now, {"days": [day]}) as ch:
        w = ch.writer("anonymised")
        written = 0
        for df in store.iter_parts(parts, "anonymised"):
            if holds:
                kept = df.filter(held_mask(df, holds, "anonymised"))
                w.write_day(day, kept)
                written += kept.height
        _swap_counts(ch, parts, [])
        ch.counts["rows_written"] = written


def _has_visitor_count(store: Store, day: str) -> bool:
    return store.read("aggregates", day, day).filter(pl.col("dimension") == VISITORS).height > 0


def _day_aggregates(store: Store, ch: Change, policy: Policy, day: str, parts: list[Partition]) -> None:
    """What only the whole raw day can tell, as an aggregates partition of the change: its exact
    unique-visitor count and its behavioural findings per category."""
    found = behaviour_counts(store, parts, policy, load_rules(policy.review_rules))
    visitors = unique_visitors_by_vhost(store, parts) or {None: 0}
    rows = [(VISITORS, "unique", n, vhost) for vhost, n in visitors.items()]
    rows += [(FINDINGS, c, n, None) for c, n in found.items()]  # findings are per client, not per vhost
    df = pl.DataFrame(
        [(date.fromisoformat(day), dim, key, n, 0, vhost) for dim, key, n, vhost in rows], schema=AGG_SCHEMA,
        orient="row",
    )  # fmt: skip
    # a virtual host that is an address is kept as its network, as everywhere outside the raw stage
    df = merge_plain(df.with_columns(vhost_networks(df.get_column("vhost"), policy.ipv4_prefix, policy.ipv6_prefix)))
    ch.writer("aggregates").write(df, date_column="date")


def behaviour_counts(store: Store, parts: list[Partition], policy: Policy, rules: dict[str, Any],
                     shard_rows: int = SHARD_ROWS) -> dict[str, int]:  # fmt: skip
    """Behavioural findings per category over raw ``parts`` (one day), for the aggregates.

    Memory stays bounded: clients are split into shards of about ``shard_rows`` rows by a hash
    of their network (so an IPv6 /64 stays whole); only 5xx spikes, which are per vhost, read
    the day's 5xx rows at once. The flood baseline is then each shard's median client."""
    if not parts:
        return {}
    lf = store.scan(parts).select(_DAY_COLUMNS)
    n = -(-sum(p.rows for p in parts) // shard_rows)
    if n <= 1:  # the whole day fits: one read
        return counts(review_frame(store.collect(lf, parts, "raw"), policy, rules, detectors=BEHAVIOURS))
    per_client = [b for b in BEHAVIOURS if b != "error_spike"]
    errors = store.collect(lf.filter(pl.col("status") >= 500), parts, "raw")
    found = review_frame(errors, policy, rules, detectors=["error_spike"])
    for i in range(n):
        shard = lf.filter(pl.col("client_net").hash(seed=7) % n == i)
        found += review_frame(store.collect(shard, parts, "raw"), policy, rules, detectors=per_client)
    return counts(found)
