"""Reports built from the daily aggregates only (never from row-level data).

:func:`build` turns the aggregates of a period (all vhosts, or one) into a :class:`Report`:
KPIs (optionally each against the previous period of the same length), per-day series, ranked
sections, and — given ``now`` — the store's compliance state (:mod:`.compliance`);
:mod:`logtool.render` turns it into a terminal table, JSON, Markdown, CSV or HTML. Groups
smaller than the policy's ``min_group_size`` are folded into ``(other)`` so a report cannot
single out a person, and the report says how many were.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from logtool.config import Policy
from logtool.governance.holds import held_rows
from logtool.lifecycle import aggregate
from logtool.report.compliance import Compliance, gather
from logtool.report.conversations import ConversationsSection, build_conversations
from logtool.store import Hold, Partition, Store

TOP_KEYS = 10

#: Dimensions shown in a report, with their titles, in order.
SECTIONS = {  # "visitors" is reported per day, not as a section
    "status_class": "Status classes",
    "status": "Status codes",
    "method": "Methods",
    "path": "Top paths",
    "not_found": "Not-found paths (404)",
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
#: Sections shown in the order of their keys, not ranked by requests.
KEY_ORDER: dict[str, tuple[str, ...]] = {
    "hour": tuple(f"{h:02d}" for h in range(24)),
    "response_time": aggregate.RT_ORDER,
}
#: Dimensions also reported per day (``Report.series``).
SERIES = ("status_class", "attack", "findings")
COMPARE = ("previous",)


@dataclass
class Kpi:
    """One headline number, optionally with the same number for the previous period."""

    key: str
    label: str
    value: float | None
    kind: str  # "count" | "bytes" | "share"
    detail: str = ""
    previous: float | None = None

    @property
    def change(self) -> float | None:
        """Against the previous period: relative for counts and bytes, in points for shares."""
        if self.previous is None or self.value is None:
            return None
        if self.kind == "share":
            return self.value - self.previous
        return (self.value - self.previous) / self.previous if self.previous else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": None if self.change is None else round(self.change, 4)}


@dataclass
class Report:
    date_from: str | None
    date_to: str | None
    days: list[dict[str, Any]] = field(default_factory=list)  # per day: date, requests, bytes, visitors
    requests: int = 0
    bytes: int = 0
    bot_share: float = 0.0
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    min_group_size: int = 1
    #: The one vhost reported on (None: all of them) and the period's vhosts by requests.
    vhost: str | None = None
    vhosts: list[dict[str, Any]] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    #: Per dimension of ``SERIES``: ``{date, key, requests}`` per day and key.
    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: Per section: groups under ``min_group_size`` folded into ``(other)``.
    folded: dict[str, int] = field(default_factory=dict)
    #: With ``compare="previous"``: the period the KPIs are compared with.
    previous: dict[str, str] | None = None
    compliance: Compliance | None = None
    #: Conversation aggregates (chat and call bots), when the period holds them: a section of
    #: their own (:mod:`logtool.report.conversations`), rendered in its own panel.
    conversations: ConversationsSection | None = None
    notes: list[str] = field(default_factory=list)

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.date_from, "to": self.date_to, "days": len(self.days)},
            "vhost": self.vhost,
            "requests": self.requests,
            "bytes": self.bytes,
            "bot_share": round(self.bot_share, 4),
            "min_group_size": self.min_group_size,
            "kpis": [k.to_dict() for k in self.kpis],
            "previous_period": self.previous,
            "daily": self.days,
            "series": self.series,
            "sections": self.sections,
            "vhosts": self.vhosts,
            "folded": self.folded,
            "compliance": None if self.compliance is None else self.compliance.to_dict(),
            "conversations": self.conversations.to_dict() if self.conversations else None,
            "notes": self.notes,
        }


def _read(store: Store, date_from: str | None, date_to: str | None, vhost: str | None) -> pl.DataFrame:
    """The aggregates of the period, of one vhost (matched case-insensitively) or all."""
    agg = store.read("aggregates", date_from, date_to)
    if vhost is not None:
        agg = agg.filter(pl.col("vhost").str.to_lowercase() == vhost.lower())
    return aggregate.merge([agg])


def _per_day(merged: pl.DataFrame) -> pl.DataFrame:
    """The aggregates summed over vhosts."""
    return merged.group_by("date", "dimension", "key").agg(pl.col("requests").sum(), pl.col("bytes").sum())


def _sum(df: pl.DataFrame, dimension: str, key: str | None = None) -> int:
    rows = df.filter(pl.col("dimension") == dimension)
    if key is not None:
        rows = rows.filter(pl.col("key") == key)
    return int(rows.get_column("requests").sum())


def _kpis(daily: pl.DataFrame, visitors: dict[str, int]) -> list[Kpi]:
    requests = _sum(daily, "total")
    nbytes = int(daily.filter(pl.col("dimension") == "total").get_column("bytes").sum())

    def share(n: int) -> float:
        return n / requests if requests else 0.0

    # requests flagged at all, per day; days aggregated before that count existed: the sum over
    # categories (an upper bound: one request can be in several)
    flagged = daily.filter(pl.col("dimension").is_in([aggregate.ATTACKED, aggregate.ATTACKS]))
    per_day = flagged.group_by("date").agg(
        pl.when((pl.col("dimension") == aggregate.ATTACKED).any())
        .then(pl.col("requests").filter(pl.col("dimension") == aggregate.ATTACKED).sum())
        .otherwise(pl.col("requests").sum())
        .alias("n")
    )
    attacked = int(per_day.get_column("n").sum())
    e4, e5 = share(_sum(daily, "status_class", "4xx")), share(_sum(daily, "status_class", "5xx"))
    return [
        Kpi("requests", "Requests", requests, "count"),
        Kpi("visitors", "Unique visitors", sum(visitors.values()) if visitors else None, "count",
            "daily unique visitors, added up"),
        Kpi("bytes", "Bytes sent", nbytes, "bytes"),
        Kpi("error_rate", "Error rate (5xx)", e5, "share", f"4xx: {e4:.1%}"),
        Kpi("bot_share", "Bot share", share(_sum(daily, "bot", "bot")), "share"),
        Kpi("attack_requests", "Attack requests", attacked, "count", f"{share(attacked):.1%} of requests"),
    ]  # fmt: skip


def _visitors_per_day(store: Store, merged: pl.DataFrame, vhost: str | None) -> dict[str, int]:
    """Daily unique visitors: from the aggregates once a day left the raw stage (exact count
    written then), counted live from the raw stage's visitor keys before that."""
    counted = merged.filter(pl.col("dimension") == aggregate.VISITORS).group_by("date").agg(pl.col("requests").sum())
    out = {d.isoformat(): int(n) for d, n in counted.iter_rows()}
    days = {d.isoformat() for d in merged.get_column("date").unique().to_list()}
    by_day: dict[str, list[Partition]] = {}
    for p in store.parts("raw"):
        if p.date in days and p.date not in out:
            by_day.setdefault(p.date, []).append(p)
    for day, parts in by_day.items():
        per_vhost = aggregate.unique_visitors_by_vhost(store, parts)
        out[day] = sum(n for v, n in per_vhost.items() if vhost is None or (v or "").lower() == vhost.lower())
    return out


def _ranked(rows: pl.DataFrame, dim: str) -> pl.DataFrame:
    """A section's rows in display order, at most ``TOP_KEYS`` of them plus ``(other)``."""
    if dim in KEY_ORDER:
        order = {k: i for i, k in enumerate(KEY_ORDER[dim])}
        return rows.sort(pl.col("key").replace_strict(order, default=len(order), return_dtype=pl.Int64), "key")
    rows = rows.sort(pl.col("key") == aggregate.OTHER, pl.col("requests"), "key", descending=[False, True, False])
    if rows.height <= TOP_KEYS:
        return rows
    head, tail = rows.head(TOP_KEYS), rows.slice(TOP_KEYS)
    rest = tail.select(pl.lit(aggregate.OTHER).alias("key"), pl.col("requests").sum(), pl.col("bytes").sum())
    return pl.concat([head.select("key", "requests", "bytes"), rest]).group_by("key", maintain_order=True).sum()


def _previous(rep: Report) -> tuple[str, str]:
    first, last = date.fromisoformat(rep.date_from or ""), date.fromisoformat(rep.date_to or "")
    end = first - timedelta(days=1)
    return (end - (last - first)).isoformat(), end.isoformat()


def build(
    store: Store,
    policy: Policy,
    date_from: str | None = None,
    date_to: str | None = None,
    *,
    vhost: str | None = None,
    compare: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Sum the aggregates of the period (of one ``vhost``, or all) and fold small groups; with
    ``compare="previous"`` give each KPI its value in the period of the same length before; with
    ``now``, add the compliance state as of then."""
    rep = Report(date_from, date_to, min_group_size=policy.min_group_size, vhost=vhost)
    if vhost is None:  # conversations have no vhost
        rep.conversations = build_conversations(store, policy, date_from, date_to)
    merged = _read(store, date_from, date_to, vhost)
    if merged.height == 0:
        if rep.conversations is not None and rep.conversations.days:
            rep.date_from = date_from or rep.conversations.days[0]["date"]
            rep.date_to = date_to or rep.conversations.days[-1]["date"]
        if vhost is not None:
            rep.notes.append(f"No aggregates for vhost {vhost!r} in this period.")
        if now is not None:
            rep.compliance = gather(store, policy, now, [], {})
        return rep
    daily = _per_day(merged)
    total = daily.filter(pl.col("dimension") == "total").sort("date")
    visitors = _visitors_per_day(store, merged, vhost)
    rep.days = [
        {"date": d.isoformat(), "requests": r, "bytes": b, "visitors": visitors.get(d.isoformat())}
        for d, r, b in total.select("date", "requests", "bytes").iter_rows()
    ]
    rep.requests = int(total.get_column("requests").sum())
    rep.bytes = int(total.get_column("bytes").sum())
    rep.date_from = date_from or rep.days[0]["date"]
    rep.date_to = date_to or rep.days[-1]["date"]
    rep.kpis = _kpis(daily, visitors)
    k = policy.min_group_size
    period = daily.group_by("dimension", "key").agg(pl.col("requests").sum(), pl.col("bytes").sum())
    small = (
        ~pl.col("dimension").is_in(list(aggregate.UNFOLDED))
        & (pl.col("requests") < k)
        & (pl.col("key") != aggregate.OTHER)
    )
    rep.folded = {d: n for d, n in period.filter(small).group_by("dimension").len().iter_rows() if d in SECTIONS}
    period = aggregate.fold_small(period, k)
    for dim in SECTIONS:
        rows = _ranked(period.filter(pl.col("dimension") == dim), dim)
        rep.sections[dim] = [
            {
                "key": key,
                "requests": int(r),
                "bytes": int(b),
                "share": None if dim in NOT_REQUESTS else round(r / rep.requests, 4) if rep.requests else 0.0,
            }
            for key, r, b in rows.select("key", "requests", "bytes").iter_rows()
        ]
    rep.bot_share = rep.kpi("bot_share").value or 0.0
    rep.series = {
        dim: [
            {"date": d.isoformat(), "key": key, "requests": int(n)}
            for d, key, n in daily.filter(pl.col("dimension") == dim).sort("date", "key").select(
                "date", "key", "requests").iter_rows()
        ]
        for dim in SERIES
    }  # fmt: skip
    rep.vhosts = _vhosts(merged, k, rep.requests)
    if vhost is not None:
        rep.notes.append(
            "Behavioural findings are counted per client across all vhosts: they are not shown for one vhost."
        )
    if compare == "previous":
        _compare(store, rep, vhost)
    if now is not None:
        rep.compliance = gather(store, policy, now, [d["date"] for d in rep.days], rep.folded)
    return rep


def _vhosts(merged: pl.DataFrame, k: int, requests: int) -> list[dict[str, Any]]:
    """Requests per vhost in the period (small ones folded), or nothing when no vhost was logged."""
    per = (
        merged.filter((pl.col("dimension") == "total") & pl.col("vhost").is_not_null())
        .group_by(pl.col("vhost").alias("key"))
        .agg(pl.col("requests").sum(), pl.col("bytes").sum())
        .with_columns(pl.lit("vhost").alias("dimension"))
    )
    if per.height == 0:
        return []
    rows = _ranked(aggregate.fold_small(per, k), "vhost")
    return [{"key": v, "requests": int(r), "share": round(r / requests, 4) if requests else 0.0}
            for v, r in rows.select("key", "requests").iter_rows()]  # fmt: skip


def _compare(store: Store, rep: Report, vhost: str | None) -> None:
    """Each KPI's value in the period of the same length just before the report's."""
    p_from, p_to = _previous(rep)
    rep.previous = {"from": p_from, "to": p_to}
    before = _read(store, p_from, p_to, vhost)
    if before.height == 0:
        rep.notes.append(f"No aggregates for the previous period ({p_from} … {p_to}): nothing to compare with.")
        return
    old = {k.key: k for k in _kpis(_per_day(before), _visitors_per_day(store, before, vhost))}
    for kpi in rep.kpis:
        kpi.previous = old[kpi.key].value


def hold_detail(store: Store, hold_id: str, now: datetime) -> tuple[Hold, pl.DataFrame]:
    """The rows an active incident hold matches, in full (addresses, requests): the only report
    that shows personal data, and only under a hold. Audited as ``report-hold``."""
    return held_rows(store, hold_id, now, "report-hold")
