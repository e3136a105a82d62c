"""Which rows incident holds keep: the hold predicate over raw and anonymised rows, and the
recording of holds that have lapsed.

A hold matches a row when the row's time is in ``[from, to)`` (``to`` open for an ongoing
incident) and, if the hold names networks, the client is in one of them. A quarantined line's
client is masked and cannot be checked, so any hold whose window covers the line's time keeps
it. Retention spares the rows active holds match; subject erasure keeps them; verify does not
count them as overdue.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from logtool.net import Network, parse_ip
from logtool.store import Hold, Partition, Store
from logtool.timespec import day_expired

if TYPE_CHECKING:  # polars loads when rows are matched: ``status`` of a store without holds never does
    import polars as pl


def active(store: Store, now: datetime) -> list[Hold]:
    """The holds in force at ``now``."""
    return [h for h in store.catalog.holds.all() if h.active(now)]


def _in_window(h: Hold) -> pl.Expr:
    import polars as pl

    from logtool.schema import TS

    ts = pl.col("ts")
    cond = ts >= pl.lit(h.start).cast(TS)
    if h.end is not None:
        cond = cond & (ts < pl.lit(h.end).cast(TS))
    return cond


def _client_in(values: pl.Series, nets: list[Network], anonymised: bool) -> pl.Series:
    """Per distinct client value: is it inside (raw addresses) or overlapping (anonymised
    networks) any of ``nets``? A hostname or token is not provably inside: not matched (a hold
    is an exception to deletion, so it keeps only what it names)."""
    import polars as pl

    uniq = values.drop_nulls().unique()
    hits = []
    for v in uniq.to_list():
        if anonymised:
            try:
                net = ipaddress.ip_network(v, strict=False)
                hits.append(any(net.version == n.version and net.overlaps(n) for n in nets))
            except ValueError:
                hits.append(False)  # a hostname's domain
        else:
            addr = parse_ip(v)
            hits.append(addr is not None and any(addr.version == n.version and addr in n for n in nets))
    mapping = pl.DataFrame({"v": uniq, "h": pl.Series(hits, dtype=pl.Boolean)})
    return pl.DataFrame({"v": values}).join(mapping, on="v", how="left", maintain_order="left").get_column("h")


def held_mask(df: pl.DataFrame, holds: list[Hold], stage: str) -> pl.Series:
    """True for the rows of ``df`` (raw, anonymised or quarantine stage, of logs or of
    conversations: ``conv_raw`` rows carry ``client_ip`` like ``raw`` ones) that any of
    ``holds`` matches. A quarantined line's client cannot be checked: any hold whose window
    covers it keeps it."""
    import polars as pl

    mask = pl.repeat(False, df.height, eager=True)
    raw = stage in ("raw", "conv_raw")
    col = "client_ip" if raw else "client_net"
    for h in holds:
        in_window = df.select(_in_window(h)).to_series()
        if h.networks and stage != "quarantine":
            nets = [ipaddress.ip_network(n) for n in h.networks]
            in_window = in_window & _client_in(df.get_column(col), nets, not raw).fill_null(False)
        mask = mask | in_window
    return mask.fill_null(False)


def overlaps_day(h: Hold, day: str) -> bool:
    start = datetime.fromisoformat(day).replace(tzinfo=h.start.tzinfo)
    end = start + timedelta(days=1)
    return h.start < end and (h.end is None or h.end > start)


def held_on_day(
    store: Store, day: str, parts: list[Partition], stage: str, holds: list[Hold]
) -> tuple[list[Hold], int]:
    """The ``holds`` that touch ``day`` and how many rows of ``parts`` (one stage, that day)
    they match; no data is read when no hold touches the day."""
    day_holds = [h for h in holds if overlaps_day(h, day)]
    if not day_holds:
        return [], 0
    return day_holds, sum(int(held_mask(df, day_holds, stage).sum()) for df in store.iter_parts(parts, stage))


def overdue_days(
    store: Store, kept: dict[str, int], stages: tuple[str, ...], now: datetime
) -> Iterator[tuple[str, str, int]]:
    """(stage, day, rows) for each day of ``stages`` older than ``kept`` (stage → days, see
    ``Policy.kept_days``) allows, not counting evidence under an active hold (retention keeps
    that on purpose); ``status`` sums these, ``verify`` names each day with rows left."""
    holds = active(store, now)
    for stage in stages:
        for day in sorted({p.date for p in store.parts(stage) if day_expired(p.date, now, kept[stage])}):
            parts = store.parts(stage, day, day)
            yield stage, day, sum(p.rows for p in parts) - held_on_day(store, day, parts, stage, holds)[1]


def record_expiries(store: Store, now: datetime) -> list[str]:
    """Write one audit entry per hold that has lapsed since the last check."""
    lapsed = [h for h in store.catalog.holds.all() if h.released_at is None and h.expires_at <= now]
    done = set(json.loads(store.catalog.meta.get("holds_expiry_audited") or "[]"))
    new = [h.id for h in lapsed if h.id not in done]
    if new:
        with store.change("hold-expired", now, {"hold": new[0]}) as ch:
            for hold_id in new[1:]:
                ch.note("hold-expired", {"hold": hold_id})
            ch.then(lambda cat: cat.meta.set("holds_expiry_audited", json.dumps(sorted(done | set(new)))))
    return new
