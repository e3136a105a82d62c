"""``logtool review``: findings from the raw stage, with no more personal detail than allowed.

Signature findings group flagged requests per client and category; behavioural findings count
per client in fixed windows (brute force on authentication, 4xx probing). Without a hold a
client is named by its network and sample requests are redacted; under ``--hold`` only the rows
the hold matches are reviewed, with full addresses and raw requests. Rows of restricted
subjects (Art. 18) are left out.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import polars as pl

from logtool.anonymize.redact import redact
from logtool.config import Policy
from logtool.holds import Hold, held_mask
from logtool.review.signatures import CATEGORIES, categories
from logtool.store import Store
from logtool.subjects import unrestricted

SEVERITIES = ("low", "medium", "high")
MAX_SAMPLES = 3


def load_rules() -> dict[str, Any]:
    return tomllib.loads(resources.files("logtool.review").joinpath("rules.toml").read_text())


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(
    store: Store, date_from: str | None, date_to: str | None, since: datetime | None, hold: Hold | None
) -> pl.DataFrame:
    frames = []
    for df in store.iter_parts(store.catalog.partitions("raw", date_from, date_to), "raw"):
        if since is not None:
            df = df.filter(pl.col("ts") >= since)
        df = df.filter(held_mask(df, [hold], "raw")) if hold is not None else unrestricted(store, df)
        if df.height:
            frames.append(df)
    return pl.concat(frames) if frames else store.read_parts([], "raw")


def _sample_text(df: pl.DataFrame, full: bool, policy: Policy) -> pl.DataFrame:
    target = (
        pl.when(pl.col("query").is_null()).then(pl.col("path")).otherwise(pl.concat_str(["path", pl.lit("?"), "query"]))
    )
    out = df.with_columns(target.alias("_target"))
    if not full:
        out = out.with_columns(redact(out["_target"], policy.sensitive_params).alias("_target"))
    return out.with_columns(
        pl.concat_str([pl.col("method").fill_null("-"), pl.lit(" "), pl.col("_target").fill_null("-")]).alias("_sample")
    )


def _group(flagged: pl.DataFrame, detector: str, category: str, severity: str, hold: Hold | None) -> list[Finding]:
    out = []
    for (client,), g in flagged.group_by("_client", maintain_order=True):
        first, last = g["ts"].min(), g["ts"].max()
        window = f"--from {first:%Y-%m-%dT%H:%M}Z --to {last:%Y-%m-%dT%H:%M}Z"  # type: ignore[union-attr]
        step = (
            f"logtool hold create INC-<id> --reason '{category} from {client}' {window} --network {client}"
            if hold is None
            else f"logtool review --hold {hold.id} --blocklist plain (not built yet) or block {client}"
        )
        out.append(
            Finding(
                detector,
                category,
                severity,
                str(client),
                first.isoformat(),
                last.isoformat(),
                g.height,  # type: ignore[union-attr]
                g["path"].n_unique(),
                g["_sample"].unique(maintain_order=True).head(MAX_SAMPLES).to_list(),
                step,
            )  # fmt: skip
        )
    return out


def review(
    store: Store,
    policy: Policy,
    since: datetime | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    hold: Hold | None = None,
    rules: dict[str, Any] | None = None,
) -> list[Finding]:
    """Findings over the raw stage, most severe first."""
    rules = rules or load_rules()
    sev = rules["severity"]
    df = _rows(store, date_from, date_to, since, hold)
    if df.height == 0:
        return []
    full = hold is not None
    df = _sample_text(df, full, policy).with_columns(
        (pl.col("client_ip") if full else pl.col("client_net")).fill_null("(unknown)").alias("_client")
    )
    findings: list[Finding] = []
    req = categories(df["_target"] if full else _sample_text(df, True, policy)["_target"])
    ua = categories(df["user_agent"], ua=True)
    for cat in CATEGORIES:
        mask = req[cat] if cat in req.columns else pl.repeat(False, df.height, eager=True)
        if cat in ua.columns:
            mask = mask | ua[cat]
        hits = df.filter(mask)
        if hits.height:
            findings += _group(hits, "signature", cat, sev[cat], hold)
    findings += _windowed(df, "brute_force", _auth_failures(df, rules["brute_force"]), rules["brute_force"], sev, hold)
    findings += _windowed(df, "probing", _probes(df, rules["probing"]), rules["probing"], sev, hold, distinct="path")
    findings += _windowed(df, "ua_switching", pl.col("user_agent").is_not_null(), rules["ua_switching"], sev, hold,
                          distinct="user_agent")  # fmt: skip
    findings += _floods(df, rules["flood"], sev, hold)
    findings += _error_spikes(df, rules["error_spike"], sev, hold)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (order[f.severity], -f.count, f.client))


def _auth_failures(df: pl.DataFrame, rule: dict[str, Any]) -> pl.Expr:
    login = pl.col("path").is_in(rule["login_paths"])
    return pl.col("status").is_in([401, 403]) | ((pl.col("method") == "POST") & login)


def _probes(df: pl.DataFrame, rule: dict[str, Any]) -> pl.Expr:
    static = pl.any_horizontal([pl.col("path").str.to_lowercase().str.ends_with(s) for s in rule["static_suffixes"]])
    return (pl.col("status") >= 400) & (pl.col("status") < 500) & ~static.fill_null(False)


def _windowed(df: pl.DataFrame, name: str, cond: pl.Expr, rule: dict[str, Any], sev: dict[str, str],
              hold: Hold | None, distinct: str | None = None) -> list[Finding]:  # fmt: skip
    """Clients with at least ``threshold`` matching requests (or distinct values of ``distinct``) in one fixed
    window of ``window_seconds``."""
    hits = df.filter(cond)
    if hits.height == 0:
        return []
    window = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s")
    measure = pl.col(distinct).n_unique() if distinct else pl.len()
    counts = hits.group_by("_client", window.alias("_w")).agg(measure.alias("_n"))
    bad = counts.filter(pl.col("_n") >= rule["threshold"]).select("_client", "_w").unique()
    flagged = hits.with_columns(window.alias("_w")).join(bad, on=["_client", "_w"], how="semi")
    return _group(flagged.sort("ts"), "behaviour", name, sev[name], hold) if flagged.height else []


def _floods(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: Hold | None) -> list[Finding]:
    """Clients above ``threshold`` requests in a window *and* ``baseline_factor`` times the
    median client of that window (a busy site is not a flood)."""
    window = pl.col("ts").dt.truncate(f"{int(rule['window_seconds'])}s")
    counts = df.group_by("_client", window.alias("_w")).agg(pl.len().alias("_n"))
    counts = counts.with_columns(pl.col("_n").median().over("_w").alias("_median"))
    bad = counts.filter(
        (pl.col("_n") >= rule["threshold"]) & (pl.col("_n") >= rule["baseline_factor"] * pl.col("_median"))
    ).select("_client", "_w")
    if bad.height == 0:
        return []
    flagged = df.with_columns(window.alias("_w")).join(bad, on=["_client", "_w"], how="semi")
    return _group(flagged.sort("ts"), "behaviour", "flood", sev["flood"], hold)


def _error_spikes(df: pl.DataFrame, rule: dict[str, Any], sev: dict[str, str], hold: Hold | None) -> list[Finding]:
    """Bursts of 5xx answers per vhost (the "client" of these findings is the vhost)."""
    errors = df.filter(pl.col("status") >= 500).with_columns(
        pl.col("vhost").fill_null("(default vhost)").alias("_client")
    )
    if errors.height == 0:
        return []
    return _windowed(errors, "error_spike", pl.lit(True), rule, sev, hold)


def blocklist(findings: list[Finding], style: str) -> str:
    """The offending addresses of a held review, for a firewall: ``plain``, ``ipset``, ``nftables``."""
    import ipaddress

    from logtool.anonymize.ip import parse_ip

    addrs = sorted({a for f in findings if f.category != "error_spike" and (a := parse_ip(f.client)) is not None},
                   key=lambda a: (a.version, int(a)))  # fmt: skip
    v4 = [str(a) for a in addrs if isinstance(a, ipaddress.IPv4Address)]
    v6 = [str(a) for a in addrs if isinstance(a, ipaddress.IPv6Address)]
    if style == "plain":
        return "".join(f"{a}\n" for a in v4 + v6)
    if style == "ipset":
        lines = ["create logtool-block hash:ip family inet -exist", "create logtool-block6 hash:ip family inet6 -exist"]
        lines += [f"add logtool-block {a} -exist" for a in v4] + [f"add logtool-block6 {a} -exist" for a in v6]
        return "\n".join(lines) + "\n"
    if style == "nftables":
        out = ["table inet logtool {", "  set block4 { type ipv4_addr; }", "  set block6 { type ipv6_addr; }", "}"]
        if v4:
            out.append(f"add element inet logtool block4 {{ {', '.join(v4)} }}")
        if v6:
            out.append(f"add element inet logtool block6 {{ {', '.join(v6)} }}")
        return "\n".join(out) + "\n"
    raise ValueError(style)
