"""Reports built from the daily aggregates only (never from row-level data).

:func:`build` turns aggregates into a :class:`Report`; :mod:`logtool.render` turns it into text. Groups smaller than the policy's ``min_group_size`` are folded into
``(other)`` so a report cannot single out a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from logtool.config import Policy
from logtool.governance.holds import held_rows
from logtool.lifecycle import aggregate
from logtool.report.conversations import ConversationsSection, build_conversations
from logtool.store import Hold, Partition, Store

TOP_KEYS = 10

#: Dimensions shown in a report, with their titles, in order.
SECTIONS = {  # "visitors" is reported per day, not as a section
    "status_class": "Status classes",
    "status": "Status codes",
    "method": "Methods",
    "path": "Top paths",
    "referrer_host": "Referrer hosts",
    "browser": "Browsers",
    "os": "Operating systems",
    "device": "Devices",
    "bot": "Bots vs humans",
    "country": "Countries",
    "response_time": "Response times",
    "hour": "Requests per hour of day (UTC)",
    "attack": "Attack requests per category",
    "findings": "Behavioural findings per category",
}
#: Sections whose counts are not requests (no share of traffic).
NOT_REQUESTS = {"findings"}


@dataclass
class Report:
    date_from: str | None
    date_to: str | None
    days: list[dict[str, Any]] = field(default_factory=list)  # per day: date, requests, bytes
    requests: int = 0
    bytes: int = 0
    bot_share: float = 0.0
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    min_group_size: int = 1
    #: Chat-bot and call-bot figures (from the conversation aggregates), None if there are none.
    conversations: ConversationsSection | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.date_from, "to": self.date_to, "days": len(self.days)},
            "requests": self.requests,
            "bytes": self.bytes,
            "bot_share": round(self.bot_share, 4),
            "min_group_size": self.min_group_size,
            "daily": self.days,
            "sections": self.sections,
            "conversations": self.conversations.to_dict() if self.conversations else None,
        }


def build(store: Store, policy: Policy, date_from: str | None = None, date_to: str | None = None) -> Report:
    """Sum the aggregates of the period and fold small groups."""
    agg = store.read("aggregates", date_from, date_to)
    rep = Report(date_from, date_to, min_group_size=policy.min_group_size)
    rep.conversations = build_conversations(store, policy, date_from, date_to)
    if agg.height == 0:
        if rep.conversations is not None and rep.conversations.days:
            rep.date_from = date_from or rep.conversations.days[0]["date"]
            rep.date_to = date_to or rep.conversations.days[-1]["date"]
        return rep
    merged = aggregate.merge([agg])
    total = merged.filter(pl.col("dimension") == "total").sort("date")
    visitors = _visitors_per_day(store, merged)
    rep.days = [
        {"date": d.isoformat(), "requests": r, "bytes": b, "visitors": visitors.get(d.isoformat())}
        for d, r, b in total.select("date", "requests", "bytes").iter_rows()
    ]
    rep.requests = int(total.get_column("requests").sum())
    rep.bytes = int(total.get_column("bytes").sum())
    rep.date_from = date_from or rep.days[0]["date"]
    rep.date_to = date_to or rep.days[-1]["date"]
    period = merged.group_by("dimension", "key").agg(pl.col("requests").sum(), pl.col("bytes").sum())
    period = aggregate.fold_small(period, policy.min_group_size)
    for dim in SECTIONS:
        rows = period.filter(pl.col("dimension") == dim)
        if dim == "hour":
            rows = rows.sort("key")
        else:
            rows = rows.sort(pl.col("key") == aggregate.OTHER, pl.col("requests"), descending=[False, True])
            if rows.height > TOP_KEYS:
                head, tail = rows.head(TOP_KEYS), rows.slice(TOP_KEYS)
                rest = tail.select(
                    pl.lit(aggregate.OTHER).alias("key"), pl.col("requests").sum(), pl.col("bytes").sum()
                )
                rows = (
                    pl.concat([head.select("key", "requests", "bytes"), rest])
                    .group_by("key", maintain_order=True)
                    .sum()
                )
        rep.sections[dim] = [
            {
                "key": k,
                "requests": int(r),
                "bytes": int(b),
                "share": None if dim in NOT_REQUESTS else round(r / rep.requests, 4) if rep.requests else 0.0,
            }
            for k, r, b in rows.select("key", "requests", "bytes").iter_rows()
        ]
    bots = {row["key"]: row["requests"] for row in rep.sections.get("bot", [])}
    rep.bot_share = bots.get("bot", 0) / rep.requests if rep.requests else 0.0
    return rep


def _visitors_per_day(store: Store, merged: pl.DataFrame) -> dict[str, int]:
    """Daily unique visitors: from the aggregates once a day left the raw stage (exact count
    written then), counted live from the raw stage's visitor keys before that."""
    out = {
        d.isoformat(): int(n)
        for d, n in merged.filter(pl.col("dimension") == aggregate.VISITORS).select("date", "requests").iter_rows()
    }
    days = {d.isoformat() for d in merged.get_column("date").unique().to_list()}
    by_day: dict[str, list[Partition]] = {}
    for p in store.parts("raw"):
        if p.date in days and p.date not in out:
            by_day.setdefault(p.date, []).append(p)
    for day, parts in by_day.items():
        out[day] = aggregate.unique_visitors(store, parts)
    return out


def hold_detail(store: Store, hold_id: str, now: datetime) -> tuple[Hold, pl.DataFrame]:
    """The rows an active incident hold matches, in full (addresses, requests): the only report
    that shows personal data, and only under a hold. Audited as ``report-hold``."""
    return held_rows(store, hold_id, now, "report-hold")
