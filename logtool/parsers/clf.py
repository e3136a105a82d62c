"""The Apache/nginx access-log family (and every single-regex format): regex extraction, then
the shared normaliser (:mod:`logtool.parsers.normalise`).

Everything here is a polars expression over a whole batch; rejected lines are returned with a
reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from logtool.parsers import fastcut, variants
from logtool.parsers.base import LayoutRewriter, Rewriter, Stateless
from logtool.parsers.formatstr import CompiledFormat
from logtool.parsers.layout import Layout, regex_layout, segment_regex
from logtool.parsers.normalise import QUOTED_FIELDS, normalise, timestamp
from logtool.pipeline import ENGINE


@dataclass(frozen=True)
class RegexFormat(Stateless):
    """A line format parsed by one regex (the CLF family and user-supplied format strings)."""

    name: str
    compiled: CompiledFormat
    description: str = ""
    sample: str = ""
    #: A group every matching line fills (default: the alphabetically first named group).
    probe: str = ""
    #: The client is logged as ADDRESS:PORT (load balancers); an IPv6 address without brackets
    #: (HAProxy's ``2001:db8::1234:58430``), so the last group is always the port.
    client_port: bool = False

    def match_rate(self, lines: pl.Series) -> float:
        """Share of non-empty ``lines`` the regex reads (used by auto-detection); lines only a
        looser reading recovers (:mod:`logtool.parsers.variants`) count a little less."""
        return variants.match_rate(lines, self.compiled.regex, self.compiled.loose_regex)

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse a ``line_no``/``line`` batch into (records, rejects with ``reason``). Records
        carry ``_variant``: null, or how a rejected line was recovered (syslog prefix, trailing
        fields …)."""
        out = self.read(batch, self.compiled.regex)
        ok = pl.col("_reason").is_null()
        records = out.filter(ok).drop("line", "_reason")
        rejects = out.filter(~ok).select("line_no", "line", pl.col("_reason").alias("reason"))
        if rejects.height:  # slow path, rejected lines only: read them again, then say why
            records, rejects = variants.recover(self.read, self.compiled.regex, self.compiled.loose_regex, records,
                                                rejects)  # fmt: skip
        else:
            records = records.with_columns(pl.lit(None, pl.String).alias("_variant"))
        if rejects.height:
            rejects = rejects.with_columns(
                pl.Series(
                    "reason",
                    [
                        diagnose(ln, r, "time" in self.compiled.fields)
                        for ln, r in rejects.select("line", "reason").iter_rows()
                    ],
                    pl.String,
                )
            )
        return records, rejects

    def read(self, batch: pl.DataFrame, regex: str) -> pl.DataFrame:
        """Every line of ``batch`` read with ``regex`` (this format's, or a looser variant of it):
        normalised records with ``line`` and ``_reason`` (null when the line was read).

        One lazy query, collected on the calling thread (ingest parses two batches at once).
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
        groups, cleaned = named_groups(batch, regex, QUOTED_FIELDS - {probe}, times=probe != "time")
        lf = groups.lazy()
        if self.client_port:  # the port is always there: cut it from the end (a fast reverse search)
            port = pl.col("client").str.replace(r":[0-9]{1,5}$", "")
            lf = lf.with_columns(port.str.strip_prefix("[").str.strip_suffix("]").alias("client"))
        if "ts" not in groups.columns:  # (else the compiled cutter read the times)
            lf = lf.with_columns(timestamp(fields))
        lf = lf.with_columns(reason.alias("_reason"))
        return normalise(lf, fields, clean=cleaned).collect(engine=ENGINE)

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


def named_groups(
    batch: pl.DataFrame, regex: str, clean: frozenset[str] = frozenset(), times: bool = False
) -> tuple[pl.DataFrame, frozenset[str]]:
    """``batch`` with the named groups of ``regex`` as columns: cut in one compiled pass when the
    regex is a plain CLF layout (:mod:`.fastcut`), else by polars' regex engine; and the groups
    of ``clean`` that came cleaned up (the compiled pass cleans them up as it packs them:
    :func:`~logtool.parsers.normalise.clean_up`). ``times``: the compiled pass may read a
    ``time`` group into ``ts`` and ``tz_offset_min`` instead."""
    if (plan := fastcut.plan(regex)) is not None:
        clean = clean & frozenset(plan.names)
        if (cut := fastcut.cut(batch.get_column("line"), plan, clean, times)) is not None:
            return batch.hstack(cut), clean
    return batch.with_columns(pl.col("line").str.extract_groups(regex).alias("_g")).unnest("_g"), frozenset()


_TIME_ANYWHERE = re.compile(r"\[[^\]]*\d{2}:\d{2}:\d{2}[^\]]*\]")


def diagnose(line: str | None, reason: str, clf_time: bool = True) -> str:
    """A more helpful reason for a line the format's regex rejected (rejected lines only; a
    null one, which only a caller's own frame holds, is blank). ``clf_time``: the format has a
    bracketed CLF timestamp to look for."""
    if not reason.startswith("does not match"):
        return reason
    if line is None or not line.strip():
        return "blank line"
    if (other := variants.not_access_log(line)) is not None:
        return other
    if "\ufffd" in line[:64] and not _TIME_ANYWHERE.search(line):
        return "binary data"
    if clf_time and not _TIME_ANYWHERE.search(line):
        return "no [timestamp] field (" + reason + ")"
    if len(re.findall(r'(?<!\\)"', line)) % 2:
        return "truncated line (unbalanced quotes)"
    return reason
