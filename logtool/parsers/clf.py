"""The Apache/nginx access-log family (and every single-regex format): regex extraction, then
the shared normaliser (:mod:`logtool.parsers.normalise`).

Everything here is a polars expression over a whole batch; rejected lines are returned with a
reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from logtool.parsers.base import LayoutRewriter, Rewriter, Stateless
from logtool.parsers.formatstr import CompiledFormat
from logtool.parsers.layout import Layout, regex_layout, segment_regex
from logtool.parsers.normalise import normalise, timestamp


@dataclass(frozen=True)
class RegexFormat(Stateless):
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
            .with_columns(timestamp(fields))
            .with_columns(reason.alias("_reason"))
        )
        out = normalise(lf, fields).collect(engine="streaming")
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

    def rewriter(self) -> Rewriter:
        """The rewrite template of a format string, else lines cut at the parse regex's fields."""
        rw = LayoutRewriter(self.cut)
        rw.template = self.compiled if self.compiled.rewrite_regex else None
        return rw

    def cut(self, lines: pl.Series) -> tuple[list[Layout], pl.Series]:
        """Matching lines cut at the parse regex's named groups; the positions of the others."""
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
