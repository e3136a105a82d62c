"""Ingest-time enrichment, computed once per distinct value and joined back.

* client address → ``client_net`` (truncated network) and ``country``;
* user agent → ``ua_family``, ``ua_major``, ``os_family``, ``device``, ``is_bot``.

A :class:`LookupCache` keeps what earlier batches computed, so each distinct address or user
agent of a file costs one Python call at most, however often it recurs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl

from logtool.anonymize.fields import ua_table
from logtool.anonymize.ip import V4_RX, _v4_networks, network_text, opaque_token, parse_ip
from logtool.config import Policy
from logtool.geo import GeoDB


class LookupCache:
    """Columns derived from one key column, computed for new distinct keys only."""

    def __init__(self, key: str, compute: Callable[[pl.Series], pl.DataFrame], max_rows: int = 1_000_000) -> None:
        self.key, self.compute, self.max_rows = key, compute, max_rows
        self.table: pl.DataFrame | None = None

    def join(self, df: pl.DataFrame) -> pl.DataFrame:
        keys = df.get_column(self.key).drop_nulls().unique()
        if self.table is None or self.table.height + keys.len() > self.max_rows:
            self.table = self.compute(keys)  # (re)start: memory stays bounded
        else:
            new = keys.filter(~keys.is_in(self.table.get_column(self.key).implode()))
            if new.len():
                self.table = pl.concat([self.table, self.compute(new)])
        return df.join(self.table, on=self.key, how="left", maintain_order="left")


def client_table(ips: pl.Series, policy: Policy, secret: bytes, geo: GeoDB | None) -> pl.DataFrame:
    """``client_ip`` → ``client_net``, ``country`` for distinct addresses (each parsed once)."""
    ips = ips.rename("client_ip")
    is_v4 = ips.str.contains(V4_RX)
    fast, slow = ips.filter(is_v4), ips.filter(~is_v4)
    frames = [
        pl.DataFrame(
            {
                "client_ip": fast,
                "client_net": _v4_networks(fast, policy.ipv4_prefix),
                "country": pl.Series(
                    [geo.lookup(ip) for ip in fast.to_list()] if geo else [None] * fast.len(), dtype=pl.String
                ),
            }
        )
    ]
    if slow.len():
        nets, countries = [], []
        for text in slow.to_list():
            addr = parse_ip(text)
            if addr is None:
                nets.append(opaque_token(text, secret))
                countries.append(None)
                continue
            nets.append(network_text(addr, policy.ipv4_prefix, policy.ipv6_prefix))
            countries.append(geo.lookup(addr) if geo else None)
        frames.append(
            pl.DataFrame(
                {
                    "client_ip": slow,
                    "client_net": pl.Series(nets, dtype=pl.String),
                    "country": pl.Series(countries, dtype=pl.String),
                }
            )
        )
    return pl.concat(frames)


def visitor_table(day_ips: pl.Series, salt_for: Callable[[str], bytes]) -> pl.DataFrame:
    """``_day_ip`` ("YYYY-MM-DD|address") → ``_ip_key``: BLAKE2b keyed with the day's salt."""
    keys = []
    for v in day_ips.to_list():
        day, _, ip = v.partition("|")
        keys.append(hashlib.blake2b(ip.encode("utf-8", "replace"), key=salt_for(day), digest_size=16).hexdigest())
    return pl.DataFrame({"_day_ip": day_ips, "_ip_key": pl.Series(keys, dtype=pl.String)})


class Enricher:
    """Per-input enrichment state: one instance per ingested file.

    ``visitor_key`` is a keyed hash of (address, user agent, vhost) under the day's secret salt:
    the address part is a BLAKE2b MAC computed once per distinct (day, address); user agent and
    vhost are then mixed in vectorised. Without the salt no key can be recomputed.
    """

    def __init__(self, policy: Policy, secret: bytes, geo: GeoDB | None, salt_for: Callable[[str], bytes]) -> None:
        self.clients = LookupCache("client_ip", lambda s: client_table(s, policy, secret, geo))
        self.agents = LookupCache("user_agent", lambda s: ua_table(s), max_rows=200_000)
        self.visitors = LookupCache("_day_ip", lambda s: visitor_table(s, salt_for))

    def __call__(self, rec: pl.DataFrame) -> pl.DataFrame:
        rec = self.agents.join(self.clients.join(rec))
        day_ip = pl.concat_str([pl.col("ts").dt.date().cast(pl.String), pl.lit("|"), pl.col("client_ip")])
        rec = self.visitors.join(rec.with_columns(day_ip.alias("_day_ip")))
        mixed = pl.struct("_ip_key", "user_agent", "vhost").hash(seed=0x5EED)
        key = pl.concat_str([pl.col("_ip_key").str.slice(0, 16), mixed.cast(pl.String)], separator="-")
        return rec.with_columns(pl.when(pl.col("_ip_key").is_not_null()).then(key).alias("visitor_key")).drop(
            "_day_ip", "_ip_key"
        )
