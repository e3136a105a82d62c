"""Signature matches remembered across the pieces of one review.

A review reads a day in shards of clients and the store day by day; the request targets, agents
and referrers of every piece are mostly the ones the pieces before it had. :class:`HitCache`
stands in for :func:`logtool.detect.signatures.field_hits`: each distinct value of a field is
classified once (normalised, matched, its excerpt cut), and every later piece only looks its rows
up. What a value matches depends on the value alone, so the hits are the same as without the
cache. Bounded: a field starts over when it has seen ``max_values`` values.
"""

from __future__ import annotations

import polars as pl

from logtool.detect.signatures import field_hits

HIT_SCHEMA = {"_row": pl.UInt32, "category": pl.String, "field": pl.String, "excerpt": pl.String}


def _copy(s: pl.Series) -> pl.Series:
    """``s`` with its own text buffer (a gathered series shares its source's, which would keep
    a whole piece in memory)."""
    return pl.select(pl.concat_str([pl.lit(s), pl.lit("")])).to_series().alias(s.name)


class _Field:
    def __init__(self) -> None:
        self.seen = pl.Series("v", [], dtype=pl.String)  # every value classified so far
        self.hits = pl.DataFrame(schema={"v": pl.String, "category": pl.String, "field": pl.String,
                                         "excerpt": pl.String})  # fmt: skip


class HitCache:
    """:func:`~logtool.detect.signatures.field_hits` over values not seen before (callable with
    its arguments). Not shared between threads."""

    def __init__(self, max_values: int = 200_000) -> None:
        self.max_values = max_values
        self.fields: dict[tuple[str, tuple[str, ...]], _Field] = {}

    def __call__(self, values: pl.Series, field: str, cats: tuple[str, ...]) -> pl.DataFrame:
        known = self.fields.get((field, cats))
        uniq = values.drop_nulls().unique()
        if known is None or known.seen.len() + uniq.len() > self.max_values:
            known = self.fields[(field, cats)] = _Field()
            new = uniq
        else:
            new = uniq.filter(~uniq.is_in(known.seen.implode()))
        if new.len():
            new = _copy(new.rename("v"))
            found = field_hits(new, field, cats)
            found = found.with_columns(new.gather(found.get_column("_row")).alias("v")).drop("_row")
            known.seen = pl.concat([known.seen, new], rechunk=True)
            known.hits = pl.concat([known.hits, found.select(known.hits.columns)], rechunk=True)
        if known.hits.height == 0:
            return pl.DataFrame(schema=HIT_SCHEMA)
        flagged = known.hits.get_column("v").unique()
        idx = values.is_in(flagged.implode()).fill_null(False).arg_true()
        rows = pl.DataFrame({"_row": idx, "v": values.gather(idx)})
        return rows.join(known.hits, on="v", how="inner").select(list(HIT_SCHEMA)).cast(HIT_SCHEMA)  # type: ignore[arg-type]
