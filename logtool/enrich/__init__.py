"""Ingest-time enrichment, computed once per distinct value and joined back.

* client address → ``client_net`` (truncated network) and ``country``;
* user agent → ``ua_family``, ``ua_major``, ``os_family``, ``device``, ``is_bot``.

A :class:`LookupCache` keeps what earlier batches (of every input of an ingest call) computed,
so a distinct address or user agent is computed about once, however often it recurs (again
after a lost concurrent update or when the full table starts over).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from logtool.config import Policy
from logtool.enrich.geo import GeoDB
from logtool.enrich.ua import ua_table
from logtool.net import network_table
from logtool.pipeline import LookupCache, join_caches
from logtool.schema import AGENT_CODE, day_span


def client_table(ips: pl.Series, policy: Policy, geo: GeoDB | None) -> pl.DataFrame:
    """``client_ip`` → ``client_net``, ``country`` for distinct addresses (each parsed once)."""
    table = network_table(ips, policy.ipv4_prefix, policy.ipv6_prefix)
    countries = (
        geo.country_series(table.get_column("ip"))
        if geo
        else pl.repeat(None, table.height, dtype=pl.String, eager=True)
    )
    return table.select(
        pl.col("ip").alias("client_ip"),
        pl.col("net").alias("client_net"),
        countries.alias("country"),
    )


class Enricher:
    """Enrichment state: one instance per ingest call, shared by its inputs (the caches hold
    what depends on the address or agent, the policy's prefixes and the country database only).

    ``visitor_key`` is a keyed hash of (address, user agent, vhost): polars' vectorised hash,
    seeded with a secret derived from the day's salt. It lives only in the raw stage, next to
    the address it is computed from, and serves to count unique visitors; once the day leaves
    the raw stage the salt is destroyed with it, so no key can be recomputed.

    :meth:`seeds` reads the catalog (the caller's thread); :meth:`__call__` and
    :meth:`visitor_keys` only compute, so batches may be enriched on worker threads (the caches
    tolerate that).
    """

    def __init__(self, policy: Policy, geo: GeoDB | None, salt_for: Callable[[str], bytes]) -> None:
        # 100,000 addresses: a table of 250,000 cost more to join every batch against (and held
        # ~60 MiB more at 10M lines) than the addresses it saved recomputing (~1 µs each)
        self.clients = LookupCache("client_ip", lambda s: client_table(s, policy, geo), max_rows=100_000)
        self.agents = LookupCache("user_agent", lambda s: ua_table(s), max_rows=200_000, number=AGENT_CODE)
        self.salt_for = salt_for

    def seeds(self, rec: pl.DataFrame) -> dict[date, int]:
        """The hash seed of each UTC day in ``rec`` (from the day's salt)."""
        lo, hi = rec.select(*day_span()).row(0)
        if lo == hi:  # the usual batch: one day
            days = [] if lo is None else [lo]
        else:
            days = rec.select(pl.col("ts").dt.date().unique()).to_series().drop_nulls().to_list()
        return {d: int.from_bytes(self.salt_for(d.isoformat())[:8], "big") for d in days}

    def __call__(self, rec: pl.DataFrame) -> pl.DataFrame:
        """``rec`` with the client's network and country and the user agent's classes."""
        return join_caches(rec, (self.clients, self.agents))

    def visitor_keys(self, rec: pl.DataFrame, seeds: dict[date, int]) -> pl.DataFrame:
        """``rec`` with ``visitor_key`` (``seeds``: from :meth:`seeds`, for every day of ``rec``)."""
        hashed = [(d, pl.struct("client_ip", "user_agent", "vhost").hash(seed=seed)) for d, seed in seeds.items()]
        key: pl.Expr = pl.lit(None, dtype=pl.UInt64)
        if len(hashed) == 1:  # the usual batch: one day
            key = hashed[0][1]
        else:
            day = pl.col("ts").dt.date()
            for d, h in hashed:
                key = pl.when(day == d).then(h).otherwise(key)
        known = pl.col("client_ip").is_not_null() & pl.col("ts").is_not_null()
        return rec.with_columns(pl.when(known).then(key.cast(pl.String)).alias("visitor_key"))
