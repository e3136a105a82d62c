"""The conversations section of a report, from the conversation aggregates only.

:func:`build_conversations` sums the ``conv_aggregates`` of a period into a
:class:`ConversationsSection`: totals, one row per day, and one table per dimension (titles in
:data:`TITLES`, in order), groups under ``min_group_size`` folded into ``(other)`` as for the web
report. Renderers take it from :attr:`logtool.report.Report.conversations`; it is ``None`` when
the period holds no conversation aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from logtool.config import Policy
from logtool.lifecycle import conv_aggregate
from logtool.store import Store

TOP_KEYS = 10

#: Dimension → title, in the order reports show them.
TITLES = {
    "channel": "Conversations per channel",
    "records": "Records per kind",
    "duration": "Calls per duration",
    "status": "Call status, chat outcome",
    "direction": "Call direction",
    "answered_by": "Calls answered by",
    "country": "Countries (number, chat address)",
    "functions": "Functions the bots used",
    "role": "Speakers",
}
_DURATION_ORDER = ["<30s", "30s-2m", "2-5m", "5-15m", ">=15m", conv_aggregate.UNKNOWN]


@dataclass
class ConversationsSection:
    """Conversation figures of a report period (no personal data: counts per category)."""

    conversations: int = 0
    calls: int = 0
    call_seconds: float = 0.0
    messages: int = 0
    #: Per day: date, conversations, voice, chat, calls, call_seconds.
    days: list[dict[str, Any]] = field(default_factory=list)
    #: Dimension → rows of key, count, seconds, share (of the dimension's total).
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def titles(self) -> dict[str, str]:
        """Dimension → title, in order (what renderers show)."""
        return TITLES

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "calls": self.calls,
            "call_seconds": round(self.call_seconds, 1),
            "messages": self.messages,
            "daily": self.days,
            "sections": self.sections,
        }


def _rows(period: pl.DataFrame, dim: str) -> list[dict[str, Any]]:
    rows = period.filter(pl.col("dimension") == dim)
    if dim == "duration":
        order = {k: i for i, k in enumerate(_DURATION_ORDER)}
        rows = rows.with_columns(pl.col("key").replace_strict(order, default=99).alias("_o")).sort("_o").drop("_o")
    else:
        rows = rows.sort(pl.col("key") == conv_aggregate.OTHER, pl.col("count"), pl.col("key"),
                         descending=[False, True, False])  # fmt: skip
        if rows.height > TOP_KEYS:
            rest = rows.slice(TOP_KEYS).select(pl.lit(conv_aggregate.OTHER).alias("key"), pl.col("count").sum(),
                                               pl.col("seconds").sum())  # fmt: skip
            rows = pl.concat([rows.head(TOP_KEYS).select("key", "count", "seconds"), rest]).group_by(
                "key", maintain_order=True).sum()  # fmt: skip
    total = int(rows.get_column("count").sum()) if rows.height else 0
    return [
        {"key": k, "count": int(c), "seconds": round(float(s), 1), "share": round(c / total, 4) if total else 0.0}
        for k, c, s in rows.select("key", "count", "seconds").iter_rows()
    ]


def build_conversations(
    store: Store, policy: Policy, date_from: str | None = None, date_to: str | None = None
) -> ConversationsSection | None:
    """Sum the conversation aggregates of the period and fold small groups."""
    agg = store.read("conv_aggregates", date_from, date_to)
    if agg.height == 0:
        return None
    out = ConversationsSection()
    channel = agg.filter(pl.col("dimension") == "channel")
    calls = agg.filter((pl.col("dimension") == "records") & (pl.col("key") == "call"))
    messages = agg.filter((pl.col("dimension") == "records") & (pl.col("key") == "message"))
    out.conversations = int(channel.get_column("count").sum())
    out.call_seconds = float(channel.get_column("seconds").sum())
    out.calls = int(calls.get_column("count").sum())
    out.messages = int(messages.get_column("count").sum())
    for (day,), rows in sorted(agg.partition_by("date", as_dict=True).items()):
        per = dict(rows.filter(pl.col("dimension") == "channel").select("key", "count").iter_rows())
        secs = rows.filter(pl.col("dimension") == "channel").get_column("seconds").sum()
        n_calls = rows.filter((pl.col("dimension") == "records") & (pl.col("key") == "call")).get_column("count").sum()
        out.days.append({"date": day.isoformat(), "conversations": int(sum(per.values())), "voice": int(per.get("voice", 0)),
                         "chat": int(per.get("chat", 0)), "calls": int(n_calls), "call_seconds": round(float(secs), 1)})  # fmt: skip
    period = agg.group_by("dimension", "key").agg(pl.col("count").sum(), pl.col("seconds").sum())
    period = conv_aggregate.fold_small(period, policy.min_group_size)
    for dim in TITLES:
        rows = _rows(period, dim)
        if rows:
            out.sections[dim] = rows
    return out
