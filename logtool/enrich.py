"""Ingest-time enrichment, computed once per distinct value and joined back.

* client address → ``client_net`` (truncated network) and ``country``;
* user agent → ``ua_family``, ``ua_major``, ``os_family``, ``device``, ``is_bot``.

A :class:`LookupCache` keeps what earlier batches computed, so each distinct address or user
agent of a file costs one Python call at most, however often it recurs.
"""

from __future__ import annotations

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


class Enricher:
    """Per-input enrichment state: one instance per ingested file."""

    def __init__(self, policy: Policy, secret: bytes, geo: GeoDB | None) -> None:
        self.clients = LookupCache("client_ip", lambda s: client_table(s, policy, secret, geo))
        self.agents = LookupCache("user_agent", lambda s: ua_table(s), max_rows=200_000)

    def __call__(self, rec: pl.DataFrame) -> pl.DataFrame:
        return self.agents.join(self.clients.join(rec))
