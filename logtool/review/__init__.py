"""``logtool review``: findings over the store, with no more personal detail than allowed.

Reads the raw stage, the anonymised stage for days that have left it, and the quarantine.
Without a hold, a client is named by its network and samples are redacted, and rows of
restricted subjects (Art. 18) are left out; under a hold (:func:`review` with ``hold_id``) only
the rows the hold matches are reviewed, with full addresses and raw requests — an audited
disclosure, as is a firewall blocklist of a held incident (:func:`blocklist`).

Memory is bounded by the work, not the rows: the store is read one day at a time, a day too big
for one piece is split into shards of clients (a hash of the client's network, so an IPv6 /64
stays whole), and each piece leaves only small partial aggregates behind
(:func:`logtool.detect.findings.partials`), their texts copied so that they do not keep the
piece's buffers alive. The last minutes of a day travel on with the next day as context, so
sliding windows see across midnight without a row being counted twice. 5xx spikes are per vhost,
not per client: a sharded day's 5xx rows are gathered and looked at once, after its shards.

Time: the next piece is read (and its working columns derived) while this one is worked on, the
per-request and behavioural detectors of a piece run side by side, and a
:class:`~logtool.detect.hitcache.HitCache` classifies each distinct target, agent, referrer …
once per review.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import polars as pl

from logtool.config import Policy
from logtool.detect.allow import compile_allow
from logtool.detect.behaviour import BEHAVIOURS
from logtool.detect.findings import (
    DETECTORS,
    PARTIAL_SCHEMA,
    Finding,
    at_least,
    compact,
    detach,
    merge,
    partials,
    prepare,
)
from logtool.detect.hitcache import HitCache
from logtool.detect.rules import load_rules
from logtool.errors import EXIT_FINDINGS, EXIT_OK, ConfigError
from logtool.governance.disclosure import disclose
from logtool.governance.subjects import unrestricted
from logtool.lifecycle.holdmatch import held_mask
from logtool.net import Network, parse_ip
from logtool.progress import SILENT, Tick
from logtool.review.quarantine import quarantine_partials
from logtool.schema import SCHEMAS
from logtool.store import Hold, Partition, Store

#: Rows per piece: a day with more is split into shards of clients (peak memory ~750 MiB at 500k
#: rows of generated traffic, flat over days; 250k: ~550 MiB and 15 % slower).
SHARD_ROWS = 500_000
_RAW_COLUMNS = ["ts", "client_ip", "client_net", "remote_user", "method", "path", "query", "protocol", "status",
                "referrer", "user_agent", "vhost", "xff", "source_file"]  # fmt: skip
#: What 5xx spikes (and the allow-list, and their samples) look at.
_SPIKE_COLUMNS = {"ts", "status", "vhost", "method", "path", "query", "user_agent", "ua_family", "_ctx", "_key", "_net",
                  "_ip"}  # fmt: skip
_ANON_COLUMNS = [c for c in _RAW_COLUMNS if c not in ("client_ip", "remote_user", "user_agent", "xff")] + ["ua_family"]


@dataclass
class ReviewResult:
    """Findings, most severe first; how many the allow-list hid; what was read; and whether a
    finding is at least as severe as ``fail_on``."""

    findings: list[Finding] = field(default_factory=list)
    fail_on: str | None = None
    suppressed: int = 0
    rows: int = 0
    quarantined: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.fail_on and at_least(self.findings, self.fail_on) else EXIT_OK


def _days(store: Store, date_from: str | None, date_to: str | None,
          hold: Hold | None) -> list[tuple[str, str, list[Partition]]]:  # fmt: skip
    """(day, stage, parts) to review, by day: a hold's raw rows, or else every raw day plus the
    anonymised days (held raw rows of an anonymised day are left to the hold's review)."""
    anon = [] if hold is not None else store.parts("anonymised", date_from, date_to)
    anon_days = {p.date for p in anon}
    raw = [p for p in store.parts("raw", date_from, date_to) if p.date not in anon_days]
    by: dict[tuple[str, str], list[Partition]] = {}
    for p in raw + anon:
        by.setdefault((p.date, p.stage), []).append(p)
    return sorted((day, stage, parts) for (day, stage), parts in by.items())


def _read(store: Store, stage: str, parts: list[Partition], i: int, n: int) -> pl.DataFrame:
    """Shard ``i`` of ``n`` of one day's ``parts`` (all of them when ``n`` is 1). A damaged
    partition is a :class:`~logtool.errors.DamagedPartitionError` naming it (the store's readers)."""
    known = SCHEMAS[stage]
    cols = [c for c in (_RAW_COLUMNS if stage == "raw" else _ANON_COLUMNS) if c in known]
    if n == 1:
        return store.read_parts(parts, stage, cols)
    lf = store.scan(parts).select(cols).filter(pl.col("client_net").hash(seed=7) % n == i)
    return store.collect(lf, parts, stage)


def _derived(derive: Callable[[pl.DataFrame], pl.DataFrame], store: Store, stage: str, parts: list[Partition], i: int,
             n: int) -> pl.DataFrame:  # fmt: skip
    return derive(_read(store, stage, parts, i, n))


def _pieces(store: Store, days: list[tuple[str, str, list[Partition]]], since: datetime | None, hold: Hold | None,
            shard_rows: int, derive: Callable[[pl.DataFrame], pl.DataFrame]) -> Iterator[tuple[int, int, int, pl.DataFrame]]:  # fmt: skip
    """(day, shard, shards, rows) of every day in order: the whole day, or shards of clients,
    with the columns ``derive`` adds (row by row). The next piece is read and derived while the
    caller works on this one (polars releases the GIL)."""
    tasks = []
    for d, (_day, stage, parts) in enumerate(days):
        n = max(1, -(-sum(p.rows for p in parts) // shard_rows))
        tasks += [(d, i, n, stage, parts) for i in range(n)]
    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(_derived, derive, store, tasks[0][3], tasks[0][4], 0, tasks[0][2]) if tasks else None
        for k, (d, i, n, stage, _parts) in enumerate(tasks):
            piece = ahead.result()  # type: ignore[union-attr]
            if k + 1 < len(tasks):
                _, i2, n2, stage2, parts2 = tasks[k + 1]
                ahead = pool.submit(_derived, derive, store, stage2, parts2, i2, n2)
            if since is not None:
                piece = piece.filter(pl.col("ts") >= since)
            if hold is not None:
                piece = piece.filter(held_mask(piece, [hold], "raw"))
            elif stage == "raw":
                piece = unrestricted(store, piece)
            yield d, i, n, piece


def _shard_of(df: pl.DataFrame, i: int, n: int) -> pl.DataFrame:
    return df if n == 1 else df.filter(pl.col("client_net").hash(seed=7) % n == i)


def review_store(store: Store, policy: Policy, now: datetime, since: datetime | None = None,
                 date_from: str | None = None, date_to: str | None = None, hold: Hold | None = None,
                 rules: dict[str, Any] | None = None, progress: Tick = SILENT, verify: Any = None,
                 shard_rows: int = SHARD_ROWS) -> ReviewResult:  # fmt: skip
    """Review the store day by day (see the module docstring); ``hold`` restricts it to the
    hold's rows (the caller discloses). ``verify``: a crawler verifier (reverse DNS)."""
    rules = rules or load_rules(policy.review_rules)
    compile_allow(rules.get("allow"))  # a bad allow-list is an error before any work
    if date_from and date_to and date_from > date_to:
        raise ConfigError(f"--from {date_from} is after --to {date_to}")
    days = _days(store, date_from, date_to, hold)
    progress.total(sum(p.rows for _, _, parts in days for p in parts), "rows")
    width = timedelta(seconds=max(int(rules[b]["window_seconds"]) for b in BEHAVIOURS))
    full = hold is not None
    sensitive = None if full else policy.sensitive_params
    per_client = tuple(d for d in DETECTORS if d != "error_spike")
    hits = HitCache()  # each distinct target, agent, referrer ... is classified once per review
    out, tail, seen, rows = [pl.DataFrame(schema=PARTIAL_SCHEMA)], None, pl.DataFrame(), 0
    pieces = _pieces(store, days, since, hold, shard_rows, lambda df: prepare(df, policy, rules, full))
    for _d, day_pieces in groupby(pieces, key=lambda x: x[0]):
        new_tail, new_seen, errors = [], [], []
        for _, i, n, piece in day_pieces:
            height = piece.height
            rows += height
            if height == 0:
                continue
            prepared = piece.with_columns(pl.lit(False).alias("_ctx"))
            del piece
            if tail is not None and tail.height and set(tail.columns) == set(prepared.columns):
                ctx = _shard_of(tail, i, n).with_columns(pl.lit(True).alias("_ctx"))
                prepared = pl.concat([ctx.select(prepared.columns), prepared])
            # 5xx spikes are per vhost, not per client: over the day's 5xx rows, once its shards are read
            detectors = DETECTORS if n == 1 else per_client
            part = partials(prepared, rules, detectors, seen=seen, verify=verify, sensitive=sensitive, hits=hits)
            if n > 1:
                spike_cols = [c for c in prepared.columns if c in _SPIKE_COLUMNS]
                errors.append(detach(prepared.filter(pl.col("status") >= 500).select(spike_cols)))
            out.append(part)
            end = prepared.get_column("ts").max()
            new_tail.append(detach(prepared.filter(~pl.col("_ctx") & (pl.col("ts") > end - width))))  # type: ignore[operator]
            new_seen.append(part.filter(pl.col("detector") == "behaviour").select("category", "_key", "last"))
            progress.advance(height)
            del prepared, part
        if errors:
            part = partials(pl.concat(errors), rules, ("error_spike",), seen=seen, sensitive=sensitive)
            out.append(part)
            new_seen.append(part.filter(pl.col("detector") == "behaviour").select("category", "_key", "last"))
        out = [compact(pl.concat(out))]  # what is kept between days: one partial per client, category, path
        tail = pl.concat(new_tail, how="diagonal_relaxed") if new_tail else None
        seen = pl.concat(new_seen) if new_seen else pl.DataFrame()
    quarantined = 0
    if hold is None:
        q, quarantined = quarantine_partials(store, policy, rules, date_from, date_to, since)
        out.append(q)
    found, hidden = merge(pl.concat(out), rules, hold.id if hold else None)
    return ReviewResult(found, None, hidden, rows, quarantined)


def run_review(store: Store, policy: Policy, now: datetime, since: datetime | None = None,
               date_from: str | None = None, date_to: str | None = None, hold_id: str | None = None,
               rules: dict[str, Any] | None = None, progress: Tick = SILENT, verify: Any = None) -> ReviewResult:  # fmt: skip
    """Findings over the raw stage (and the anonymised stage for older days, and the
    quarantine), most severe first. With ``hold_id``: the active hold's rows in full detail
    (audited as ``review-hold``)."""
    if hold_id is None:
        return review_store(store, policy, now, since, date_from, date_to, None, rules, progress, verify)
    with disclose(store, "review-hold", now, hold_id=hold_id) as d:
        result = review_store(store, policy, now, since, date_from, date_to, d.hold, rules, progress, verify)
        d.rows = sum(f.count for f in result.findings)
    return result


def review(store: Store, policy: Policy, now: datetime, since: datetime | None = None,
           date_from: str | None = None, date_to: str | None = None, hold_id: str | None = None,
           rules: dict[str, Any] | None = None) -> list[Finding]:  # fmt: skip
    """The findings of :func:`run_review`, most severe first."""
    return run_review(store, policy, now, since, date_from, date_to, hold_id, rules).findings


def blocklist(store: Store, policy: Policy, hold_id: str, now: datetime,
              rules: dict[str, Any] | None = None) -> list[Network]:  # fmt: skip
    """The offending clients of a held incident for a firewall: addresses, or IPv6 networks
    when a client used several addresses of one. Only under an active hold; audited."""
    with disclose(store, "blocklist", now, hold_id=hold_id) as d:
        found = review_store(store, policy, now, hold=d.hold, rules=rules).findings
        nets = set()
        for f in found:
            if f.category == "error_spike":  # a vhost, not a client
                continue
            try:
                nets.add(ipaddress.ip_network(f.client, strict=False))
            except ValueError:
                if (addr := parse_ip(f.client)) is not None:  # bracketed, mapped, with a port ...
                    nets.add(ipaddress.ip_network(addr))
        d.rows = len(nets)
    return sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
