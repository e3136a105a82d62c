"""Findings over rows of the raw or anonymised stage (DataFrames in, findings out, no I/O).

Per-request findings (signatures, protocol anomalies, fake crawlers) group flagged requests per
client and category; behavioural findings count per client over sliding windows (brute force,
probing, user-agent switching, floods, and 5xx spikes per vhost). Without a hold a client is
named by its network and sample requests are redacted; with ``full`` detail (under a hold,
decided by :mod:`logtool.review`) the address and the raw request are shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import polars as pl

from logtool.anonymize.redact import redact
from logtool.config import Policy
from logtool.detect.rules import SEVERITIES
from logtool.detect.signatures import CATEGORIES, REQUEST_CATEGORIES, request_flags, request_target
from logtool.net import mask_distinct, network_text, parse_ip

MAX_SAMPLES = 3
#: Behavioural detectors, in the order they run.
BEHAVIOURS = ("brute_force", "probing", "ua_switching", "flood", "error_spike")
DETECTORS = ("requests", *BEHAVIOURS)


@dataclass
class Finding:
    detector: str
    category: str
    severity: str
    client: str
    first_seen: str
    last_seen: str
    count: int
    distinct_paths: int
    samples: list[str] = field(default_factory=list)
    next_step: str = ""
    #: Distinct clients (IPv4 addresses, IPv6 /64s) behind ``client`` when it names a network.
    clients: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sample_text(df: pl.DataFrame, full: bool, policy: Policy) -> pl.DataFrame:
    out = df.with_columns(request_target().alias("_target"))
    if not full:
        out = out.with_columns(redact(out["_target"], policy.sensitive_params).alias("_target"))
    return out.with_columns(
        pl.concat_str([pl.col("method").fill_null("-"), pl.lit(" "), pl.col("_target").fill_null("-")]).alias("_sample")
    )


def client_keys(df: pl.DataFrame, v6_prefix: int) -> pl.Series:
    """Who a client is: the address in the raw stage (IPv6 as its ``/v6_prefix`` network, since
    hosts rotate addresses inside it), the network in the anonymised stage."""
    net = pl.col("client_net") if "client_net" in df.columns else pl.lit(None, dtype=pl.String)
    if "client_ip" not in df.columns:
        return df.select(pl.coalesce(net, pl.lit("(unknown)")).alias("_key")).to_series()

    def careful(rest: pl.Series) -> pl.Series:
        return pl.Series([_client_key(v, v6_prefix) for v in rest.to_list()], dtype=pl.String)

    # an IPv4 address is its own key (a /32 network, without the suffix)
    table = mask_distinct(df.get_column("client_ip").drop_nulls().unique(), 32, careful, suffix=False)
    joined = df.select(pl.col("client_ip").alias("v"), net.alias("_net")).join(table, on="v", how="left",
                                                                                maintain_order="left")  # fmt: skip
    # rows of days already anonymised have no address: their network is the client
    return joined.select(pl.coalesce("m", "_net", pl.lit("(unknown)")).alias("_key")).to_series()


def _client_key(text: str, v6_prefix: int) -> str:
    addr = parse_ip(text)
    if addr is None:
        return text  # a hostname stays itself (it is only ever shown under a hold)
    if addr.version == 4:
        return str(addr)
    return network_text(addr, 32, v6_prefix) if v6_prefix < 128 else str(addr)


def _group(flagged: pl.DataFrame, detector: str, category: str, severity: str, hold: str | None) -> list[Finding]:
    """One finding per client label, in order of first appearance (one vectorised aggregation)."""
    rows = flagged.group_by("_client", maintain_order=True).agg(
        pl.col("ts").min().alias("first"),
        pl.col("ts").max().alias("last"),
        pl.len().alias("count"),
        pl.col("path").n_unique().alias("paths"),
        pl.col("_sample").unique(maintain_order=True).head(MAX_SAMPLES).alias("samples"),
        pl.col("_key").n_unique().alias("clients"),
    )
    out = []
    for client, first, last, count, paths, samples, clients in rows.iter_rows():
        window = f"--from {first:%Y-%m-%dT%H:%M}Z --to {last:%Y-%m-%dT%H:%M}Z"
        if category == "error_spike":
            step = f"look at the application behind {client} around {first:%H:%M}Z"
        elif hold is None:
            step = f"logtool hold create INC-<id> --reason '{category} from {client}' {window} --network {client}"
        else:
            step = f"logtool review --hold {hold} --blocklist nftables  (firewall rules for the held addresses)"
        out.append(Finding(detector, category, severity, str(client), first.isoformat(), last.isoformat(), count,
                           paths, samples, step, clients))  # fmt: skip
    return out


def prepare(df: pl.DataFrame, policy: Policy, rules: dict[str, Any], full: bool) -> pl.DataFrame:
    """Add the review's working columns: ``_key`` (who a client is), ``_client`` (how findings
    name it: the address under a hold, the network otherwise) and ``_sample``."""
    key = client_keys(df, int(rules["clients"]["ipv6_prefix"]))
    df = _sample_text(df, full, policy).with_columns(key)
    if not full:
        return df.with_columns(pl.col("client_net").fill_null("(unknown)").alias("_client"))
    # under a hold: the address, or the IPv6 network when several of its addresses took part
    single = pl.col("client_ip").n_unique().over("_key") == 1
    return df.with_columns(pl.when(single).then(pl.col("client_ip")).otherwise(pl.col("_key")).alias("_client"))


def review_frame(df: pl.DataFrame, policy: Policy, rules: dict[str, Any], hold: str | None = None,
                 detectors: Collection[str] = DETECTORS) -> list[Finding]:  # fmt: skip
    """Findings over rows of the raw or anonymised stage, most severe first. ``detectors``:
    ``requests`` (the per-request categories) and any of :data:`BEHAVIOURS`."""
    if df.height == 0:
        return []
    sev = rules["severity"]
    df = prepare(df, policy, rules, full=hold is not None)
    findings: list[Finding] = []
    if "requests" in detectors:
        flags = request_flags(df, rules)
        for cat in REQUEST_CATEGORIES:
            hits = df.filter(flags.get_column(cat))
            if hits.height:
                detector = "signature" if cat in CATEGORIES else cat.replace("_", "-")
                findings += _group(hits, detector, cat, sev[cat], hold)
    bf, pr, us = rules["brute_force"], rules["probing"], rules["ua_switching"]
    if "brute_force" in detectors:
        findings += _windowed(df, "brute_force", _auth_failures(bf), bf, sev, hold)
    if "probing" in detectors:
        findings += _windowed(df, "probing", _probes(pr), pr, sev, hold, distinct="path")
    if "ua_switching" in detectors and "user_agent" in df.columns:
        findings += _windowed(df, "ua_switching", pl.col("user_agent").is_not_null(), us, sev, hold,
                              distinct="user_agent")  # fmt: skip
    if "flood" in detectors:
        findings += _floods(df, rules["flood"], sev, hold)
    if "error_spike" in detectors:
        findings += _error_spikes(df, rules["error_spike"], sev, hold)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (order[f.severity], -f.count, f.client))


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
    """The rows (sorted by time) that fall inside one of the offending windows
    ``(_end - window, _end]`` of their ``_key``."""
    if ends.height == 0:
        return rows.clear()
    width = timedelta(seconds=int(rule["window_seconds"]))
    joined = rows.sort("ts").join_asof(ends.sort("_end"), left_on="ts", right_on="_end", by="_key",
                                       strategy="forward", check_sortedness=False)  # fmt: skip
    return joined.filter(pl.col("_end").is_not_null() & (pl.col("_end") - pl.col("ts") < width)).drop("_end")


def _windowed(df: pl.DataFrame, name: str, cond: pl.Expr, rule: dict[str, Any], sev: dict[str, str],
              hold: str | None, distinct: str | None = None) -> list[Finding]:  # fmt: skip
    """Clients with at least ``threshold`` matching requests (or distinct values of ``distinct``)
    within ``window_seconds`` (a sliding window)."""
    hits = df.filter(cond)
    if hits.height == 0:
        return []
    counted = _sliding(hits, rule, pl.col(distinct).n_unique() if distinct else pl.len())
    return _offending(hits, counted.filter(pl.col("_n") >= rule["threshold"]), rule, name, sev, hold)


def _offending(rows: pl.DataFrame, bad: pl.DataFrame, rule: dict[str, Any], name: str, sev: dict[str, str],
               hold: str | None) -> list[Finding]:  # fmt: skip
    """Findings of the ``rows`` inside the windows that end at the ``bad`` counts."""
    flagged = _in_windows(rows, bad.select("_key", pl.col("ts").alias("_end")).unique(), rule)
    return _group(flagged, "behaviour", name, sev[name], hold) if flagged.height else []


def _floods(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: str | None) -> list[Finding]:
    """Clients above ``threshold`` requests in a sliding window *and* ``baseline_factor`` times
    the median client of that stretch of time (a busy site is not a flood)."""
    bucket = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s").alias("_w")
    per_bucket = df.group_by("_key", bucket).agg(pl.len().alias("_c"))
    medians = per_bucket.group_by("_w").agg(pl.col("_c").median().alias("_median"))
    counted = _sliding(df.select("_key", "ts"), rule, pl.len()).with_columns(bucket)
    counted = counted.join(medians, on="_w", how="left")
    bad = (pl.col("_n") >= rule["threshold"]) & (pl.col("_n") >= rule["baseline_factor"] * pl.col("_median"))
    return _offending(df, counted.filter(bad), rule, "flood", sev, hold)


def _error_spikes(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: str | None) -> list[Finding]:
    """Bursts of 5xx answers per vhost (the "client" of these findings is the vhost)."""
    vhost = pl.col("vhost").fill_null("(default vhost)")
    errors = df.filter(pl.col("status") >= 500).with_columns(vhost.alias("_client"), vhost.alias("_key"))
    if errors.height == 0:
        return []
    return _windowed(errors, "error_spike", pl.lit(True), rule, sev, hold)


def counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per category."""
    return dict(Counter(f.category for f in findings))


def at_least(findings: list[Finding], severity: str) -> bool:
    """Is any finding at least as severe as ``severity`` (``--fail-on``)?"""
    return any(SEVERITIES.index(f.severity) >= SEVERITIES.index(severity) for f in findings)
