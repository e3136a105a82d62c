"""``logtool review``: findings over the store, with no more personal detail than allowed.

Reads the raw stage, and the anonymised stage for days that have left it. Without a hold, a
client is named by its network and samples are redacted, and rows of restricted subjects
(Art. 18) are left out; under a hold (:func:`review` with ``hold_id``) only the rows the hold
matches are reviewed, with full addresses and raw requests — an audited disclosure, as is a
firewall blocklist of a held incident (:func:`blocklist`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from logtool.config import Policy
from logtool.detect.findings import Finding, at_least, review_frame
from logtool.detect.rules import load_rules
from logtool.errors import EXIT_FINDINGS, EXIT_OK
from logtool.governance.disclosure import disclose
from logtool.governance.subjects import unrestricted
from logtool.lifecycle.holdmatch import held_mask
from logtool.net import parse_ip
from logtool.store import Hold, Store

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _rows(
    store: Store, date_from: str | None, date_to: str | None, since: datetime | None, hold: Hold | None
) -> pl.DataFrame:
    """The rows to review: a hold's raw rows, or else every unrestricted raw row of the period
    plus the anonymised rows of days that have left the raw stage."""
    frames = []
    raw_parts = store.parts("raw", date_from, date_to)
    anon_parts = [] if hold is not None else store.parts("anonymised", date_from, date_to)
    anon_days = {p.date for p in anon_parts}
    raw_parts = [p for p in raw_parts if p.date not in anon_days]  # held raw rows of an anonymised day
    for stage, parts in (("raw", raw_parts), ("anonymised", anon_parts)):
        for df in store.iter_parts(parts, stage):
            if since is not None:
                df = df.filter(pl.col("ts") >= since)
            if hold is not None:
                df = df.filter(held_mask(df, [hold], "raw"))
            elif stage == "raw":
                df = unrestricted(store, df)
            if df.height:
                frames.append(df)
    if not frames:
        return store.read_parts([], "raw")
    return pl.concat(frames, how="diagonal_relaxed")


@dataclass
class ReviewResult:
    """Findings, most severe first, and whether one is at least as severe as ``fail_on``."""

    findings: list[Finding] = field(default_factory=list)
    fail_on: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.fail_on and at_least(self.findings, self.fail_on) else EXIT_OK


def review(
    store: Store,
    policy: Policy,
    now: datetime,
    since: datetime | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    hold_id: str | None = None,
    rules: dict[str, Any] | None = None,
) -> list[Finding]:
    """Findings over the raw stage (and the anonymised stage for older days), most severe first.
    With ``hold_id``: the active hold's rows in full detail (audited as ``review-hold``)."""
    rules = rules or load_rules(policy.review_rules)
    if hold_id is None:
        return review_frame(_rows(store, date_from, date_to, since, None), policy, rules)
    with disclose(store, "review-hold", now, hold_id=hold_id) as d:
        found = review_frame(_rows(store, date_from, date_to, since, d.hold), policy, rules, hold_id)
        d.rows = sum(f.count for f in found)
    return found


def blocklist(store: Store, policy: Policy, hold_id: str, now: datetime,
              rules: dict[str, Any] | None = None) -> list[Network]:  # fmt: skip
    """The offending clients of a held incident for a firewall: addresses, or IPv6 networks
    when a client used several addresses of one. Only under an active hold; audited."""
    rules = rules or load_rules(policy.review_rules)
    with disclose(store, "blocklist", now, hold_id=hold_id) as d:
        found = review_frame(_rows(store, None, None, None, d.hold), policy, rules, hold_id)
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
