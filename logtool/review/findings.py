"""``logtool review``: findings from the raw stage, with no more personal detail than allowed.

Per-request findings (signatures, protocol anomalies, fake crawlers) group flagged requests per
client and category; behavioural findings count per client over sliding windows (brute force,
probing, user-agent switching, floods, and 5xx spikes per vhost). Without a hold a
client is named by its network and sample requests are redacted; under ``--hold`` only the rows
the hold matches are reviewed, with full addresses and raw requests. Rows of restricted
subjects (Art. 18) are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from logtool.anonymize.ip import mask_distinct, network_text, parse_ip
from logtool.anonymize.redact import redact
from logtool.config import Policy
from logtool.holds import Hold, held_mask
from logtool.review.rules import SEVERITIES, load_rules
from logtool.review.signatures import CATEGORIES, REQUEST_CATEGORIES, request_flags, request_target
from logtool.store import Partition, Store
from logtool.subjects import unrestricted

MAX_SAMPLES = 3
#: Behavioural detectors, in the order they run.
BEHAVIOURS = ("brute_force", "probing", "ua_switching", "flood", "error_spike")
DETECTORS = ("requests", *BEHAVIOURS)
#: Rows reviewed at once when counting a whole day's findings (memory stays bounded).
SHARD_ROWS = 2_000_000
_DAY_COLUMNS = ["ts", "client_ip", "client_net", "method", "path", "query", "status", "user_agent", "vhost"]


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


def _rows(
    store: Store, date_from: str | None, date_to: str | None, since: datetime | None, hold: Hold | None
) -> pl.DataFrame:
    """The rows to review: a hold's raw rows, or else every unrestricted raw row of the period
    plus the anonymised rows of days that have left the raw stage."""
    frames = []
    raw_parts = store.catalog.partitions("raw", date_from, date_to)
    anon_parts = [] if hold is not None else store.catalog.partitions("anonymised", date_from, date_to)
    anon_days = {p.date for p in anon_parts}
    raw_parts = [p for p in raw_parts if p.date not in anon_days]  # held raw rows of an anonymised day
    for stage, parts in (("raw", raw_parts), ("anonymised", anon_parts)):
        for df in store.iter_parts(parts, stage):
            if since is not None:
                df = df.filter(pl.col("ts") >= since)
            if hold is not None:
                df = df.filter(held_mask(df, [hold], "raw"))
            elif stage == "raw":
                df = unrestricted(store, df)
            if df.height:
                frames.append(df)
    if not frames:
        return store.read_parts([], "raw")
    return pl.concat(frames, how="diagonal_relaxed")


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


def _group(flagged: pl.DataFrame, detector: str, category: str, severity: str, hold: Hold | None) -> list[Finding]:
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
            step = f"logtool review --hold {hold.id} --blocklist nftables  (firewall rules for the held addresses)"
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


def review(
    store: Store,
    policy: Policy,
    since: datetime | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    hold: Hold | None = None,
    rules: dict[str, Any] | None = None,
) -> list[Finding]:
    """Findings over the raw stage (and the anonymised stage for older days), most severe first."""
    rules = rules or load_rules(policy.review_rules)
    df = _rows(store, date_from, date_to, since, hold)
    return review_frame(df, policy, rules, hold)


def review_frame(df: pl.DataFrame, policy: Policy, rules: dict[str, Any], hold: Hold | None = None,
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
              hold: Hold | None, distinct: str | None = None) -> list[Finding]:  # fmt: skip
    """Clients with at least ``threshold`` matching requests (or distinct values of ``distinct``)
    within ``window_seconds`` (a sliding window)."""
    hits = df.filter(cond)
    if hits.height == 0:
        return []
    counted = _sliding(hits, rule, pl.col(distinct).n_unique() if distinct else pl.len())
    return _offending(hits, counted.filter(pl.col("_n") >= rule["threshold"]), rule, name, sev, hold)


def _offending(rows: pl.DataFrame, bad: pl.DataFrame, rule: dict[str, Any], name: str, sev: dict[str, str],
               hold: Hold | None) -> list[Finding]:  # fmt: skip
    """Findings of the ``rows`` inside the windows that end at the ``bad`` counts."""
    flagged = _in_windows(rows, bad.select("_key", pl.col("ts").alias("_end")).unique(), rule)
    return _group(flagged, "behaviour", name, sev[name], hold) if flagged.height else []


def _floods(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: Hold | None) -> list[Finding]:
    """Clients above ``threshold`` requests in a sliding window *and* ``baseline_factor`` times
    the median client of that stretch of time (a busy site is not a flood)."""
    bucket = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s").alias("_w")
    per_bucket = df.group_by("_key", bucket).agg(pl.len().alias("_c"))
    medians = per_bucket.group_by("_w").agg(pl.col("_c").median().alias("_median"))
    counted = _sliding(df.select("_key", "ts"), rule, pl.len()).with_columns(bucket)
    counted = counted.join(medians, on="_w", how="left")
    bad = (pl.col("_n") >= rule["threshold"]) & (pl.col("_n") >= rule["baseline_factor"] * pl.col("_median"))
    return _offending(df, counted.filter(bad), rule, "flood", sev, hold)


def _error_spikes(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: Hold | None) -> list[Finding]:
    """Bursts of 5xx answers per vhost (the "client" of these findings is the vhost)."""
    vhost = pl.col("vhost").fill_null("(default vhost)")
    errors = df.filter(pl.col("status") >= 500).with_columns(vhost.alias("_client"), vhost.alias("_key"))
    if errors.height == 0:
        return []
    return _windowed(errors, "error_spike", pl.lit(True), rule, sev, hold)


def behaviour_counts(store: Store, parts: list[Partition], policy: Policy, rules: dict[str, Any],
                     shard_rows: int = SHARD_ROWS) -> dict[str, int]:  # fmt: skip
    """Behavioural findings per category over raw ``parts`` (one day), for the aggregates.

    Memory stays bounded: clients are split into shards of about ``shard_rows`` rows by a hash
    of their network (so an IPv6 /64 stays whole); only 5xx spikes, which are per vhost, read
    the day's 5xx rows at once. The flood baseline is then each shard's median client."""
    if not parts:
        return {}
    lf = pl.scan_parquet([str(store.root / p.path) for p in parts]).select(_DAY_COLUMNS)
    n = -(-sum(p.rows for p in parts) // shard_rows)
    if n <= 1:  # the whole day fits: one read
        return counts(review_frame(lf.collect(), policy, rules, detectors=BEHAVIOURS))
    per_client = [b for b in BEHAVIOURS if b != "error_spike"]
    found = review_frame(lf.filter(pl.col("status") >= 500).collect(), policy, rules, detectors=["error_spike"])
    for i in range(n):
        shard = lf.filter(pl.col("client_net").hash(seed=7) % n == i)
        found += review_frame(shard.collect(), policy, rules, detectors=per_client)
    return counts(found)


def counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per category."""
    return dict(Counter(f.category for f in findings))


def at_least(findings: list[Finding], severity: str) -> bool:
    """Is any finding at least as severe as ``severity`` (``--fail-on``)?"""
    return any(SEVERITIES.index(f.severity) >= SEVERITIES.index(severity) for f in findings)


def blocklist(findings: list[Finding], style: str) -> str:
    """The offending clients of a held review (addresses, or IPv6 networks when a client used
    several addresses of one), for a firewall: ``plain``, ``ipset``, ``nftables``."""
    import ipaddress

    nets = set()
    for f in findings:
        if f.category == "error_spike":  # a vhost, not a client
            continue
        try:
            nets.add(ipaddress.ip_network(f.client, strict=False))
        except ValueError:
            if (addr := parse_ip(f.client)) is not None:  # bracketed, mapped, with a port ...
                nets.add(ipaddress.ip_network(addr))
    ordered = sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))

    def text(n: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
        return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)

    v4 = [text(n) for n in ordered if n.version == 4]
    v6 = [text(n) for n in ordered if n.version == 6]
    if style == "plain":
        return "".join(f"{a}\n" for a in v4 + v6)
    if style == "ipset":
        lines = [
            "create logtool-block hash:net family inet -exist",
            "create logtool-block6 hash:net family inet6 -exist",
        ]
        lines += [f"add logtool-block {a} -exist" for a in v4] + [f"add logtool-block6 {a} -exist" for a in v6]
        return "\n".join(lines) + "\n"
    if style == "nftables":
        out = [
            "table inet logtool {",
            "  set block4 { type ipv4_addr; flags interval; }",
            "  set block6 { type ipv6_addr; flags interval; }",
            "}",
        ]
        if v4:
            out.append(f"add element inet logtool block4 {{ {', '.join(v4)} }}")
        if v6:
            out.append(f"add element inet logtool block6 {{ {', '.join(v6)} }}")
        return "\n".join(out) + "\n"
    raise ValueError(style)
