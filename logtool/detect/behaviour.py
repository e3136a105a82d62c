"""Behavioural detectors: per client over sliding windows (brute force, 4xx probing, user-agent
switching, floods above a threshold and the population's median) and 5xx spikes per vhost.

Each returns the *rows* that fall inside an offending window, with ``_key`` (who the client is),
in time order; :mod:`logtool.detect.findings` groups them into findings. The work runs on narrow
rows (row number, client, time, value), and the exact sliding count only where a cheap bound
(per client, per pair of window-long buckets) says a window can reach the threshold.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

#: Behavioural detectors, in the order they run.
BEHAVIOURS = ("brute_force", "probing", "ua_switching", "flood", "error_spike")


def _auth_failures(rule: dict[str, Any]) -> pl.Expr:
    login = pl.col("path").is_in(rule["login_paths"])
    return pl.col("status").is_in([401, 403]) | ((pl.col("method") == "POST") & login)


def _client_errors() -> pl.Expr:
    return (pl.col("status") >= 400) & (pl.col("status") < 500)


def _not_static(rule: dict[str, Any]) -> pl.Expr:
    static = pl.any_horizontal([pl.col("path").str.to_lowercase().str.ends_with(s) for s in rule["static_suffixes"]])
    return ~static.fill_null(False)


def _bucket(rule: dict[str, Any]) -> pl.Expr:
    """Consecutive stretches of one window's length: a window ``(t - w, t]`` lies in the bucket
    of ``t`` and the one before it."""
    return (pl.col("ts").dt.epoch("us") // (int(rule["window_seconds"]) * 1_000_000)).alias("_b")


def _candidates(rows: pl.DataFrame, rule: dict[str, Any], measure: pl.Expr) -> pl.DataFrame:
    """The ``rows`` that an offending window can hold, found cheaply: a client whose rows stay
    below ``threshold`` (by ``measure``) in the whole piece has none; and a window ends in one
    bucket (see :func:`_bucket`) and starts in it or the one before, so where a bucket and the
    one before it stay below ``threshold`` together (``measure`` per bucket, added up: an upper
    bound for a distinct count) no window ends. Clients are grouped by a hash of ``_key`` here,
    which can only merge clients, so nothing is missed; the exact count follows."""
    threshold = rule["threshold"]
    rows = rows.with_columns(pl.col("_key").hash().alias("_h"))
    busy = rows.group_by("_h").agg(measure.alias("_c")).filter(pl.col("_c") >= threshold)
    rows = rows.filter(pl.col("_h").is_in(busy.get_column("_h").implode())).with_columns(_bucket(rule))
    per = rows.group_by("_h", "_b").agg(measure.alias("_c"))
    before = per.select("_h", pl.col("_b") + 1, pl.col("_c").alias("_p"))
    pairs = per.join(before, on=["_h", "_b"], how="left").with_columns(pl.col("_c") + pl.col("_p").fill_null(0))
    ok = pairs.filter(pl.col("_c") >= threshold).select("_h", "_b")
    if ok.height == 0:
        return rows.clear().drop("_b", "_h")
    need = pl.concat([ok, ok.with_columns(pl.col("_b") - 1)]).unique()
    return rows.join(need, on=["_h", "_b"], how="semi", maintain_order="left").drop("_b", "_h")


def _sliding(rows: pl.DataFrame, rule: dict[str, Any], measure: pl.Expr) -> pl.DataFrame:
    """Per row: ``_key``, ``ts`` and ``_n``, the ``measure`` over the same ``_key``'s rows in
    the sliding window ``(ts - window_seconds, ts]`` (rows come back grouped, not in input order)."""
    rows = rows.sort("_key", "ts", maintain_order=True)
    return rows.rolling("ts", period=f"{int(rule['window_seconds'])}s", group_by="_key").agg(measure.alias("_n"))


def _in_windows(rows: pl.DataFrame, ends: pl.DataFrame, rule: dict[str, Any]) -> pl.Series:
    """``_i`` of the ``rows`` that fall inside one of the offending windows ``(_end - window,
    _end]`` of their ``_key``."""
    if ends.height == 0:
        return pl.Series("_i", [], dtype=pl.UInt32)
    width = timedelta(seconds=int(rule["window_seconds"]))
    joined = (
        rows.select("_i", "_key", "ts")
        .sort("ts")
        .join_asof(
            ends.sort("_end"), left_on="ts", right_on="_end", by="_key", strategy="forward", check_sortedness=False
        )
    )
    return joined.filter(pl.col("_end").is_not_null() & (pl.col("_end") - pl.col("ts") < width)).get_column("_i")


def _gather(df: pl.DataFrame, idx: pl.Series) -> pl.DataFrame:
    """Rows ``idx`` of ``df`` in time order (rows of the same time in their order in ``df``)."""
    if idx.len() == 0:
        return df.clear()
    order = df.select("ts").with_row_index("_i").join(pl.DataFrame({"_i": idx}), on="_i", how="semi")
    return df[order.sort("ts", "_i").get_column("_i")]


def _narrow(df: pl.DataFrame, conds: tuple[pl.Expr, ...], cols: tuple[str, ...] = ()) -> pl.DataFrame:
    """``_i`` (row number), ``_key``, ``ts`` and ``cols`` of the rows where every one of
    ``conds`` holds (each looked at only on the rows the ones before it left)."""
    keep = ["_key", "ts", *(c for c in cols if c not in ("_key", "ts"))]
    out = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), *keep)
    for cond in conds:
        out = out.filter(cond)
    return out


def _windowed(df: pl.DataFrame, conds: tuple[pl.Expr, ...], needs: tuple[str, ...], rule: dict[str, Any],
              distinct: str | None = None) -> pl.DataFrame:  # fmt: skip
    """Rows of clients with at least ``threshold`` requests matching ``conds`` (over the columns
    ``needs``), or distinct values of ``distinct``, within ``window_seconds`` (a sliding window).
    Work runs on narrow rows (row number, client, time, value) and only where
    :func:`_candidates` leaves any."""
    hits = _narrow(df, conds, (*needs, distinct) if distinct else needs)
    if hits.height == 0:
        return df.clear()
    measure = pl.col(distinct).n_unique() if distinct else pl.len()
    hits = _candidates(hits, rule, measure)
    if hits.height == 0:
        return df.clear()
    if distinct:  # the same value within one second adds nothing to a distinct count
        firsts = hits.sort("ts", maintain_order=True).unique(
            ["_key", distinct, pl.col("ts").dt.truncate("1s")], keep="first", maintain_order=True
        )
        counted = _sliding(firsts, rule, measure)
    else:
        counted = _sliding(hits, rule, measure)
    ends = counted.filter(pl.col("_n") >= rule["threshold"]).select("_key", pl.col("ts").alias("_end")).unique()
    return _gather(df, _in_windows(hits, ends, rule))


def _floods(df: pl.DataFrame, rule: dict[str, Any]) -> pl.DataFrame:
    """Clients above ``threshold`` requests in a sliding window *and* ``baseline_factor`` times
    the median client of that stretch of time (a busy site is not a flood)."""
    rows = _candidates(_narrow(df, ()), rule, pl.len())
    if rows.height == 0:
        return df.clear()
    bucket = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s").alias("_w")
    per_bucket = df.group_by("_key", bucket).agg(pl.len().alias("_c"))
    medians = per_bucket.group_by("_w").agg(pl.col("_c").median().alias("_median"))
    counted = _sliding(rows, rule, pl.len()).with_columns(bucket)
    counted = counted.join(medians, on="_w", how="left")
    bad = (pl.col("_n") >= rule["threshold"]) & (pl.col("_n") >= rule["baseline_factor"] * pl.col("_median"))
    ends = counted.filter(bad).select("_key", pl.col("ts").alias("_end")).unique()
    return _gather(df, _in_windows(rows, ends, rule))


def _error_spikes(df: pl.DataFrame, rule: dict[str, Any]) -> pl.DataFrame:
    """Bursts of 5xx answers per vhost (the "client" of these findings is the vhost)."""
    vhost = pl.col("vhost").fill_null("(default vhost)") if "vhost" in df.columns else pl.lit("(default vhost)")
    errors = df.filter(pl.col("status") >= 500).with_columns(vhost.alias("_key"))
    if errors.height == 0:
        return errors
    errors = errors.with_columns(pl.col("_key").alias("_net"), pl.col("_key").alias("_ip"))
    return _windowed(errors, (), (), rule)


def behaviour_rows(df: pl.DataFrame, name: str, rules: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``df`` (with ``_key``) inside offending windows of behaviour ``name``, in
    time order."""
    rule = rules[name]
    if name == "brute_force":
        return _windowed(df, (_auth_failures(rule),), ("status", "method", "path"), rule)
    if name == "probing":
        # non-static paths answered 4xx; the suffixes are looked at only on the 4xx rows
        return _windowed(df, (_client_errors(), _not_static(rule)), ("status",), rule, distinct="path")
    if name == "ua_switching":
        if "user_agent" not in df.columns:
            return df.clear()
        return _windowed(df, (pl.col("user_agent").is_not_null(),), (), rule, distinct="user_agent")
    if name == "flood":
        return _floods(df, rule)
    if name == "error_spike":
        return _error_spikes(df, rule)
    raise ValueError(name)
