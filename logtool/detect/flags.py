"""Per-row attack flags for the aggregates' attack counts: the categories of
:func:`logtool.detect.signatures.request_hits`, without excerpts or field names.

Ingest counts attacks in every batch. The values that carry attacker text repeat (a file has
far fewer distinct request targets, agents and referrers than lines), so a
:class:`SignatureCache` shared by an ingest call's batches (of every input) classifies each
distinct value once and every later batch only joins its rows to what is known. Bounded: a
field's table starts over when it would pass ``max_rows``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from logtool.detect.crawlers import fake_bots
from logtool.detect.signatures import (
    FIELDS,
    REQUEST_CATEGORIES,
    agent_column,
    classify,
    missing_probes,
    protocol_anomalies,
    request_target,
)
from logtool.pipeline import LookupCache


class SignatureCache:
    """Per field that carries attacker text, the categories of the distinct values seen so far
    (one boolean column per category). Safe to share between worker threads (a concurrent
    update may be lost; it is recomputed when needed)."""

    def __init__(self, max_rows: int = 200_000) -> None:
        self.fields = {
            field: LookupCache("v", lambda s, f=field, c=cats: classify(s, c, field=f).drop("n"), max_rows)
            for field, _, cats in FIELDS
        }


def _field_values(df: pl.DataFrame, field: str, column: str) -> pl.Series | None:
    if field == "request":
        return df.select(request_target().alias("v")).to_series() if "path" in df.columns else None
    if column == "user_agent":
        column = agent_column(df)
    if column not in df.columns or df.get_column(column).null_count() == df.height:
        return None
    return df.get_column(column).alias("v")


def request_flags(
    df: pl.DataFrame, rules: dict[str, Any], asn: Any = None, cache: SignatureCache | None = None
) -> pl.DataFrame:
    """Per row of a raw- or anonymised-stage frame, one boolean column per
    :data:`REQUEST_CATEGORIES`: the categories :func:`request_hits` finds for the row."""
    cache = cache or SignatureCache()
    flags = {c: pl.repeat(False, df.height, eager=True) for c in REQUEST_CATEGORIES}
    for field, column, cats in FIELDS:
        values = _field_values(df, field, column)
        if values is None:
            continue
        table = cache.fields[field].update(values)
        hits = table.filter(pl.any_horizontal(list(cats)))
        if hits.height == 0:
            continue
        idx = values.is_in(hits.get_column("v").implode()).fill_null(False).arg_true()
        found = pl.DataFrame({"v": values.gather(idx)}).join(hits, on="v", how="left", maintain_order="left")
        for cat in cats:
            flags[cat] = flags[cat].scatter(idx.filter(found.get_column(cat)), True)
    if "path" in df.columns:
        probes = missing_probes(df, df.get_column("path")).get_column("_row")
        flags["sensitive_file"] = flags["sensitive_file"].scatter(probes, True)
    flags["protocol"] = protocol_anomalies(df, rules["protocol"])
    client = "client_ip" if "client_ip" in df.columns else "client_net"
    flags["fake_bot"] = fake_bots(df, rules["fake_bot"], client, asn, rules.get("crawlers"))
    return pl.DataFrame({c: flags[c].alias(c) for c in REQUEST_CATEGORIES})
