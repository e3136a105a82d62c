"""Retention of conversation records: their own windows, the same rules as for logs.

A ``conv_raw`` day older than ``conversations_raw_days`` becomes anonymised
(:func:`logtool.anonymize.conversations.anonymise_conversations`); a ``conv_anonymised`` day
older than ``conversations_anonymised_days`` is deleted; a raw day past both windows is deleted
at once. Rows an active hold matches (time window; networks against the chat's client address
— a call has none, so only a hold without networks keeps calls) stay where they are. Each day
is one crash-safe :meth:`~logtool.store.Store.change` with its audit entry; the aggregates are
never touched (they were computed at ingest from columns both stages keep).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from logtool.anonymize.conversations import anonymise_conversations
from logtool.config import Policy
from logtool.lifecycle.holdmatch import held_mask, held_on_day
from logtool.net import networks
from logtool.stages import WINDOWED_CONV_STAGES
from logtool.store import Hold, Partition, Store


@dataclass
class ConvRetainResult:
    """What retention did (or would do) to conversation records."""

    anonymised_days: list[str] = field(default_factory=list)
    anonymised_rows: int = 0
    deleted_days: list[str] = field(default_factory=list)
    deleted_rows: int = 0
    held_rows: int = 0


def windows(policy: Policy) -> dict[str, int]:
    """Conversation stage → days its records are kept."""
    return {s: d for s, d in policy.kept_days().items() if s in WINDOWED_CONV_STAGES}


def _by_day(parts: list[Partition]) -> dict[str, list[Partition]]:
    out: dict[str, list[Partition]] = {}
    for p in parts:
        out.setdefault(p.date, []).append(p)
    return out


def retain_conversations(
    store: Store,
    policy: Policy,
    now: datetime,
    holds: list[Hold],
    day_expired: Callable[[str, datetime, int], bool],
    dry_run: bool = False,
) -> ConvRetainResult:
    """Apply the conversation windows as of ``now`` (the caller holds the writer lock);
    ``day_expired`` is retention's rule for when a day leaves a stage."""
    res = ConvRetainResult()
    raw_keep, anon_keep = policy.conversations_raw_days, policy.conversations_anonymised_days
    for day, parts in _by_day(store.parts("conv_raw")).items():
        if not day_expired(day, now, raw_keep):
            continue
        rows = sum(p.rows for p in parts)
        day_holds, held = held_on_day(store, day, parts, "conv_raw", holds)
        res.held_rows += held
        if held == rows:
            continue
        delete = day_expired(day, now, anon_keep)
        if delete:
            res.deleted_days.append(day)
            res.deleted_rows += rows - held
        else:
            res.anonymised_days.append(day)
            res.anonymised_rows += rows - held
        if not dry_run:
            _process_raw_day(store, policy, day, parts, now, day_holds, delete)
    for day, parts in _by_day(store.parts("conv_anonymised")).items():
        if not day_expired(day, now, anon_keep):
            continue
        rows = sum(p.rows for p in parts)
        day_holds, held = held_on_day(store, day, parts, "conv_anonymised", holds)
        res.held_rows += held
        if held == rows:
            continue
        res.deleted_days.append(day)
        res.deleted_rows += rows - held
        if not dry_run:
            _keep_held(store, day, parts, day_holds, now)
    res.deleted_days = sorted(set(res.deleted_days))
    return res


def _process_raw_day(store: Store, policy: Policy, day: str, parts: list[Partition], now: datetime,
                     holds: list[Hold], delete: bool) -> None:  # fmt: skip
    existing = [] if delete else store.parts("conv_anonymised", day, day)
    action = "conversations-delete-day" if delete else "conversations-anonymise-day"
    with store.change(action, now, {"days": [day]}) as ch:
        anon_w, held_w = ch.writer("conv_anonymised"), ch.writer("conv_raw")
        written = 0
        for raw in store.iter_parts(parts, "conv_raw"):
            if holds:
                mask = held_mask(raw, holds, "conv_raw")
                if mask.any():
                    held_w.write_day(day, raw.filter(mask))
                    raw = raw.filter(~mask)
            if not delete and raw.height:
                net = networks(raw.get_column("client_ip"), policy.ipv4_prefix, policy.ipv6_prefix)
                anon_w.write_day(day, anonymise_conversations(raw, net, policy))
                written += raw.height
        for anon in store.iter_parts(existing, "conv_anonymised"):  # a late file for a day already done
            anon_w.write_day(day, anon)
            written += anon.height
        old = parts + existing
        ch.retire(old)
        ch.counts = {
            "rows_removed": {s: sum(p.rows for p in old if p.stage == s) for s in sorted({p.stage for p in old})},
            "rows_written": written,
        }


def _keep_held(store: Store, day: str, parts: list[Partition], holds: list[Hold], now: datetime) -> None:
    with store.change("conversations-delete-day", now, {"days": [day]}) as ch:
        w = ch.writer("conv_anonymised")
        written = 0
        for df in store.iter_parts(parts, "conv_anonymised"):
            if holds:
                kept = df.filter(held_mask(df, holds, "conv_anonymised"))
                w.write_day(day, kept)
                written += kept.height
        ch.retire(parts)
        ch.counts = {"rows_removed": {"conv_anonymised": sum(p.rows for p in parts)}, "rows_written": written}
