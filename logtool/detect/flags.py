"""Per-row attack flags for the aggregates' attack counts: the categories of
:func:`logtool.detect.signatures.request_hits`, without excerpts or field names.

Ingest counts attacks in every batch. The values that carry attacker text repeat (a file has
far fewer distinct request targets, agents and referrers than lines), so a
:class:`SignatureCache` shared by an ingest call's batches (of every input) classifies each
distinct value once and every later batch only joins its rows to what is known. Bounded: a
field's table starts over when it would pass ``max_rows``.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import polars as pl

from logtool.detect.crawlers import fake_bots
from logtool.detect.signatures import (
    CATEGORIES,
    FIELDS,
    REQUEST_CATEGORIES,
    agent_column,
    answered,
    classify,
    missing_probes,
    not_there_expr,
    probed_expr,
    protocol_anomalies,
    request_anomalies,
    request_target,
)
from logtool.parsers.normalise import REQUEST_CODE
from logtool.pipeline import ENGINE, LookupCache


class SignatureCache:
    """Per field that carries attacker text, the categories of the distinct values seen so far
    (one boolean column per category). Safe to share between worker threads (a concurrent
    update may be lost; it is recomputed when needed)."""

    def __init__(self, max_rows: int = 200_000) -> None:
        self.fields = {
            field: LookupCache("v", lambda s, f=field, c=cats: classify(s, c, field=f).drop("n"), max_rows)
            for field, _, cats in FIELDS
        }


#: A bit per category in the masks of :func:`request_flags`, and three for what a request's
#: rows decide (a probe, if answered 4xx; an anomaly by itself; empty, if not answered 408).
_BIT = {c: 1 << i for i, c in enumerate(REQUEST_CATEGORIES)}
_PROBE, _ITSELF, _EMPTY = 1 << 29, 1 << 30, 1 << 31
assert max(_BIT.values()) < _PROBE


def _bit(cond: pl.Expr, value: int) -> pl.Expr:
    """``value`` where ``cond`` holds, else 0 (``UInt32``)."""
    return pl.when(cond).then(pl.lit(value, pl.UInt32)).otherwise(pl.lit(0, pl.UInt32))


def _mask(cats: tuple[str, ...]) -> pl.Expr:
    """The bits of the true ones of the boolean columns ``cats``."""
    return functools.reduce(operator.or_, [_bit(pl.col(c), _BIT[c]) for c in cats])


def request_flags(
    df: pl.DataFrame, rules: dict[str, Any], asn: Any = None, cache: SignatureCache | None = None
) -> pl.DataFrame:
    """Per row of a raw- or anonymised-stage frame, one boolean column per
    :data:`REQUEST_CATEGORIES`: the categories :func:`request_hits` finds for the row.

    Each field's distinct values are classified (those its cache lacks), those that hit become
    a mask of category bits, and one ``is_in`` per field finds the rows that carry them (a few
    in a hundred; joining every row cost four times as much). Parsed records carry
    :data:`~logtool.parsers.normalise.REQUEST_CODE`: then what derives from the request line
    alone (its target's signatures, probes, protocol anomalies) is worked out once per distinct
    request, and reaches the request's rows by that code. A polars call costs a batch ~0.1 ms
    however small its input: a batch of parsed records takes ~45 calls here, where a call per
    field and category took ~115."""
    cache = cache or SignatureCache()
    requests = _requests(df)
    fields = []  # (name, categories, the values to classify, the key of each row or None)
    for field, column, cats in FIELDS:
        if field == "request" and "path" in df.columns:
            target = request_target().alias("v")
            rows = df.select(target).lazy() if requests is None else None  # made once: used twice
            fields.append((field, cats, requests[0].lazy().select(target) if requests else rows, rows))
        elif field != "request":
            column = agent_column(df) if column == "user_agent" else column
            if column in df.columns and df.get_column(column).null_count() < df.height:
                rows = df.lazy().select(pl.col(column).alias("v"))
                fields.append((field, cats, rows, rows))
    # each field's distinct values (one pass over its rows); those its cache lacks classified
    distinct = pl.collect_all([v.select(pl.first().drop_nulls().unique()) for _, _, v, _ in fields], engine=ENGINE)
    lookups = [cache.fields[f] for f, *_ in fields]
    tables = [lookup.table for lookup in lookups]  # read once: another thread may replace them
    new = pl.collect_all([lk.new_keys(d.lazy(), t) for lk, d, t in zip(lookups, distinct, tables, strict=True)],
                         engine=ENGINE)  # fmt: skip
    tables = [
        lk.add(t, got.to_series(), d.lazy()) for lk, t, got, d in zip(lookups, tables, new, distinct, strict=True)
    ]
    plans = [t.lazy().filter(pl.any_horizontal(cats)).select("v", _mask(cats).alias("m"))
             for (_, cats, _, _), t in zip(fields, tables, strict=True)]  # fmt: skip
    hits = dict(zip((f for f, *_ in fields), pl.collect_all(plans, engine=ENGINE), strict=True))
    keyed = [(rows, hits[f]) for f, _, _, rows in fields if rows is not None]
    if requests is not None:
        keyed.append((requests[1].to_frame("v").lazy(), _per_request(*requests, hits["request"], rules)))
    marked = [
        rows.with_row_index("_i").filter(pl.col("v").is_in(found.get_column("v").implode()))
        .join(found.lazy(), on="v").select("_i", "m")
        for rows, found in keyed if found.height
    ]  # fmt: skip
    bits = pl.repeat(0, df.height, dtype=pl.UInt32, eager=True)
    if marked:
        found = pl.concat(marked).group_by("_i").agg(pl.col("m").bitwise_or()).collect(engine=ENGINE)
        bits = bits.scatter(found.get_column("_i"), found.get_column("m"))
    status = df.get_column("status") if "status" in df.columns else pl.repeat(None, df.height, pl.Int16, eager=True)

    def has(bit: int) -> pl.Expr:
        return (pl.col("m") & bit) != 0

    flags = pl.DataFrame({"m": bits, "_status": status}).select(
        *(has(_BIT[c]).alias(c) for c in CATEGORIES if c != "sensitive_file"),
        (has(_BIT["sensitive_file"]) | (has(_PROBE) & not_there_expr(pl.col("_status")))).alias("sensitive_file"),
        (has(_ITSELF) | (has(_EMPTY) & answered(pl.col("_status")))).alias("protocol"),
    )
    if requests is None:  # the row-by-row rules
        if "path" in df.columns:
            probes = missing_probes(df, df.get_column("path")).get_column("_row")
            flags = flags.with_columns(flags.get_column("sensitive_file").scatter(probes, True))
        flags = flags.with_columns(protocol_anomalies(df, rules["protocol"]))
    agents = next((d.to_series() for (f, *_), d in zip(fields, distinct, strict=True) if f == "user_agent"), None)
    client = "client_ip" if "client_ip" in df.columns else "client_net"
    bots = fake_bots(df, rules["fake_bot"], client, asn, rules.get("crawlers"), agents=agents)
    return flags.with_columns(bots.alias("fake_bot")).select(REQUEST_CATEGORIES)


def _per_request(reqs: pl.DataFrame, codes: pl.Series, hits: pl.DataFrame, rules: dict[str, Any]) -> pl.DataFrame:
    """The distinct requests that have bits (``v``: the code; ``m``): their target's signature
    categories, whether the path is a probe, and their protocol anomalies (the file-level
    "usual" shares weigh each request by its rows)."""
    n = pl.col("_n")

    def usual(expr: pl.Expr) -> pl.Expr:
        return (expr.cast(pl.Float64) * n).sum() / n.sum() >= 0.5

    itself, empty = request_anomalies(reqs.columns, rules["protocol"], usual)
    m = (pl.col("m").fill_null(0) | _bit(probed_expr(pl.col("path")), _PROBE) | _bit(itself.fill_null(False), _ITSELF)
         | _bit(empty, _EMPTY))  # fmt: skip
    per = reqs.lazy().with_columns(request_target().alias("v")).join(hits.lazy(), on="v", how="left")
    return per.select(pl.col("_req").alias("v"), m.alias("m")).filter(pl.col("m") != 0).collect(engine=ENGINE)


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
