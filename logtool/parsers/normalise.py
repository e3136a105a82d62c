"""The one normaliser every parser family ends in: extracted fields (the group vocabulary
``client``, ``user``, ``time``/``time_iso``/``time_naive_ms``/``msec``, ``request`` or
``method_s`` + ``target_s``, ``status``, ``bytes``, ``referrer``, ``ua``, ``xff``, ``vhost``,
``rt_s``/``rt_ms``/``rt_us``, ``upstream_rt``) → the canonical record columns.

Polars expressions over whole batches; a parser builds its lazy frame of groups and calls
:func:`timestamp` and :func:`normalise`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

import polars as pl

from logtool.pipeline import ENGINE, join_back
from logtool.schema import TS

METHOD_RX = r"^([A-Z][A-Z0-9_-]{0,31}) "
PROTOCOL_RX = r" (HTTP/[0-9](?:\.[0-9])?)$"


def split_request(req: pl.Expr) -> list[pl.Expr]:
    """``method``, ``target``, ``protocol`` of a request line; non-HTTP junk → method null.

    Cheaper than one regex with captures: the method is a short prefix match, the protocol a
    match on the last nine characters, the target a slice between them.
    """
    method = req.str.extract(METHOD_RX, 1)
    protocol = pl.when(method.is_not_null()).then(req.str.slice(-9).str.extract(PROTOCOL_RX, 1))
    start = method.str.len_bytes() + 1
    length = (req.str.len_chars() - start - (protocol.str.len_bytes() + 1).fill_null(0)).clip(lower_bound=0)
    target = pl.when(method.is_not_null()).then(req.str.slice(start, length))
    return [method.alias("method"), target.alias("target"), protocol.alias("protocol")]


#: The text fields cleaned up (:func:`clean_up`) before use.
_QUOTED_ORDER = ("request", "user", "referrer", "ua", "xff", "vhost")
QUOTED_FIELDS = frozenset(_QUOTED_ORDER)
_REQUEST_PARTS = ("method", "path", "query", "protocol")
#: A private column of parsed records: the same number for rows of the same request line (a
#: hash of the line as cleaned up, which decides its parts, seeded anew in every process), so
#: what derives from a request can be worked out once per request (:mod:`logtool.detect.flags`).
#: Lines whose hashes collide get none (a null code: the row-by-row path), so a collision can
#: never hand one request's flags to another. Stored records do not keep it (``conform``).
REQUEST_CODE = "_req"
_CODE_SEED = int.from_bytes(os.urandom(8), "little")


def request_code(line: pl.Expr) -> pl.Expr:
    """:data:`REQUEST_CODE` of a cleaned-up request line."""
    return line.hash(_CODE_SEED)


def _nullish(col: str) -> pl.Expr:
    """``-`` and empty strings are missing values."""
    c = pl.col(col)
    return pl.when(c.is_in(["-", ""])).then(None).otherwise(c)


def _unescape(expr: pl.Expr) -> pl.Expr:
    """Undo Apache's ``\\"`` and ``\\\\`` escapes; ``\\xHH`` stays as logged."""
    return expr.str.replace_all(r'\\(["\\])', "$1")


def clean_up(col: str, unescaped: bool = False) -> pl.Expr:
    """A text field's value as the record keeps it: ``-`` and empty strings missing, Apache's
    escapes undone (unless ``unescaped``: JSON values come unescaped). The compiled cutter does
    the same as it packs a field (``logtool._native.pack``)."""
    return _nullish(col) if unescaped else _unescape(_nullish(col))


def _col_or_null(fields: frozenset[str], name: str) -> pl.Expr:
    return pl.col(name) if name in fields else pl.lit(None, dtype=pl.String)


#: Timestamps believed: a time outside these (a clock or a field gone wrong, an epoch of 20
#: digits, a negative year) makes the line a reject ("unreadable timestamp").
TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TS_MAX = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@lru_cache(maxsize=64)
def timestamp(fields: frozenset[str]) -> tuple[pl.Expr, ...]:
    """``ts`` and ``tz_offset_min`` from the time group in ``fields`` (built once per set of
    fields: Python datetimes as literals cost ~0.5 ms a batch)."""
    ts, tz = _timestamp(fields)
    ts = pl.when(ts.is_between(pl.lit(TS_MIN, TS), pl.lit(TS_MAX, TS))).then(ts)
    return (ts.alias("ts"), tz.cast(pl.Int16).alias("tz_offset_min"))


def _timestamp(fields: frozenset[str]) -> tuple[pl.Expr, pl.Expr]:
    if "time" in fields:
        t = pl.col("time")
        ts = t.str.strptime(TS, "%d/%b/%Y:%H:%M:%S %z", strict=False)
        off = t.str.slice(-5)
        sign = pl.when(off.str.slice(0, 1) == "-").then(-1).otherwise(1)
        tz = sign * (off.str.slice(1, 2).cast(pl.Int16) * 60 + off.str.slice(3, 2).cast(pl.Int16))
    elif "time_iso" in fields:
        t = pl.col("time_iso").str.replace(r"Z$", "+00:00").str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
        ts = t.str.strptime(TS, "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False)
        off = t.str.extract(r"([+-]\d{2}):(\d{2})$", 0)
        sign = pl.when(off.str.slice(0, 1) == "-").then(-1).otherwise(1)
        tz = sign * (off.str.slice(1, 2).cast(pl.Int16) * 60 + off.str.slice(4, 2).cast(pl.Int16))
    elif "time_naive_ms" in fields:  # HAProxy: local time of the logging host, no offset; taken as UTC
        ts = (
            pl.col("time_naive_ms")
            .str.strptime(pl.Datetime("us"), "%d/%b/%Y:%H:%M:%S%.f", strict=False)
            .dt.replace_time_zone("UTC")
        )
        tz = pl.lit(None)
    elif "msec" in fields:
        us = pl.col("msec").cast(pl.Float64, strict=False) * 1_000_000
        ts = pl.when(us.abs() < 2.5e17).then(us).cast(pl.Int64, strict=False).cast(TS)  # NaN, inf, 1e300: null
        tz = pl.lit(0)
    else:
        ts = pl.lit(None, dtype=TS)
        tz = pl.lit(None)
    return ts, tz


def request_time(fields: frozenset[str]) -> pl.Expr:
    def num(name: str) -> pl.Expr:
        if name not in fields:
            return pl.lit(None, pl.Float64)
        v = pl.col(name).cast(pl.Float64, strict=False)
        return pl.when(v >= 0).then(v)  # AWS writes -1 for "not available"

    upstream = (
        pl.col("upstream_rt").str.extract(r"^([\d.]+)").cast(pl.Float64, strict=False)
        if "upstream_rt" in fields
        else pl.lit(None, pl.Float64)
    )
    return pl.coalesce(num("rt_s"), num("rt_us") / 1e6, num("rt_ms") / 1e3, upstream).alias("request_time_s")


def _request_parts(clean: Callable[[str], pl.Expr]) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """Adds ``method``, ``path``, ``query``, ``protocol`` to a frame of raw ``request`` fields
    (``clean``: the clean-up they still need)."""

    def derive(table: pl.LazyFrame) -> pl.LazyFrame:
        r = pl.col("_r")
        table = table.with_columns(clean("request").alias("_r"))
        # "- - - " (AWS ELB TCP connections) and the like: no request at all
        table = table.with_columns(pl.when(r.str.contains(r"^[- ]*$")).then(None).otherwise(r).alias("_r"))
        table = table.with_columns(*split_request(r), request_code(r).alias("_c"))
        parts = pl.when(pl.col("method").is_null()).then(r).otherwise(pl.col("target")).str.splitn("?", 2)
        return table.select(
            "request",
            "method",
            parts.struct.field("field_0").alias("path"),
            parts.struct.field("field_1").alias("query"),
            "protocol",
            # the same line: the same code; a code two lines share (never seen) is none at all
            pl.when(r.n_unique().over("_c") == 1).then("_c").alias(REQUEST_CODE),
        )

    return derive


def normalise(
    rec: pl.LazyFrame,
    fields: frozenset[str],
    unescaped: bool = False,
    engine: str = ENGINE,
    clean: frozenset[str] = frozenset(),
) -> pl.LazyFrame:
    """Canonical columns from the extracted groups. ``unescaped``: the values are already
    unescaped (JSON), so Apache's ``\\"`` rule must not run on them a second time. ``clean``:
    the text fields that come cleaned up already (:func:`clean_up`, by the compiled cutter).

    The groups are collected once (``engine``: a parser that runs on one thread may ask for the
    streaming engine, which uses every core). Text fields repeat
    (a batch has far fewer distinct requests, user agents and referrers than lines), so their
    clean-up runs once per distinct value and is joined back."""
    cols = {
        name: _col_or_null(fields, name)
        for name in ("client", "user", "request", "referrer", "ua", "xff", "vhost", "status", "bytes")
    }
    if "method_s" in fields and "request" not in fields:  # method and URL logged apart (Squid)
        cols["request"] = pl.concat_str([pl.col("method_s"), pl.lit(" "), pl.col("target_s")])
    present = {n for n in cols if n in fields} | ({"request"} if "method_s" in fields else set())
    df = rec.with_columns([cols[n].alias(n) for n in cols]).collect(engine=engine)  # type: ignore[arg-type]
    # the clean-up of each text field's distinct values, joined back: one plan for every field
    text: list[pl.LazyFrame] = []
    missing: list[pl.Expr] = []
    for name in _QUOTED_ORDER:
        done = name in clean
        if name == "request":
            if name in present:
                request_clean = pl.col if done else lambda c: clean_up(c, unescaped)
                text.append(_per_distinct(df, name, _request_parts(request_clean)))
            else:
                missing += [pl.lit(None, dtype=pl.String).alias(c) for c in _REQUEST_PARTS]
                missing.append(pl.lit(None, dtype=pl.UInt64).alias(REQUEST_CODE))
        elif done:  # the cutter cleaned it up as it packed it (each distinct value once)
            missing.append(pl.col(name).alias(f"_{name}"))
        elif name in present:
            cleaned = clean_up(name, unescaped).alias(f"_{name}")
            text.append(_per_distinct(df, name, lambda t, cleaned=cleaned: t.with_columns(cleaned)))
        else:
            missing.append(pl.lit(None, dtype=pl.String).alias(f"_{name}"))
    return (
        pl.concat([df.lazy(), *text], how="horizontal")
        .with_columns(missing)
        .select(
            "ts",
            "tz_offset_min",
            _nullish("client").alias("client_ip"),
            pl.col("_user").alias("remote_user"),
            *_REQUEST_PARTS,
            pl.col("status").cast(pl.Int16, strict=False),
            pl.col("bytes").cast(pl.Int64, strict=False),
            pl.col("_referrer").alias("referrer"),
            pl.col("_ua").alias("user_agent"),
            pl.col("_vhost").alias("vhost"),
            pl.col("_xff").alias("xff"),
            request_time(fields),
            "line_no",
            REQUEST_CODE,
            "line",
            "_reason",
        )
    )


def _per_distinct(df: pl.DataFrame, key: str, derive: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
    """The columns ``derive`` adds to the distinct values of ``df[key]``, one row per row of
    ``df``, lazily."""
    keys = df.lazy().select(key)
    return join_back(keys, derive(keys.unique()), key)
