"""W3C extended logs: Microsoft IIS and Amazon CloudFront (standard logs).

A ``#Fields:`` directive names the columns of the lines after it, and may change mid-file. The
active header is forward-filled over the batch (and carried to the next batch of the same
file); each group of lines sharing a header is split by the separator (space for IIS, tab for
CloudFront) and its columns are mapped to the canonical ones. ``date`` + ``time`` are UTC.
IIS writes ``+`` for spaces in the user agent; CloudFront URL-encodes it twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtool.parsers.layout import Layout
from logtool.parsers.normalise import normalise, timestamp

#: Fields a ``#Fields`` header must name for its lines to be records (else they are quarantined).
REQUIRED = ("date", "time", "c-ip", "cs-method", "cs-uri-stem")

#: W3C field → the group name of the CLF normaliser.
FIELD_MAP = {
    "c-ip": "client", "cs-username": "user", "cs-method": "method_s", "cs-uri-stem": "target_s",
    "cs-uri-query": "query_s", "sc-status": "status", "sc-bytes": "bytes", "cs(referer)": "referrer",
    "cs(user-agent)": "ua", "cs-host": "vhost", "x-host-header": "vhost", "cs(host)": "vhost",
    "x-forwarded-for": "xff", "cs(x-forwarded-for)": "xff", "cs-version": "proto", "cs-protocol-version": "proto",
}  # fmt: skip


#: W3C field → what ``logtool anonymize`` does to it; ``W3C_KEEP`` (and ``x-edge-*``) are kept,
#: any other field is masked as free text.
W3C_ANON = {
    "c-ip": "client", "cs-username": "user", "cs(cookie)": "user", "cs-cookie": "user", "cs-uri-stem": "target",
    "cs-uri-query": "query", "cs(referer)": "referrer", "cs(user-agent)": "ua", "x-forwarded-for": "xff",
    "cs(x-forwarded-for)": "xff", "cs-host": "vhost", "cs(host)": "vhost", "x-host-header": "vhost",
}  # fmt: skip
W3C_KEEP = frozenset({
    "date", "time", "cs-method", "sc-status", "sc-substatus", "sc-win32-status", "sc-bytes", "cs-bytes", "time-taken",
    "s-port", "c-port", "cs-version", "cs-protocol-version", "cs-protocol", "s-sitename", "s-computername",
    "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end", "ssl-protocol", "ssl-cipher",
    "time-to-first-byte",
})  # fmt: skip


@dataclass(frozen=True)
class W3CFormat:
    name: str
    separator: str
    time_taken_unit: float  # seconds per unit of ``time-taken``
    ua_decode: str  # "plus" (IIS) or "double-percent" (CloudFront)
    signature: str
    description: str = ""
    exclude: str = ""  # a header containing this belongs to another W3C format
    sample: str = ""

    def parser(self) -> W3CParser:
        """A parser for one input: it carries the ``#Fields`` header from batch to batch."""
        return W3CParser(self)

    def rewriter(self) -> W3CRewriter:
        return W3CRewriter(self)

    def match_rate(self, lines: pl.Series) -> float:
        lines = lines.filter(lines.str.len_bytes() > 0)
        if lines.len() == 0:
            return 0.0
        headers = lines.filter(lines.str.starts_with("#Fields:"))
        if headers.len() == 0 or not headers.str.contains(self.signature, literal=True).all():
            return 0.0
        if self.exclude and headers.str.contains(self.exclude, literal=True).any():
            return 0.0
        data = lines.filter(~lines.str.starts_with("#"))
        if data.len() == 0:
            return 0.0
        # every data line has the column count of the first header
        n = len(headers[0].removeprefix("#Fields:").split())
        counts = data.str.count_matches(self.separator, literal=True) + 1
        return float(((counts == n).sum() + lines.len() - data.len()) / lines.len())

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse one batch on its own (an input's later batches: :class:`W3CParser`)."""
        rec, rej, _ = self.parse_batch(batch, None)
        return rec, rej

    def parse_batch(self, batch: pl.DataFrame, carried: str | None) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
        """Parse a batch whose lines before its first ``#Fields`` follow ``carried``; also return
        the header in force after it."""
        line = pl.col("line").str.strip_suffix("\r")
        per_line, after = self.headers(batch.get_column("line"), carried)
        df = batch.with_columns(per_line.alias("_h"))
        # other directives (#Software, #Version, #Date) carry no records
        data = df.filter(~line.str.starts_with("#") & (pl.col("line").str.len_bytes() > 0))
        empty = df.filter(pl.col("line").str.len_bytes() == 0)
        records, rejects = (
            [],
            [
                empty.select("line_no", "line", pl.lit("empty line").alias("reason")),
            ],
        )
        no_header = data.filter(pl.col("_h").is_null())
        rejects.append(
            no_header.select(
                "line_no", "line", pl.lit(f"no #Fields header before this line ({self.name})").alias("reason")
            )
        )
        for (header,), group in data.filter(pl.col("_h").is_not_null()).group_by("_h", maintain_order=True):
            rec, rej = self._parse_group(group, str(header))
            records.append(rec)
            rejects.append(rej)
        out_rec = pl.concat(records) if records else None
        if out_rec is None:
            return self._empty(batch), pl.concat(rejects), after
        return out_rec.sort("line_no"), pl.concat(rejects).sort("line_no"), after

    def headers(self, lines: pl.Series, carried: str | None) -> tuple[pl.Series, str | None]:
        """The ``#Fields`` header in force on each line (``carried`` from the batch before), and
        the one in force after the batch."""
        line = lines.str.strip_suffix("\r")
        own = pl.select(
            pl.when(line.str.starts_with("#Fields:")).then(line.str.strip_prefix("#Fields:").str.strip_chars())
        ).to_series()
        per_line = own.forward_fill().fill_null(pl.lit(carried, dtype=pl.String))
        return per_line, (per_line[-1] if per_line.len() else carried)

    def layouts(self, lines: pl.Series, headers: pl.Series) -> tuple[list[Layout], pl.Series]:
        """``logtool anonymize``: the data lines of each header (``headers``: the one in force on
        each line) cut into columns (masked by the column's name) and separators; directives and
        lines without a header are the rest."""
        frame = pl.DataFrame(
            {"_i": pl.int_range(lines.len(), dtype=pl.UInt32, eager=True), "line": lines, "_h": headers}
        )
        data = frame.filter(~pl.col("line").str.starts_with("#") & pl.col("_h").is_not_null())
        out, used = [], []
        for (header,), group in data.group_by("_h", maintain_order=True):
            names = str(header).lower().split()
            ok = group.filter(pl.col("line").str.count_matches(self.separator, literal=True) == len(names) - 1)
            if ok.height == 0:
                continue
            cols = ok.get_column("line").str.split(self.separator)
            parts, kinds = {}, []
            for i, name in enumerate(names):
                if i:
                    parts[f"s{len(kinds)}"] = pl.repeat(self.separator, ok.height, dtype=pl.String, eager=True)
                    kinds.append("lit")
                parts[f"s{len(kinds)}"] = cols.list.get(i)
                kinds.append(W3C_ANON.get(name, "lit" if name in W3C_KEEP or name.startswith("x-edge-") else "gap"))
            out.append(Layout(ok.get_column("_i"), pl.DataFrame(parts), tuple(kinds)))
            used.append(ok.get_column("_i"))
        done = pl.concat(used) if used else pl.Series([], dtype=pl.UInt32)
        return out, frame.get_column("_i").filter(~frame.get_column("_i").is_in(done.implode()))

    def _empty(self, batch: pl.DataFrame) -> pl.DataFrame:
        header = " ".join(REQUIRED)
        rec, _ = self._parse_group(batch.head(0).with_columns(pl.lit(header).alias("_h")), header)
        return rec

    def _parse_group(self, group: pl.DataFrame, header: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        names = [n.lower() for n in header.split()]
        if missing := [n for n in REQUIRED if n not in names]:  # no record can be built from such lines
            why = f"its #Fields header has no {', '.join(missing)} ({self.name})"
            return self._empty(group), group.select("line_no", "line", pl.lit(why).alias("reason"))
        parts = pl.col("line").str.strip_suffix("\r").str.split(self.separator)
        cols: dict[str, pl.Expr] = {}
        # x-host-header (the viewer's Host) before cs(host) (CloudFront's own domain)
        order = sorted(range(len(names)), key=lambda i: names[i] != "x-host-header")
        for i in order:
            target = FIELD_MAP.get(names[i])
            if target and target not in cols:
                cols[target] = parts.list.get(i, null_on_oob=True)
        date_i, time_i = (
            (names.index("date") if "date" in names else None),
            (names.index("time") if "time" in names else None),
        )
        exprs = [v.alias(k) for k, v in cols.items()]
        if date_i is not None and time_i is not None:
            iso = pl.concat_str([parts.list.get(date_i, null_on_oob=True), pl.lit("T"),
                                 parts.list.get(time_i, null_on_oob=True), pl.lit("Z")])  # fmt: skip
            exprs.append(iso.alias("time_iso"))
        if "time-taken" in names:
            tt = parts.list.get(names.index("time-taken"), null_on_oob=True).cast(pl.Float64, strict=False)
            exprs.append((tt * self.time_taken_unit).cast(pl.String).alias("rt_s"))
        lf = group.lazy().with_columns(exprs).with_columns(_w3c_values(set(cols), self.ua_decode))
        fields = frozenset(set(cols) | {"time_iso"} | ({"rt_s"} if "time-taken" in names else set()))
        n_cols = len(names)
        reason = (
            pl.when(pl.col("line").str.strip_suffix("\r").str.count_matches(self.separator, literal=True) + 1 != n_cols)
            .then(pl.lit(f"has not the {n_cols} fields of its #Fields header ({self.name})"))
            .when(pl.col("ts").is_null())
            .then(pl.lit("unreadable date/time"))
        )
        lf = lf.with_columns(timestamp(fields)).with_columns(reason.alias("_reason"))
        # parsed in input order on one thread (headers carry over): the streaming engine uses every core
        out = normalise(lf, fields, engine="streaming").collect(engine="streaming")
        ok = pl.col("_reason").is_null()
        rejects = out.filter(~ok).select("line_no", "line", pl.col("_reason").alias("reason"))
        return out.filter(ok).drop("line", "_reason"), rejects


def _w3c_values(present: set[str], ua_decode: str) -> list[pl.Expr]:
    """``-`` stays missing (the normaliser does that); spaces in the user agent restored;
    the query appended to the URI stem."""
    out = []
    if "ua" in present:
        ua = pl.col("ua")
        if ua_decode == "plus":
            ua = ua.str.replace_all("+", " ", literal=True)
        else:  # CloudFront: URL-encoded twice
            ua = ua.str.replace_all("%2520", " ", literal=True).str.replace_all("%20", " ", literal=True)
            ua = ua.str.replace_all("%253B", ";", literal=True).str.replace_all("%252C", ",", literal=True)
        out.append(ua.alias("ua"))
    if "target_s" in present and ({"query_s", "proto"} & present):
        target = pl.col("target_s")
        if "query_s" in present:
            q = pl.col("query_s")
            target = (
                pl.when(q.is_in(["-", ""]) | q.is_null())
                .then(target)
                .otherwise(pl.concat_str([target, pl.lit("?"), q]))
            )
        if "proto" in present:
            target = pl.concat_str([target, pl.lit(" ") + pl.col("proto")], ignore_nulls=True)
        out.append(target.alias("target_s"))
    return out


class W3CParser:
    """One input's parser: the ``#Fields`` header in force at the end of a batch carries over."""

    def __init__(self, fmt: W3CFormat) -> None:
        self.fmt, self.header = fmt, None

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        rec, rej, self.header = self.fmt.parse_batch(batch, self.header)
        return rec, rej


class W3CRewriter:
    """One input's rewriter: lines cut by the header in force on each (carried across batches)."""

    template = None

    def __init__(self, fmt: W3CFormat) -> None:
        self.fmt, self.header = fmt, None

    def context(self, lines: pl.Series) -> pl.Series:
        per_line, self.header = self.fmt.headers(lines, self.header)
        return per_line

    def layouts(self, lines: pl.Series, context: object) -> tuple[list[Layout], pl.Series]:
        headers = context if isinstance(context, pl.Series) else self.fmt.headers(lines, None)[0]
        return self.fmt.layouts(lines, headers)


IIS = W3CFormat(
    "iis",
    separator=" ",
    time_taken_unit=0.001,
    ua_decode="plus",
    signature="cs-method",
    exclude="x-edge-",
    description="Microsoft IIS / W3C extended log (#Fields header)",
    sample="#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n2026-11-24 10:00:00 10.0.0.5 GET /index.html - 443 - "
    "203.0.113.7 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - 200 0 0 15",
)

CLOUDFRONT = W3CFormat(
    "cloudfront",
    separator="\t",
    time_taken_unit=1.0,
    ua_decode="double-percent",
    signature="x-edge-location",
    description="Amazon CloudFront standard log (tab-separated, #Fields header)",
    sample="#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query\n2026-11-24\t10:00:00\tFRA56-C1\t512\t203.0.113.7\tGET\td111111abcdef8.cloudfront.net\t"
    "/index.html\t200\t-\tMozilla/5.0%2520(X11;%2520Linux%2520x86_64)\t-",
)

FORMATS = (IIS, CLOUDFRONT)
