"""Daily aggregates: counts per (day, dimension, key), computed at ingest and kept for good.

They hold no personal data: paths are stripped of their query and PII, referrers reduced to
their host, clients appear only as a country. Stored in long form so that partial aggregates
of several ingests simply add up; high-cardinality dimensions keep their ``top_n`` keys per
day and fold the rest into ``(other)``.

Every row is per vhost as logged (``vhost`` null when the log has none); a report over all
vhosts adds them up, which is exact for every dimension because visitor keys already include
the vhost. Only the ``TOP_VHOSTS`` busiest vhosts of a day keep their own rows (the Host header
is client text: a scanner can send thousands); the rest count as vhost ``(other)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

from logtool.anonymize.fields import referrer_host
from logtool.anonymize.redact import redact
from logtool.config import DEFAULT_SENSITIVE_PARAMS
from logtool.detect.flags import SignatureCache, request_flags
from logtool.pipeline import ENGINE
from logtool.schema import AGENT_CODE, AGG_SCHEMA, conform, day_span

if TYPE_CHECKING:
    from logtool.store import Partition, Store

OTHER = "(other)"
#: Busiest vhosts per day that keep their own rows.
TOP_VHOSTS = 50
#: The aggregates' grouping columns besides the counts.
GROUP = ["date", "vhost", "dimension", "key"]
#: Dimension holding the exact daily unique-visitor count, written when a day leaves raw.
VISITORS = "visitors"
UNKNOWN = "(unknown)"

_RT_BUCKETS = [(0.1, "<0.1s"), (0.5, "0.1-0.5s"), (1.0, "0.5-1s"), (5.0, "1-5s")]
#: Response-time buckets from fast to slow (the order reports show them in).
RT_ORDER = (*(label for _, label in _RT_BUCKETS), ">=5s", UNKNOWN)


def _rt_bucket() -> pl.Expr:
    rt = pl.col("request_time_s")
    expr = pl.when(rt.is_null()).then(None)
    for limit, label in _RT_BUCKETS:
        expr = expr.when(rt < limit).then(pl.lit(label))
    return expr.otherwise(pl.lit(">=5s"))


#: A dimension's key as an expression over its distinct values ``v``.
Key = Callable[[pl.Expr], pl.Expr]


class Redacted:
    """The key of a dimension whose values are URL paths: :func:`redact` of the distinct
    values (it works on a Series, so it runs before the one plan that adds every key)."""


REDACTED = Redacted()


def _text(c: pl.Expr) -> pl.Expr:
    return c.cast(pl.String)


#: Dimension name → (cheap per-row expression, key computed once per distinct value).
#: Expensive keys (PII redaction, referrer host) are thus computed on distinct values only.
DIMENSIONS: dict[str, tuple[pl.Expr, Key | Redacted]] = {
    "total": (pl.lit("all"), _text),
    "status": (pl.col("status"), _text),
    "status_class": (pl.col("status") // 100, lambda c: pl.concat_str([c.cast(pl.String), pl.lit("xx")])),
    "method": (pl.col("method"), _text),
    "path": (pl.col("path"), REDACTED),
    "referrer_host": (pl.col("referrer"), referrer_host),
    "browser": (pl.col("ua_family"), _text),
    "os": (pl.col("os_family"), _text),
    "device": (pl.col("device"), _text),
    "bot": (pl.col("is_bot"), lambda c: pl.when(c).then(pl.lit("bot")).when(c.not_()).then(pl.lit("human"))),
    "country": (pl.col("country"), _text),
    "hour": (pl.col("ts").dt.hour(), lambda c: c.cast(pl.String).str.zfill(2)),
    "response_time": (_rt_bucket(), _text),
    "not_found": (pl.when(pl.col("status") == 404).then(pl.col("path")), REDACTED),
}
#: Dimensions that count only some requests: a null value is not counted (not ``(unknown)``).
SPARSE = {"not_found"}
#: Dimensions with few values in a day (not free text, not addresses): one group-by over their
#: combinations (a few hundred in a batch) counts them all, each is then summed from it.
FEW_VALUES = {"total", "status", "status_class", "method", "browser", "os", "device", "bot", "hour", "response_time"}

#: Few-valued dimensions that are classes of the user agent (dimension → column): records with
#: :data:`~logtool.schema.AGENT_CODE` group by that number instead, and take these columns from
#: the first row of each group; and those computed from the other keys after grouping.
BY_AGENT = {"browser": "ua_family", "os": "os_family", "device": "device", "bot": "is_bot"}
AFTER_GROUPING = ("total", "status_class")

#: Dimensions whose keys can be unbounded; they are capped at ``top_n`` per day.
CAPPED = {"path", "referrer_host", "browser", "os", "country", "status", "not_found"}


#: Requests per attack category (signatures, protocol anomalies, fake crawlers), per day.
ATTACKS = "attack"
#: Requests flagged in at least one attack category (key ``requests``): a request can be in several.
ATTACKED = "attacked"
#: Behavioural findings per category, written once when a day leaves the raw stage.
FINDINGS = "findings"


def attacks(records: pl.DataFrame, rules: dict[str, Any], cache: SignatureCache | None = None) -> pl.DataFrame:
    """Flagged requests per (day, vhost, category), and per (day, vhost) flagged at all: attack
    trends without personal data. ``cache``: classifications shared by an ingest call's batches."""
    flags = request_flags(records, rules, cache=cache)
    cats = flags.columns
    index = ["date", "vhost"]
    # the flagged rows only (a few in a hundred), then one sum per category and (day, vhost),
    # kept where it is not zero (no row per flag)
    flagged = (
        flags.lazy()
        .with_columns(records.get_column("ts").alias("date"), records.get_column("vhost"))
        .filter(pl.any_horizontal(cats))
        .with_columns(pl.col("date").dt.date())  # of the flagged rows only
        .group_by(index)
        .agg(*(pl.col(c).sum().cast(pl.Int64) for c in cats), pl.len().cast(pl.Int64).alias("_any"))
    )
    sums = flagged.collect(engine=ENGINE)
    long = sums.unpivot(index=index, variable_name="key", value_name="requests").filter(pl.col("requests") > 0)
    zero = pl.lit(0, dtype=pl.Int64).alias("bytes")
    per_key = long.filter(pl.col("key") != "_any")
    any_hit = long.filter(pl.col("key") == "_any")
    return pl.concat(
        [
            per_key.select("date", pl.lit(ATTACKS).alias("dimension"), "key", "requests", zero, "vhost"),
            any_hit.select(
                "date", pl.lit(ATTACKED).alias("dimension"), pl.lit("requests").alias("key"), "requests", zero, "vhost"
            ),  # fmt: skip
        ]
    )


def _combinations(base: pl.LazyFrame, keys: list[str], together: list[str], counts: list[pl.Expr],
                  coded: bool) -> pl.LazyFrame:  # fmt: skip
    """The counts per combination of the few-valued dimensions ``together`` (one column each).
    ``coded`` (records with :data:`~logtool.schema.AGENT_CODE`): the user agent's classes are
    one integer key, not four text ones (a 63,000-row batch's group-by 10–11 → 7–8 ms)."""
    if not coded:
        return base.group_by(*keys, *(DIMENSIONS[n][0].alias(n) for n in together)).agg(counts)
    per_row = [n for n in together if n not in BY_AGENT and n not in AFTER_GROUPING]
    firsts = [pl.col(c).first() for c in BY_AGENT.values()]
    grouped = base.group_by(*keys, *(DIMENSIONS[n][0].alias(n) for n in per_row), AGENT_CODE).agg(*counts, *firsts)
    # the expressions of the others read only the per-row keys (status) and the agent's classes
    return grouped.with_columns(DIMENSIONS[n][0].alias(n) for n in together if n not in per_row)


def daily(
    records: pl.DataFrame,
    sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS,
    rules: dict[str, Any] | None = None,
    signatures: SignatureCache | None = None,
) -> pl.DataFrame:
    """Aggregate canonical records (raw or anonymised stage) per UTC day; with review ``rules``,
    also the requests per attack category (``signatures``: see :func:`attacks`)."""
    if records.height == 0:
        return pl.DataFrame(schema=AGG_SCHEMA)
    day = pl.col("ts").dt.date()
    base = records.lazy().with_columns(day.alias("date"), pl.col("bytes").fill_null(0))
    lo, hi, vhosts, vhost = records.select(
        *day_span(), pl.col("vhost").n_unique().alias("n"), pl.col("vhost").first()
    ).row(0)
    # a batch is usually one day of one vhost: then those are constants, not grouping keys
    keys = [] if lo == hi and vhosts == 1 else ["date", "vhost"]
    counts = [pl.len().cast(pl.Int64).alias("requests"), pl.col("bytes").sum().cast(pl.Int64)]
    together = [n for n in DIMENSIONS if n in FEW_VALUES]
    apart = [n for n in DIMENSIONS if n not in FEW_VALUES]
    queries = [_combinations(base, keys, together, counts, AGENT_CODE in records.columns)]
    queries += [base.group_by(*keys, DIMENSIONS[n][0].alias("v")).agg(counts) for n in apart]
    combos, *separate = pl.collect_all(queries, engine=ENGINE)
    firsts: dict[str, pl.DataFrame | pl.LazyFrame] = dict(zip(apart, separate, strict=True))
    for n in together:  # each summed from the (few) combinations
        firsts[n] = combos.lazy().group_by(*keys, pl.col(n).alias("v")).agg(pl.col("requests", "bytes").sum())
    constants = [] if keys else [pl.lit(lo, pl.Date).alias("date"), pl.lit(vhost, pl.String).alias("vhost")]
    # one plan for every dimension's keys and sums: per-dimension calls cost ~15 ms per batch
    keyed = []
    for name, (_, key) in DIMENSIONS.items():
        first = firsts[name]
        if name in SPARSE:
            first = first.filter(pl.col("v").is_not_null())
        if isinstance(key, Redacted):  # on the distinct values (an eager frame: see ``apart``)
            assert isinstance(first, pl.DataFrame)
            first = first.with_columns(redact(first.get_column("v").cast(pl.String), sensitive).alias("_k"))
            key_expr = pl.col("_k")
        else:
            key_expr = key(pl.col("v"))
        keyed.append(
            first.lazy()
            .with_columns(*constants)
            .select(
                "date",
                pl.lit(name).alias("dimension"),
                key_expr.fill_null(UNKNOWN).alias("key"),
                "requests",
                "bytes",
                "vhost",
            )  # fmt: skip
        )
    sums = pl.concat(keyed).group_by("date", "vhost", "dimension", "key").agg(pl.col("requests", "bytes").sum())
    out = [sums.select("date", "dimension", "key", "requests", "bytes", "vhost").collect(engine=ENGINE)]
    if rules is not None:
        out.append(attacks(records, rules, signatures))
    return pl.concat(out)


def merge(frames: list[pl.DataFrame], top_n: int | None = None) -> pl.DataFrame:
    """Add partial aggregates together; optionally cap capped dimensions at ``top_n`` keys."""
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=AGG_SCHEMA)
    out = merge_plain(*frames)
    if top_n is not None:
        out = cap(fold_vhosts(out), top_n)
    return out.sort("date", "dimension", "vhost", "requests", "key", descending=[False, False, False, True, False],
                    nulls_last=False)  # fmt: skip


def fold_vhosts(df: pl.DataFrame, keep: int = TOP_VHOSTS) -> pl.DataFrame:
    """Count the vhosts of a day beyond its ``keep`` busiest as vhost ``(other)``."""
    day_total = pl.col("requests").filter(pl.col("dimension") == "total").sum().over("date", "vhost")
    rank = pl.struct(-day_total, pl.col("vhost")).rank("dense").over("date")
    fold = pl.col("vhost").is_not_null() & (rank > keep)
    if not df.select(fold.any()).item():
        return df
    return merge_plain(df.with_columns(pl.when(fold).then(pl.lit(OTHER)).otherwise(pl.col("vhost")).alias("vhost")))


def cap(df: pl.DataFrame, top_n: int) -> pl.DataFrame:
    """Keep the ``top_n`` keys of each capped (date, vhost, dimension); sum the rest into ``(other)``."""
    over = ("date", "vhost", "dimension")
    ranked = df.with_columns(pl.col("requests").rank("ordinal", descending=True).over(over).alias("_r"))
    fold = pl.col("dimension").is_in(list(CAPPED)) & (pl.col("_r") > top_n)
    kept = ranked.filter(~fold).drop("_r")
    folded = (
        ranked.filter(fold)
        .group_by(over)
        .agg(pl.lit(OTHER).alias("key"), pl.col("requests").sum(), pl.col("bytes").sum())
        .select(kept.columns)
    )
    return merge_plain(kept, folded)


def merge_plain(*frames: pl.DataFrame) -> pl.DataFrame:
    """Frames of aggregates (a missing ``vhost`` column is null: all vhosts) summed per key."""
    return (
        pl.concat([conform(f, AGG_SCHEMA) for f in frames])
        .group_by(GROUP)
        .agg(pl.col("requests").sum(), pl.col("bytes").sum())
        .select(list(AGG_SCHEMA))
    )


#: Dimensions whose keys are fixed categories: never folded into ``(other)``.
UNFOLDED = ("total", "hour", "status_class", "bot", "response_time", ATTACKS, ATTACKED, FINDINGS, VISITORS)


def fold_small(df: pl.DataFrame, min_count: int) -> pl.DataFrame:
    """Fold keys with fewer than ``min_count`` requests into ``(other)`` (k-anonymity for reports).

    Dimensions whose keys are fixed categories (total, hour, status class, bot, attack and
    finding categories) are never folded: their counts name nobody.
    """
    keep_all = pl.col("dimension").is_in(list(UNFOLDED))
    small = ~keep_all & (pl.col("requests") < min_count)
    renamed = df.with_columns(pl.when(small).then(pl.lit(OTHER)).otherwise(pl.col("key")).alias("key"))
    group = [c for c in df.columns if c not in ("requests", "bytes")]
    return renamed.group_by(group).agg(pl.col("requests").sum(), pl.col("bytes").sum())


def unique_visitors(store: Store, parts: list[Partition]) -> int:
    """Distinct visitor keys in raw partitions (streamed by polars)."""
    return sum(unique_visitors_by_vhost(store, parts).values())


def unique_visitors_by_vhost(store: Store, parts: list[Partition]) -> dict[str | None, int]:
    """Distinct visitor keys per vhost in raw partitions (keys include the vhost, so the counts
    add up to the distinct keys of all vhosts)."""
    if not parts:
        return {}
    lf = store.scan(parts).group_by("vhost").agg(pl.col("visitor_key").drop_nulls().n_unique().alias("n"))
    return {v: int(n) for v, n in store.collect(lf, parts, "raw").iter_rows()}
