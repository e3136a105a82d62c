"""The Apache/nginx access-log family: regex extraction, then normalisation to canonical columns.

Everything here is a polars expression over a whole batch; rejected lines are returned with a
reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from logtool.parsers.formatstr import CompiledFormat
from logtool.parsers.layout import Layout, regex_layout, segment_regex
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
    #: A group every matching line fills (default: the alphabetically first named group).
    probe: str = ""

    def match_rate(self, lines: pl.Series) -> float:
        """Fraction of non-empty ``lines`` the regex matches (used by auto-detection)."""
        lines = lines.filter(lines.str.len_bytes() > 0)
        if lines.len() == 0:
            return 0.0
        return float(lines.str.contains(self.compiled.regex).mean() or 0.0)

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse a ``line_no``/``line`` batch into (records, rejects with ``reason``).

        One lazy query, collected by the streaming engine so it runs on every core.
        """
        fields = self.compiled.fields
        probe = self.probe or sorted(fields)[0]  # null in a mandatory group means "no match"
        reason = (
            pl.when(pl.col(probe).is_not_null() & pl.col("ts").is_not_null())
            .then(None)
            .when(pl.col("line").str.len_bytes() == 0)
            .then(pl.lit("empty line"))
            .when(pl.col(probe).is_null())
            .then(pl.lit(f"does not match format {self.name}"))
            .otherwise(pl.lit("unreadable timestamp"))
        )
        lf = (
            batch.lazy()
            .with_columns(pl.col("line").str.extract_groups(self.compiled.regex).alias("_g"))
            .unnest("_g")
            .with_columns(_timestamp(fields))
            .with_columns(reason.alias("_reason"))
        )
        out = _normalise(lf, fields).collect(engine="streaming")
        ok = pl.col("_reason").is_null()
        rejects = out.filter(~ok).select("line_no", "line", pl.col("_reason").alias("reason"))
        if rejects.height:  # slow path, rejected lines only: say why more precisely
            rejects = rejects.with_columns(
                pl.Series(
                    "reason",
                    [diagnose(ln, r, "time" in fields) for ln, r in rejects.select("line", "reason").iter_rows()],
                    pl.String,
                )
            )
        return out.filter(ok).drop("line", "_reason"), rejects

    def layouts(self, lines: pl.Series, context: object = None) -> tuple[list[Layout], pl.Series]:
        """``logtool anonymize`` for a format without a rewrite template: matching lines cut at
        the parse regex's named groups; the positions of the others."""
        cut = segment_regex(self.compiled.regex)
        if cut is None:
            return [], pl.int_range(lines.len(), dtype=pl.UInt32, eager=True)
        layout, rest = regex_layout(lines, *cut)
        return [layout], rest


_TIME_ANYWHERE = re.compile(r"\[[^\]]*\d{2}:\d{2}:\d{2}[^\]]*\]")


def diagnose(line: str, reason: str, clf_time: bool = True) -> str:
    """A more helpful reason for a line the format's regex rejected (rejected lines only).
    ``clf_time``: the format has a bracketed CLF timestamp to look for."""
    if not reason.startswith("does not match"):
        return reason
    if not line.strip():
        return "blank line"
    if "\ufffd" in line[:64] and not _TIME_ANYWHERE.search(line):
        return "binary data"
    if clf_time and not _TIME_ANYWHERE.search(line):
        return "no [timestamp] field (" + reason + ")"
    if len(re.findall(r'(?<!\\)"', line)) % 2:
        return "truncated line (unbalanced quotes)"
    return reason


def _timestamp(fields: frozenset[str]) -> list[pl.Expr]:
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
        ts = (pl.col("msec").cast(pl.Float64, strict=False) * 1_000_000).cast(pl.Int64).cast(TS)
        tz = pl.lit(0)
    else:
        ts = pl.lit(None, dtype=TS)
        tz = pl.lit(None)
    return [ts.alias("ts"), tz.cast(pl.Int16).alias("tz_offset_min")]


def _request_time(fields: frozenset[str]) -> pl.Expr:
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


def _normalise(rec: pl.LazyFrame, fields: frozenset[str], unescaped: bool = False) -> pl.LazyFrame:
    """Canonical columns from the extracted groups. ``unescaped``: the values are already
    unescaped (JSON), so Apache's ``\\"`` rule must not run on them a second time."""
    unescape = (lambda e: e) if unescaped else _unescape
    cols = {
        name: _col_or_null(fields, name)
        for name in ("client", "user", "request", "referrer", "ua", "xff", "vhost", "status", "bytes")
    }
    if "method_s" in fields and "request" not in fields:  # method and URL logged apart (Squid)
        cols["request"] = pl.concat_str([pl.col("method_s"), pl.lit(" "), pl.col("target_s")])
    rec = rec.with_columns([cols[n].alias(n) for n in cols]).with_columns(
        [unescape(_nullish(n)).alias(n) for n in _QUOTED_FIELDS] + [_nullish("client").alias("client")]
    )
    # "- - - " (AWS ELB TCP connections) and the like: no request at all
    rec = rec.with_columns(
        pl.when(pl.col("request").str.contains(r"^[- ]*$")).then(None).otherwise(pl.col("request")).alias("request")
    )
    rec = rec.with_columns(split_request(pl.col("request")))
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
        "line",
        "_reason",
    )
