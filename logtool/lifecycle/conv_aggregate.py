"""Daily conversation aggregates: counts per (day, dimension, key), kept for good.

Dimensions (``count`` is conversations unless said otherwise; ``seconds`` is call time):

* ``channel`` — conversations per channel (``voice``, ``chat``); seconds of calls;
* ``records`` — records per kind (``call``, ``utterance``, ``message``): the calls per day;
* ``duration`` — calls per duration bucket;
* ``status`` — calls per status (``voice:completed``), chats per outcome (``chat:resolved``);
* ``direction`` — calls per direction; ``answered_by`` — calls per answering party;
* ``country`` — conversations per country of the other party's number or the client address;
* ``functions`` — conversations in which the bot used each function;
* ``role`` — messages and utterances per speaker (``chat:user``, ``voice:agent``).

A conversation is counted on every day it has records. Unlike the web aggregates these are not
added up from partial counts (a chat session can span files): a day's aggregates are computed
from all of its conversation rows, raw and anonymised (both keep every column used here), each
time a file adds to it. They hold no personal data; reports fold small groups.
"""

from __future__ import annotations

import polars as pl

from logtool.anonymize.text import redact_text
from logtool.schema import CONV_AGG_SCHEMA

OTHER = "(other)"
UNKNOWN = "(unknown)"
#: The columns aggregates read (present in both conversation stages).
COLUMNS = ["ts", "kind", "channel", "conversation_id", "role", "direction", "status", "answered_by", "duration_s",
           "country", "functions"]  # fmt: skip
#: Dimensions whose keys are fixed categories: never folded into "(other)" in reports.
FIXED = ("channel", "records", "duration", "direction", "answered_by", "role")

_BUCKETS = [(30, "<30s"), (120, "30s-2m"), (300, "2-5m"), (900, "5-15m")]


def _bucket() -> pl.Expr:
    d = pl.col("duration_s")
    expr = pl.when(d.is_null()).then(pl.lit(UNKNOWN))
    for limit, label in _BUCKETS:
        expr = expr.when(d < limit).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=15m"))


def _agg(df: pl.LazyFrame, dim: str, key: pl.Expr, count: pl.Expr, seconds: pl.Expr | None = None) -> pl.LazyFrame:
    return (
        df.group_by("date", key.fill_null(UNKNOWN).cast(pl.String).alias("key"))
        .agg(
            count.cast(pl.Int64).alias("count"),
            (seconds if seconds is not None else pl.lit(0.0)).cast(pl.Float64).alias("seconds"),
        )
        .select("date", pl.lit(dim).alias("dimension"), "key", "count", "seconds")
    )


def daily(records: pl.DataFrame) -> pl.DataFrame:
    """Aggregate conversation rows (raw or anonymised stage, all rows of their days)."""
    if records.height == 0:
        return pl.DataFrame(schema=CONV_AGG_SCHEMA)
    base = records.lazy().select(COLUMNS).with_columns(pl.col("ts").dt.date().alias("date"))
    # a call exported twice (a REST page and the console CSV) is one call
    calls = base.filter(pl.col("kind") == "call").unique(["date", "conversation_id"], keep="first", maintain_order=True)
    # one row per (day, conversation): its channel, outcome, country and the functions used
    conv = base.group_by("date", "channel", "conversation_id").agg(
        pl.col("status").drop_nulls().last().alias("status"),
        pl.col("country").drop_nulls().first().alias("country"),
        pl.col("functions").drop_nulls().str.split(",").explode().unique().alias("fns"),
        pl.col("duration_s").filter(pl.col("kind") == "call").sum().alias("call_s"),
    )
    talk = base.filter(pl.col("kind") != "call")
    frames = [
        _agg(conv, "channel", pl.col("channel"), pl.len(), pl.col("call_s").sum()),
        _agg(pl.concat([calls, base.filter(pl.col("kind") != "call")]), "records", pl.col("kind"), pl.len()),
        _agg(calls, "duration", _bucket(), pl.len(), pl.col("duration_s").sum()),
        _agg(calls, "status", pl.concat_str([pl.lit("voice:"), pl.col("status").fill_null(UNKNOWN)]), pl.len()),
        _agg(
            conv.filter(pl.col("channel") == "chat"),
            "status",
            pl.concat_str([pl.lit("chat:"), pl.col("status").fill_null(UNKNOWN)]),
            pl.len(),
        ),  # fmt: skip
        _agg(calls, "direction", pl.col("direction"), pl.len()),
        _agg(calls.filter(pl.col("answered_by").is_not_null()), "answered_by", pl.col("answered_by"), pl.len()),
        _agg(conv, "country", pl.col("country"), pl.len()),
        _agg(conv.explode("fns").filter(pl.col("fns").is_not_null()), "functions", pl.col("fns"), pl.len()),
        _agg(
            talk, "role", pl.concat_str([pl.col("channel"), pl.lit(":"), pl.col("role").fill_null(UNKNOWN)]), pl.len()
        ),
    ]
    out = pl.concat(pl.collect_all(frames))
    # keys come from the records (a function name, an outcome): no personal data gets through
    out = out.with_columns(redact_text(out.get_column("key")))
    return out.sort("date", "dimension", "count", "key", descending=[False, False, True, False]).cast(CONV_AGG_SCHEMA)  # type: ignore[arg-type]


def add(*frames: pl.DataFrame) -> pl.DataFrame:
    """Sum aggregates (for a late file whose day's rows are already deleted)."""
    frames = tuple(f for f in frames if f.height)
    if not frames:
        return pl.DataFrame(schema=CONV_AGG_SCHEMA)
    return (
        pl.concat([f.select(list(CONV_AGG_SCHEMA)) for f in frames])
        .group_by("date", "dimension", "key")
        .agg(pl.col("count").sum(), pl.col("seconds").sum())
        .cast(CONV_AGG_SCHEMA)  # type: ignore[arg-type]
    )


def fold_small(df: pl.DataFrame, min_count: int) -> pl.DataFrame:
    """Keys of open dimensions (country, functions, status) with fewer than ``min_count`` into ``(other)``."""
    small = ~pl.col("dimension").is_in(list(FIXED)) & (pl.col("count") < min_count)
    renamed = df.with_columns(pl.when(small).then(pl.lit(OTHER)).otherwise(pl.col("key")).alias("key"))
    group = [c for c in df.columns if c not in ("count", "seconds")]
    return renamed.group_by(group).agg(pl.col("count").sum(), pl.col("seconds").sum())
