"""The Apache/nginx access-log family: regex extraction, then normalisation to canonical columns.

Everything here is a polars expression over a whole batch; rejected lines are returned with a
reason, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtool.parsers.formatstr import CompiledFormat
from logtool.schema import TS

REQUEST_RX = r"^(?P<method>[A-Z][A-Z0-9_-]{0,31}) (?P<target>.*?)(?: (?P<protocol>HTTP/\d(?:\.\d)?))?$"

_QUOTED_FIELDS = ("request", "user", "referrer", "ua", "xff", "vhost")


def _nullish(col: str) -> pl.Expr:
    """``-`` and empty strings are missing values."""
    c = pl.col(col)
    return pl.when(c.is_in(["-", ""])).then(None).otherwise(c)


def _unescape(expr: pl.Expr) -> pl.Expr:
    """Undo Apache's ``\\"`` and ``\\\\`` escapes; ``\\xHH`` stays as logged."""
    return expr.str.replace_all(r'\\(["\\])', "$1")


def _col_or_null(fields: frozenset[str], name: str) -> pl.Expr:
    return pl.col(name) if name in fields else pl.lit(None, dtype=pl.String)


@dataclass(frozen=True)
class RegexFormat:
    """A line format parsed by one regex (the CLF family and user-supplied format strings)."""

    name: str
    compiled: CompiledFormat
    description: str = ""
    sample: str = ""

    def match_rate(self, lines: pl.Series) -> float:
        """Fraction of non-empty ``lines`` the regex matches (used by auto-detection)."""
        lines = lines.filter(lines.str.len_bytes() > 0)
        if lines.len() == 0:
            return 0.0
        return float(lines.str.contains(self.compiled.regex).mean() or 0.0)

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse a ``line_no``/``line`` batch into (records, rejects with ``reason``)."""
        fields = self.compiled.fields
        g = batch.with_columns(pl.col("line").str.extract_groups(self.compiled.regex).alias("_g"))
        g = g.unnest("_g")
        matched = pl.col("_first").is_not_null()
        first = sorted(fields)[0]
        g = g.with_columns(pl.col(first).alias("_first"))
        rec = g.filter(matched).with_columns(_timestamp(fields))
        bad_ts = rec.filter(pl.col("ts").is_null())
        rec = rec.filter(pl.col("ts").is_not_null())
        rejects = pl.concat(
            [
                g.filter(~matched).select(
                    "line_no",
                    "line",
                    pl.when(pl.col("line").str.len_bytes() == 0)
                    .then(pl.lit("empty line"))
                    .otherwise(pl.lit(f"does not match format {self.name}"))
                    .alias("reason"),
                ),
                bad_ts.select("line_no", "line", pl.lit("unreadable timestamp").alias("reason")),
            ]
        )
        return _normalise(rec, fields), rejects


def _timestamp(fields: frozenset[str]) -> list[pl.Expr]:
    if "time" in fields:
        t = pl.col("time")
        ts = t.str.strptime(TS, "%d/%b/%Y:%H:%M:%S %z", strict=False)
        off = t.str.extract(r"([+-]\d{4})$")
        sign = pl.when(off.str.slice(0, 1) == "-").then(-1).otherwise(1)
        tz = sign * (off.str.slice(1, 2).cast(pl.Int16) * 60 + off.str.slice(3, 2).cast(pl.Int16))
    elif "time_iso" in fields:
        t = pl.col("time_iso").str.replace(r"Z$", "+00:00").str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
        ts = t.str.strptime(TS, "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False)
        off = t.str.extract(r"([+-]\d{2}):(\d{2})$", 0)
        sign = pl.when(off.str.slice(0, 1) == "-").then(-1).otherwise(1)
        tz = sign * (off.str.slice(1, 2).cast(pl.Int16) * 60 + off.str.slice(4, 2).cast(pl.Int16))
    elif "msec" in fields:
        ts = (pl.col("msec").cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64).cast(TS)
        tz = pl.lit(0)
    else:
        ts = pl.lit(None, dtype=TS)
        tz = pl.lit(None)
    return [ts.alias("ts"), tz.cast(pl.Int16).alias("tz_offset_min")]


def _request_time(fields: frozenset[str]) -> pl.Expr:
    def num(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.Float64, strict=False) if name in fields else pl.lit(None, pl.Float64)

    upstream = (
        pl.col("upstream_rt").str.extract(r"^([\d.]+)").cast(pl.Float64, strict=False)
        if "upstream_rt" in fields
        else pl.lit(None, pl.Float64)
    )
    return pl.coalesce(num("rt_s"), num("rt_us") / 1e6, num("rt_ms") / 1e3, upstream).alias("request_time_s")


def _normalise(rec: pl.DataFrame, fields: frozenset[str]) -> pl.DataFrame:
    cols = {name: _col_or_null(fields, name) for name in ("client", "user", "request", "referrer", "ua", "xff", "vhost", "status", "bytes")}
    rec = rec.with_columns(
        [cols[n].alias(n) for n in cols]
    ).with_columns(
        [_unescape(_nullish(n)).alias(n) for n in _QUOTED_FIELDS]
        + [_nullish("client").alias("client")]
    )
    req = pl.col("request").str.extract_groups(REQUEST_RX)
    rec = rec.with_columns(req.alias("_req")).unnest("_req")
    target = pl.when(pl.col("method").is_null()).then(pl.col("request")).otherwise(pl.col("target"))
    parts = target.str.splitn("?", 2)
    return rec.select(
        "ts",
        "tz_offset_min",
        pl.col("client").alias("client_ip"),
        pl.col("user").alias("remote_user"),
        "method",
        parts.struct.field("field_0").alias("path"),
        parts.struct.field("field_1").alias("query"),
        "protocol",
        pl.col("status").cast(pl.Int16, strict=False),
        pl.col("bytes").cast(pl.Int64, strict=False),
        pl.col("referrer"),
        pl.col("ua").alias("user_agent"),
        "vhost",
        "xff",
        _request_time(fields),
        "line_no",
    )
