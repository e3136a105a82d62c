"""Daily aggregates: counts per (day, dimension, key), computed at ingest and kept for good.

They hold no personal data: paths are stripped of their query and PII, referrers reduced to
their host, clients appear only as a country. Stored in long form so that partial aggregates
of several ingests simply add up; high-cardinality dimensions keep their ``top_n`` keys per
day and fold the rest into ``(other)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from logtool.anonymize.fields import referrer_host
from logtool.anonymize.redact import redact
from logtool.config import DEFAULT_SENSITIVE_PARAMS
from logtool.detect.signatures import request_flags
from logtool.schema import AGG_SCHEMA

if TYPE_CHECKING:
    from logtool.store import Partition, Store

OTHER = "(other)"
#: Dimension holding the exact daily unique-visitor count, written when a day leaves raw.
VISITORS = "visitors"
UNKNOWN = "(unknown)"

_RT_BUCKETS = [(0.1, "<0.1s"), (0.5, "0.1-0.5s"), (1.0, "0.5-1s"), (5.0, "1-5s")]


def _rt_bucket() -> pl.Expr:
    rt = pl.col("request_time_s")
    expr = pl.when(rt.is_null()).then(None)
    for limit, label in _RT_BUCKETS:
        expr = expr.when(rt < limit).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=5s"))


KeyFn = Callable[[pl.Series, tuple[str, ...]], pl.Series]


def _text(s: pl.Series, _: tuple[str, ...]) -> pl.Series:
    return s.cast(pl.String)


def _expr(fn: Callable[[pl.Expr], pl.Expr]) -> KeyFn:
    return lambda s, _: pl.select(fn(pl.lit(s))).to_series()


#: Dimension name → (cheap per-row expression, key function applied once per distinct value).
#: Expensive keys (PII redaction, referrer host) are thus computed on distinct values only.
DIMENSIONS: dict[str, tuple[pl.Expr, KeyFn]] = {
    "total": (pl.lit("all"), _text),
    "status": (pl.col("status"), _text),
    "status_class": (pl.col("status") // 100, _expr(lambda c: pl.concat_str([c.cast(pl.String), pl.lit("xx")]))),
    "method": (pl.col("method"), _text),
    "path": (pl.col("path"), lambda s, sensitive: redact(s.cast(pl.String), sensitive)),
    "referrer_host": (pl.col("referrer"), _expr(referrer_host)),
    "browser": (pl.col("ua_family"), _text),
    "os": (pl.col("os_family"), _text),
    "device": (pl.col("device"), _text),
    "bot": (pl.col("is_bot"), _expr(lambda c: pl.when(c).then(pl.lit("bot")).when(c.not_()).then(pl.lit("human")))),
    "country": (pl.col("country"), _text),
    "hour": (pl.col("ts").dt.hour(), _expr(lambda c: c.cast(pl.String).str.zfill(2))),
    "response_time": (_rt_bucket(), _text),
}

#: Dimensions whose keys can be unbounded; they are capped at ``top_n`` per day.
CAPPED = {"path", "referrer_host", "browser", "os", "country", "status"}


#: Requests per attack category (signatures, protocol anomalies, fake crawlers), per day.
ATTACKS = "attack"
#: Behavioural findings per category, written once when a day leaves the raw stage.
FINDINGS = "findings"


def attacks(records: pl.DataFrame, rules: dict[str, Any]) -> pl.DataFrame:
    """Flagged requests per (day, category): attack trends without personal data."""
    flags = request_flags(records, rules).with_columns(records.get_column("ts").dt.date().alias("date"))
    long = flags.unpivot(index="date", variable_name="key", value_name="hit").filter(pl.col("hit"))
    return (
        long.group_by("date", "key")
        .agg(pl.len().cast(pl.Int64).alias("requests"))
        .select("date", pl.lit(ATTACKS).alias("dimension"), "key", "requests", pl.lit(0, dtype=pl.Int64).alias("bytes"))
    )


def daily(
    records: pl.DataFrame, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS, rules: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Aggregate canonical records (raw or anonymised stage) per UTC day; with review ``rules``,
    also the requests per attack category."""
    if records.height == 0:
        return pl.DataFrame(schema=AGG_SCHEMA)
    base = records.lazy().with_columns(pl.col("ts").dt.date().alias("date"), pl.col("bytes").fill_null(0))
    firsts = pl.collect_all(
        [
            base.group_by("date", row_expr.alias("v")).agg(
                pl.len().cast(pl.Int64).alias("requests"), pl.col("bytes").sum().cast(pl.Int64)
            )
            for row_expr, _ in DIMENSIONS.values()
        ]
    )
    out = []
    for (name, (_, key_fn)), first in zip(DIMENSIONS.items(), firsts, strict=True):
        keyed = first.with_columns(key_fn(first.get_column("v"), sensitive).fill_null(UNKNOWN).alias("key"))
        out.append(
            keyed.group_by("date", "key")
            .agg(pl.col("requests").sum(), pl.col("bytes").sum())
            .select("date", pl.lit(name).alias("dimension"), "key", "requests", "bytes")
        )
    if rules is not None:
        out.append(attacks(records, rules))
    return pl.concat(out)


def merge(frames: list[pl.DataFrame], top_n: int | None = None) -> pl.DataFrame:
    """Add partial aggregates together; optionally cap capped dimensions at ``top_n`` keys."""
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=AGG_SCHEMA)
    out = pl.concat(frames).group_by("date", "dimension", "key").agg(pl.col("requests").sum(), pl.col("bytes").sum())
    if top_n is not None:
        out = cap(out, top_n)
    return out.sort("date", "dimension", "requests", "key", descending=[False, False, True, False])


def cap(df: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """Keep the ``top_n`` keys of each capped (date, dimension); sum the rest into ``(other)``."""
    ranked = df.with_columns(pl.col("requests").rank("ordinal", descending=True).over("date", "dimension").alias("_r"))
    fold = pl.col("dimension").is_in(list(CAPPED)) & (pl.col("_r") > top_n)
    kept = ranked.filter(~fold).drop("_r")
    folded = (
        ranked.filter(fold)
        .group_by("date", "dimension")
        .agg(pl.lit(OTHER).alias("key"), pl.col("requests").sum(), pl.col("bytes").sum())
        .select(kept.columns)
    )
    return merge_plain(kept, folded)


def merge_plain(*frames: pl.DataFrame) -> pl.DataFrame:
    return (
        pl.concat([f.select(list(AGG_SCHEMA)).cast(AGG_SCHEMA) for f in frames])  # type: ignore[arg-type]
        .group_by("date", "dimension", "key")
        .agg(pl.col("requests").sum(), pl.col("bytes").sum())
    )


def fold_small(df: pl.DataFrame, min_count: int) -> pl.DataFrame:
    """Fold keys with fewer than ``min_count`` requests into ``(other)`` (k-anonymity for reports).

    Dimensions whose keys are fixed categories (total, hour, status class, bot, attack and
    finding categories) are never folded: their counts name nobody.
    """
    keep_all = pl.col("dimension").is_in(["total", "hour", "status_class", "bot", ATTACKS, FINDINGS])
    small = ~keep_all & (pl.col("requests") < min_count)
    renamed = df.with_columns(pl.when(small).then(pl.lit(OTHER)).otherwise(pl.col("key")).alias("key"))
    group = [c for c in df.columns if c not in ("requests", "bytes")]
    return renamed.group_by(group).agg(pl.col("requests").sum(), pl.col("bytes").sum())


def unique_visitors(store: Store, parts: list[Partition]) -> int:
    """Distinct visitor keys in raw partitions (streamed by polars)."""
    if not parts:
        return 0
    lf = store.scan(parts).select(pl.col("visitor_key").drop_nulls().n_unique())
    return int(store.collect(lf, parts, "raw").item())
