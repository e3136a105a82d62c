"""Daily aggregates: counts per (day, dimension, key), computed at ingest and kept for good.

They hold no personal data: paths are stripped of their query and PII, referrers reduced to
their host, clients appear only as a country. Stored in long form so that partial aggregates
of several ingests simply add up; high-cardinality dimensions keep their ``top_n`` keys per
day and fold the rest into ``(other)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

from logtool.anonymize.fields import redact_pii, referrer_host
from logtool.schema import AGG_SCHEMA

OTHER = "(other)"
UNKNOWN = "(unknown)"

_RT_BUCKETS = [(0.1, "<0.1s"), (0.5, "0.1-0.5s"), (1.0, "0.5-1s"), (5.0, "1-5s")]


def _rt_bucket() -> pl.Expr:
    rt = pl.col("request_time_s")
    expr = pl.when(rt.is_null()).then(None)
    for limit, label in _RT_BUCKETS:
        expr = expr.when(rt < limit).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=5s"))


def _as_text(c: pl.Expr) -> pl.Expr:
    return c.cast(pl.String)


#: Dimension name → (cheap per-row expression, key function applied once per distinct value).
#: Expensive keys (PII redaction, referrer host) are thus computed on unique values only.
DIMENSIONS: dict[str, tuple[pl.Expr, Callable[[pl.Expr], pl.Expr]]] = {
    "total": (pl.lit("all"), _as_text),
    "status": (pl.col("status"), _as_text),
    "status_class": (pl.col("status") // 100, lambda c: pl.concat_str([c.cast(pl.String), pl.lit("xx")])),
    "method": (pl.col("method"), _as_text),
    "path": (pl.col("path"), redact_pii),
    "referrer_host": (pl.col("referrer"), referrer_host),
    "browser": (pl.col("ua_family"), _as_text),
    "os": (pl.col("os_family"), _as_text),
    "device": (pl.col("device"), _as_text),
    "bot": (pl.col("is_bot"), lambda c: pl.when(c).then(pl.lit("bot")).when(c.not_()).then(pl.lit("human"))),
    "country": (pl.col("country"), _as_text),
    "hour": (pl.col("ts").dt.hour(), lambda c: c.cast(pl.String).str.zfill(2)),
    "response_time": (_rt_bucket(), _as_text),
}

#: Dimensions whose keys can be unbounded; they are capped at ``top_n`` per day.
CAPPED = {"path", "referrer_host", "browser", "os", "country", "status"}


def daily(records: pl.DataFrame) -> pl.DataFrame:
    """Aggregate canonical records (raw or anonymised stage) per UTC day."""
    if records.height == 0:
        return pl.DataFrame(schema=AGG_SCHEMA)
    base = records.lazy().with_columns(pl.col("ts").dt.date().alias("date"), pl.col("bytes").fill_null(0))
    frames = []
    for name, (row_expr, key_fn) in DIMENSIONS.items():
        first = base.group_by("date", row_expr.alias("v")).agg(
            pl.len().cast(pl.Int64).alias("requests"), pl.col("bytes").sum().cast(pl.Int64)
        )
        frames.append(
            first.group_by("date", key_fn(pl.col("v")).fill_null(UNKNOWN).alias("key"))
            .agg(pl.col("requests").sum(), pl.col("bytes").sum())
            .select("date", pl.lit(name).alias("dimension"), "key", "requests", "bytes")
        )
    return pl.concat(pl.collect_all(frames))


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

    The ``total``, ``hour`` and ``status_class`` dimensions are never folded.
    """
    keep_all = pl.col("dimension").is_in(["total", "hour", "status_class", "bot"])
    small = ~keep_all & (pl.col("requests") < min_count)
    renamed = df.with_columns(pl.when(small).then(pl.lit(OTHER)).otherwise(pl.col("key")).alias("key"))
    group = [c for c in df.columns if c not in ("requests", "bytes")]
    return renamed.group_by(group).agg(pl.col("requests").sum(), pl.col("bytes").sum())


def days_of(df: pl.DataFrame) -> list[date]:
    return sorted(df.get_column("date").unique().to_list())
