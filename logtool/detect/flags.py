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
    not_there,
    probed,
    protocol_anomalies,
    request_anomalies,
    request_target,
)
from logtool.parsers.normalise import REQUEST_CODE
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
    :data:`REQUEST_CATEGORIES`: the categories :func:`request_hits` finds for the row.

    Parsed records carry :data:`~logtool.parsers.normalise.REQUEST_CODE`: then what derives
    from the request line alone (its target's signatures, probes, protocol anomalies) is worked
    out once per distinct request and handed to its rows by that code."""
    cache = cache or SignatureCache()
    flags = {c: pl.repeat(False, df.height, eager=True) for c in REQUEST_CATEGORIES}
    requests = _requests(df)
    agents = None
    for field, column, cats in FIELDS:
        if field == "request" and requests is not None:  # the targets of the distinct requests
            reqs, codes = requests
            targets = reqs.select(request_target().alias("v")).to_series()
            hits = cache.fields[field].update(targets).filter(pl.any_horizontal(list(cats)))
            found = pl.DataFrame({"_req": reqs.get_column("_req"), "v": targets}).join(hits, on="v", how="inner")
            for cat in cats:
                flags[cat] = flags[cat] | _rows(codes, found.filter(cat))
            continue
        values = _field_values(df, field, column)
        if values is None:
            continue
        if field == "user_agent":  # the distinct agents: the fake crawlers' too
            agents = values.drop_nulls().unique()
        table = cache.fields[field].update(agents if field == "user_agent" else values)
        hits = table.filter(pl.any_horizontal(list(cats)))
        if hits.height == 0:
            continue
        idx = values.is_in(hits.get_column("v").implode()).fill_null(False).arg_true()
        found = pl.DataFrame({"v": values.gather(idx)}).join(hits, on="v", how="left", maintain_order="left")
        for cat in cats:
            flags[cat] = flags[cat].scatter(idx.filter(found.get_column(cat)), True)
    if "path" in df.columns and requests is not None:
        if "status" in df.columns:
            reqs, codes = requests
            asked = _rows(codes, reqs.filter(probed(reqs.get_column("path"))))
            flags["sensitive_file"] = flags["sensitive_file"] | (asked & not_there(df.get_column("status")))
    elif "path" in df.columns:
        probes = missing_probes(df, df.get_column("path")).get_column("_row")
        flags["sensitive_file"] = flags["sensitive_file"].scatter(probes, True)
    flags["protocol"] = (
        protocol_anomalies(df, rules["protocol"]) if requests is None else _anomalies(df, requests, rules)
    )
    client = "client_ip" if "client_ip" in df.columns else "client_net"
    flags["fake_bot"] = fake_bots(df, rules["fake_bot"], client, asn, rules.get("crawlers"), agents=agents)
    return pl.DataFrame({c: flags[c].alias(c) for c in REQUEST_CATEGORIES})


def _requests(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series] | None:
    """The distinct requests of parsed records (``_req``, ``_n`` rows, and the request's parts)
    and each row's code; None for frames without codes, or with rows of several files (the
    protocol rules weigh each file apart)."""
    if REQUEST_CODE not in df.columns or "path" not in df.columns or "source_file" in df.columns:
        return None
    if df.get_column(REQUEST_CODE).null_count():  # (parsed records have none: a frame made otherwise)
        return None
    parts = [c for c in ("method", "path", "query", "protocol") if c in df.columns]
    codes = df.get_column(REQUEST_CODE)
    reqs = df.select(REQUEST_CODE, *parts).unique(subset=REQUEST_CODE, keep="any")  # (a group-by: slower)
    reqs = reqs.join(codes.value_counts(name="_n"), on=REQUEST_CODE)
    return reqs.rename({REQUEST_CODE: "_req"}), codes


def _rows(codes: pl.Series, requests: pl.DataFrame) -> pl.Series:
    """Per row: is its request one of ``requests`` (by ``_req``)?"""
    if requests.height == 0:
        return pl.repeat(False, codes.len(), eager=True)
    return codes.is_in(requests.get_column("_req").implode()).fill_null(False)


def _anomalies(df: pl.DataFrame, requests: tuple[pl.DataFrame, pl.Series], rules: dict[str, Any]) -> pl.Series:
    """:func:`protocol_anomalies` of parsed records (one file's), once per distinct request."""
    reqs, codes = requests
    n = pl.col("_n")

    def usual(expr: pl.Expr) -> pl.Expr:  # the share of the rows, each request weighed by its rows
        return (expr.cast(pl.Float64) * n).sum() / n.sum() >= 0.5

    itself, empty = request_anomalies(reqs.columns, rules["protocol"], usual)
    kinds = reqs.select("_req", itself.fill_null(False).alias("itself"), empty.alias("empty"))
    status = (
        df.get_column("status") if "status" in df.columns else pl.repeat(None, df.height, dtype=pl.Int16, eager=True)
    )
    answered = status.is_not_null() & (status != 408)
    return (_rows(codes, kinds.filter("itself")) | (_rows(codes, kinds.filter("empty")) & answered)).fill_null(False)
