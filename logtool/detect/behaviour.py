"""Behavioural detectors: per client over sliding windows (brute force, 4xx probing, user-agent
switching, floods above a threshold and the population's median) and 5xx spikes per vhost.

Each returns the *rows* that fall inside an offending window, with ``_key`` (who the client is);
:mod:`logtool.detect.findings` groups them into findings.
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


def _probes(rule: dict[str, Any]) -> pl.Expr:
    static = pl.any_horizontal([pl.col("path").str.to_lowercase().str.ends_with(s) for s in rule["static_suffixes"]])
    return (pl.col("status") >= 400) & (pl.col("status") < 500) & ~static.fill_null(False)


def _sliding(rows: pl.DataFrame, rule: dict[str, Any], measure: pl.Expr) -> pl.DataFrame:
    """Per row: ``_key``, ``ts`` and ``_n``, the ``measure`` over the same ``_key``'s rows in
    the sliding window ``(ts - window_seconds, ts]`` (rows come back grouped, not in input order)."""
    rows = rows.sort("_key", "ts")
    return rows.rolling("ts", period=f"{int(rule['window_seconds'])}s", group_by="_key").agg(measure.alias("_n"))


def _in_windows(rows: pl.DataFrame, ends: pl.DataFrame, rule: dict[str, Any]) -> pl.DataFrame:
    """The rows that fall inside one of the offending windows ``(_end - window, _end]`` of their ``_key``."""
    if ends.height == 0:
        return rows.clear()
    width = timedelta(seconds=int(rule["window_seconds"]))
    joined = rows.sort("ts").join_asof(ends.sort("_end"), left_on="ts", right_on="_end", by="_key",
                                       strategy="forward", check_sortedness=False)  # fmt: skip
    return joined.filter(pl.col("_end").is_not_null() & (pl.col("_end") - pl.col("ts") < width)).drop("_end")


def _windowed(df: pl.DataFrame, cond: pl.Expr, rule: dict[str, Any], distinct: str | None = None) -> pl.DataFrame:
    """Rows of clients with at least ``threshold`` matching requests (or distinct values of
    ``distinct``) within ``window_seconds`` (a sliding window)."""
    hits = df.filter(cond)
    if hits.height == 0:
        return hits
    # only a client with at least ``threshold`` of them in the whole piece can reach it in a window
    total = pl.col(distinct).n_unique() if distinct else pl.len()
    keys = hits.group_by("_key").agg(total.alias("_t")).filter(pl.col("_t") >= rule["threshold"])
    hits = hits.filter(pl.col("_key").is_in(keys.get_column("_key").implode()))
    if hits.height == 0:
        return hits
    if distinct:  # the same value within one second adds nothing to a distinct count
        counted = _sliding(
            hits.unique(["_key", distinct, pl.col("ts").dt.truncate("1s")]), rule, pl.col(distinct).n_unique()
        )
    else:
        counted = _sliding(hits, rule, pl.len())
    bad = counted.filter(pl.col("_n") >= rule["threshold"])
    return _in_windows(hits, bad.select("_key", pl.col("ts").alias("_end")).unique(), rule)


def _floods(df: pl.DataFrame, rule: dict[str, Any]) -> pl.DataFrame:
    """Clients above ``threshold`` requests in a sliding window *and* ``baseline_factor`` times
    the median client of that stretch of time (a busy site is not a flood)."""
    bucket = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s").alias("_w")
    per_bucket = df.group_by("_key", bucket).agg(pl.len().alias("_c"))
    medians = per_bucket.group_by("_w").agg(pl.col("_c").median().alias("_median"))
    busy = per_bucket.group_by("_key").agg(pl.col("_c").sum().alias("_t")).filter(pl.col("_t") >= rule["threshold"])
    candidates = df.filter(pl.col("_key").is_in(busy.get_column("_key").implode()))
    if candidates.height == 0:
        return df.clear()
    counted = _sliding(candidates.select("_key", "ts"), rule, pl.len()).with_columns(bucket)
    counted = counted.join(medians, on="_w", how="left")
    bad = (pl.col("_n") >= rule["threshold"]) & (pl.col("_n") >= rule["baseline_factor"] * pl.col("_median"))
    ends = counted.filter(bad).select("_key", pl.col("ts").alias("_end")).unique()
    return _in_windows(candidates, ends, rule)


def _error_spikes(df: pl.DataFrame, rule: dict[str, Any]) -> pl.DataFrame:
    """Bursts of 5xx answers per vhost (the "client" of these findings is the vhost)."""
    vhost = pl.col("vhost").fill_null("(default vhost)") if "vhost" in df.columns else pl.lit("(default vhost)")
    errors = df.filter(pl.col("status") >= 500).with_columns(vhost.alias("_key"))
    if errors.height == 0:
        return errors
    errors = errors.with_columns(pl.col("_key").alias("_net"), pl.col("_key").alias("_ip"))
    return _windowed(errors, pl.lit(True), rule)


def behaviour_rows(df: pl.DataFrame, name: str, rules: dict[str, Any]) -> pl.DataFrame:
    """The rows of ``df`` (with ``_key``) inside offending windows of behaviour ``name``."""
    rule = rules[name]
    if name == "brute_force":
        return _windowed(df, _auth_failures(rule), rule)
    if name == "probing":
        return _windowed(df, _probes(rule), rule, distinct="path")
    if name == "ua_switching":
        if "user_agent" not in df.columns:
            return df.clear()
        return _windowed(df, pl.col("user_agent").is_not_null(), rule, distinct="user_agent")
    if name == "flood":
        return _floods(df, rule)
    if name == "error_spike":
        return _error_spikes(df, rule)
    raise ValueError(name)
