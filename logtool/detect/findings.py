"""Findings over rows of the raw or anonymised stage (DataFrames in, findings out, no I/O).

Work comes in pieces (a day, a shard of clients, a batch): :func:`partials` turns one piece into
small partial aggregates per (detector, category, client, path), and :func:`merge` turns the
partials of every piece into findings, so memory follows the number of distinct attacks, not of
rows. :func:`review_frame` does both for one frame.

Per-request findings (signatures, protocol anomalies, fake crawlers) say which field matched and
the matched excerpt; behavioural findings (:mod:`logtool.detect.behaviour`) count per client over
sliding windows. Without a hold a client is named by its network and sample requests are
redacted; with ``full`` detail (under a hold, decided by :mod:`logtool.review`) the address and
the raw request are shown. The suggested ``hold create`` window rounds outward to whole minutes,
so it covers every request of the finding (a hold's window is ``[from, to)``).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import polars as pl

from logtool.anonymize.redact import redact
from logtool.config import Policy
from logtool.detect.allow import Allow, allowed_rows, client_allowed, compile_allow
from logtool.detect.behaviour import BEHAVIOURS, behaviour_rows
from logtool.detect.hitcache import HitCache
from logtool.detect.rules import SEVERITIES
from logtool.detect.signatures import CATEGORIES, field_hits, request_hits, request_target
from logtool.net import V4_RX, fast_v6_network, network_text, parse_ip

MAX_SAMPLES = 3
DETECTORS = ("requests", *BEHAVIOURS)
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

PARTIAL_SCHEMA = {
    "detector": pl.String, "category": pl.String, "_key": pl.String, "_net": pl.String, "_ip": pl.String,
    "path": pl.UInt64, "first": pl.Datetime("us", "UTC"), "last": pl.Datetime("us", "UTC"), "count": pl.UInt32,
    "sample": pl.String, "field": pl.String, "excerpt": pl.String, "suppressed": pl.Boolean,
}  # fmt: skip


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
    #: Where a per-request finding matched (path, query, referrer, user_agent, user, xff, host,
    #: request) and the matched text, normalised; empty for behavioural findings.
    field: str = ""
    excerpt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_key(f: Finding) -> tuple[int, int, str, str]:
    """Most severe first, then the biggest, then by category and client."""
    return (-_RANK[f.severity], -f.count, f.category, f.client)


def client_keys(df: pl.DataFrame, v6_prefix: int) -> pl.Series:
    """Who a client is: the address in the raw stage (IPv6 as its ``/v6_prefix`` network, since
    hosts rotate addresses inside it), the network in the anonymised stage."""
    net = pl.col("client_net") if "client_net" in df.columns else pl.lit(None, dtype=pl.String)
    if "client_ip" not in df.columns:
        return df.select(pl.coalesce(net, pl.lit("(unknown)")).alias("_key")).to_series()

    # a canonical dotted quad is its own key; everything else is looked at once per distinct value
    uniq = df.get_column("client_ip").drop_nulls().unique()
    slow = uniq.filter(~uniq.str.contains(V4_RX))
    key = pl.col("client_ip")
    if slow.len():
        key = key.replace(slow, pl.Series([_client_key(v, v6_prefix) for v in slow.to_list()], dtype=pl.String))
    return df.select(pl.coalesce(key, net, pl.lit("(unknown)")).alias("_key")).to_series()


def _client_key(text: str, v6_prefix: int) -> str:
    if v6_prefix < 128 and (fast := fast_v6_network(text, v6_prefix)) is not None:  # a plain IPv6 literal, in C
        return f"{fast}/{v6_prefix}"
    return _careful_key(text, v6_prefix)


@lru_cache(maxsize=65_536)
def _careful_key(text: str, v6_prefix: int) -> str:
    addr: Any = None
    if "." not in text and "[" not in text and "%" not in text:  # the common spelling: a plain IPv6 literal
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            addr = None
    addr = addr or parse_ip(text)
    if addr is None:
        return text  # a hostname stays itself (it is only ever shown under a hold)
    if addr.version == 4:
        return str(addr)
    return network_text(addr, 32, v6_prefix) if v6_prefix < 128 else str(addr)


def prepare(df: pl.DataFrame, policy: Policy, rules: dict[str, Any], full: bool) -> pl.DataFrame:
    """Add the review's working columns: ``_key`` (who a client is), ``_net`` (how findings name
    it without a hold) and ``_ip`` (the address, under a hold)."""
    out = df.with_columns(client_keys(df, int(rules["clients"]["ipv6_prefix"])))
    ip = pl.col("client_ip") if full and "client_ip" in df.columns else pl.lit(None, dtype=pl.String)
    net = pl.col("client_net") if "client_net" in df.columns else pl.lit(None, dtype=pl.String)
    return out.with_columns(net.fill_null("(unknown)").alias("_net"), ip.alias("_ip"))


def _samples(agg: pl.DataFrame, sensitive: tuple[str, ...] | None) -> pl.Series:
    """``METHOD path?query`` of each partial's first request; redacted unless ``sensitive`` is None."""
    target = agg.select(request_target().fill_null("-")).to_series()
    if sensitive is not None:
        target = redact(target, sensitive)
    return agg.select(pl.concat_str([pl.col("method").fill_null("-"), pl.lit(" "), pl.lit(target)])).to_series()


def _partial(rows: pl.DataFrame, detector: pl.Expr | str, category: pl.Expr | str, suppressed: pl.Expr | bool,
             sensitive: tuple[str, ...] | None) -> pl.DataFrame:  # fmt: skip
    cat = pl.lit(category) if isinstance(category, str) else category
    sup = pl.lit(suppressed) if isinstance(suppressed, bool) else suppressed
    det = pl.lit(detector) if isinstance(detector, str) else detector
    cols = rows.with_columns(cat.alias("category"), sup.alias("suppressed"), det.alias("detector"))
    for c in ("field", "excerpt", "path", "query", "method"):
        if c not in cols.columns:
            cols = cols.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    out = cols.sort("ts").group_by("detector", "category", "suppressed", "_key", "_net", "_ip", "path",
                                   maintain_order=True).agg(
        pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"), pl.len().cast(pl.UInt32).alias("count"),
        pl.col("method").first(), pl.col("query").first(), pl.col("field").first(), pl.col("excerpt").first(),
    )  # fmt: skip
    # a partial keeps its path only as a hash (enough to count distinct paths) and its sample text
    out = out.with_columns(
        _samples(out, sensitive).alias("sample"),
        pl.when(pl.col("path").is_not_null()).then(pl.col("path").hash(seed=3)).alias("path"),
    )
    return out.select(list(PARTIAL_SCHEMA)).cast(PARTIAL_SCHEMA)  # type: ignore[arg-type]


def partials(df: pl.DataFrame, rules: dict[str, Any], detectors: Collection[str] = DETECTORS, asn: Any = None,
             allow: Allow | None = None, seen: pl.DataFrame | None = None, verify: Any = None,
             sensitive: tuple[str, ...] | None = (), hits: HitCache | None = None) -> pl.DataFrame:  # fmt: skip
    """Partial aggregates of one piece of ``prepare``-d rows. Rows with ``_ctx`` true only give
    behavioural windows their history (the tail of the previous day): no per-request detector
    counts them, and a window counts them only if the previous day had not (``seen``: its last
    flagged time per category and ``_key``). Samples are redacted with ``sensitive`` (the
    policy's sensitive parameters), or shown in full when it is None (under a hold). ``hits``:
    the signature matches of the pieces before (one :class:`HitCache` per review)."""
    allow = allow or compile_allow(rules.get("allow"))
    empty = pl.DataFrame(schema=PARTIAL_SCHEMA)
    if df.height == 0:
        return empty
    ctx = df.get_column("_ctx") if "_ctx" in df.columns else pl.repeat(False, df.height, eager=True)
    quiet = allowed_rows(df, allow) if not allow.empty else pl.repeat(False, df.height, eager=True)
    live = df.filter(~quiet) if not allow.empty else df
    behaviours = [b for b in BEHAVIOURS if b in detectors]
    if "requests" not in detectors:
        return pl.concat([empty, *_behaviour_partials(live, behaviours, rules, seen, sensitive)])
    # the two families share nothing but the rows: they run side by side (polars releases the GIL)
    with ThreadPoolExecutor(1) as pool:
        requests = pool.submit(_request_partials, df, ctx, quiet, rules, asn, verify, sensitive, hits)
        behavioural = _behaviour_partials(live, behaviours, rules, seen, sensitive)
        return pl.concat([empty, requests.result(), *behavioural])


def _request_partials(df: pl.DataFrame, ctx: pl.Series, quiet: pl.Series, rules: dict[str, Any], asn: Any,
                      verify: Any, sensitive: tuple[str, ...] | None, hits: HitCache | None) -> pl.DataFrame:  # fmt: skip
    has_ctx = bool(ctx.any())
    own = df.filter(~ctx) if has_ctx else df
    found = request_hits(own, rules, asn, verify, hits or field_hits)
    if found.height == 0:
        return pl.DataFrame(schema=PARTIAL_SCHEMA)
    at = found.get_column("_row")
    own_quiet = quiet.filter(~ctx) if has_ctx else quiet
    joined = own[at].with_columns(found.drop("_row").get_columns()).with_columns(own_quiet.gather(at).alias("_quiet"))
    detector = (
        pl.when(pl.col("category").is_in(CATEGORIES))
        .then(pl.lit("signature"))
        .otherwise(pl.col("category").str.replace("_", "-"))
    )
    return _partial(joined, detector, pl.col("category"), pl.col("_quiet"), sensitive)


def _behaviour_partials(live: pl.DataFrame, behaviours: list[str], rules: dict[str, Any], seen: pl.DataFrame | None,
                        sensitive: tuple[str, ...] | None) -> list[pl.DataFrame]:  # fmt: skip
    out = []
    for name in behaviours:
        rows = behaviour_rows(live, name, rules)
        if rows.height and "_ctx" in rows.columns and seen is not None and seen.height:
            last = seen.filter(pl.col("category") == name).group_by("_key").agg(pl.col("last").max().alias("_seen"))
            rows = rows.join(last, on="_key", how="left")
            rows = rows.filter(~pl.col("_ctx") | pl.col("_seen").is_null() | (pl.col("ts") > pl.col("_seen")))
        if rows.height:
            out.append(_partial(rows, "behaviour", name, False, sensitive))
    return out


def _iso(col: str) -> pl.Expr:
    """``datetime.isoformat`` of a UTC time column (microseconds only when there are any)."""
    t = pl.col(col)
    whole = t.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return pl.when(t.dt.microsecond() == 0).then(whole).otherwise(t.dt.strftime("%Y-%m-%dT%H:%M:%S.%6f+00:00"))


def _next_steps(hold: str | None) -> pl.Expr:
    """What a reviewer does next: for a client, the ``hold create`` command whose window covers
    the finding in whole minutes (``--from``/``--to`` round outward; a hold's window is
    ``[from, to)``); under a hold, its blocklist; for a 5xx spike, a look at the application."""
    client = pl.col("_client")
    start = pl.col("first").dt.truncate("1m").dt.strftime("%Y-%m-%dT%H:%MZ")
    end = pl.col("last").dt.truncate("1m").dt.offset_by("1m").dt.strftime("%Y-%m-%dT%H:%MZ")
    if hold is not None:
        held = pl.lit(f"logtool review --hold {hold} --blocklist nftables  (firewall rules for the held addresses)")
    else:
        held = pl.concat_str([pl.lit("logtool hold create INC-<id> --reason '"), pl.col("category"), pl.lit(" from "),
                              client, pl.lit("' --from "), start, pl.lit(" --to "), end, pl.lit(" --network "), client])  # fmt: skip
    spike = pl.concat_str([pl.lit("look at the application behind "), client, pl.lit(" around "),
                           pl.col("first").dt.strftime("%Y-%m-%d %H:%MZ")])  # fmt: skip
    return pl.when(pl.col("category") == "error_spike").then(spike).otherwise(held)


def detach(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its texts copied. A filtered or grouped frame may share the text buffers of
    the frame it came from, so a few rows kept for later (partials, the context tail, a day's
    5xx rows) would keep whole shards in memory."""
    texts = [pl.concat_str([pl.col(c), pl.lit("")]).alias(c) for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(texts) if texts else df


_PART_KEY = ["detector", "category", "suppressed", "_key", "_net", "_ip", "path"]


def compact(parts: pl.DataFrame) -> pl.DataFrame:
    """Partials of several pieces folded into one per (detector, category, client, path): what
    the review keeps between days, so it grows with the distinct attacks, not with the days."""
    if parts.height == 0:
        return parts
    out = (
        parts.sort("first", maintain_order=True)
        .group_by(_PART_KEY, maintain_order=True)
        .agg(
            pl.col("first").min(),
            pl.col("last").max(),
            pl.col("count").sum(),
            pl.col("sample").first(),
            pl.col("field").drop_nulls().first(),
            pl.col("excerpt").drop_nulls().first(),
        )  # fmt: skip
        .sort("first", maintain_order=True)
        .with_row_index("_i")
    )
    # texts are kept only where a finding can show them: its first samples, its first match
    # (row numbers per finding in time order; a group-by is much cheaper than a window here)
    ranks = out.group_by(_PART_KEY[:-1]).agg(pl.col("_i").head(MAX_SAMPLES))
    firsts = ranks.select(pl.col("_i").list.first()).to_series()
    out = out.with_columns(
        pl.when(pl.col("_i").is_in(ranks.get_column("_i").explode().implode())).then(pl.col("sample")).alias("sample"),
        pl.when(pl.col("_i").is_in(firsts.implode())).then(pl.col("field")).alias("field"),
        pl.when(pl.col("_i").is_in(firsts.implode())).then(pl.col("excerpt")).alias("excerpt"),
    )
    return detach(out.select(list(PARTIAL_SCHEMA)).cast(PARTIAL_SCHEMA))  # type: ignore[arg-type]


def merge(parts: pl.DataFrame, rules: dict[str, Any], hold: str | None = None) -> tuple[list[Finding], int]:
    """Findings (most severe first) from the partials of every piece, and how many findings the
    allow-list suppressed."""
    if parts.height == 0:
        return [], 0
    allow = compile_allow(rules.get("allow"))
    sev = rules["severity"]
    if hold is not None:  # under a hold: the address, or the IPv6 network when several of its addresses took part
        single = pl.col("_ip").n_unique().over("_key") == 1
        parts = parts.with_columns(pl.when(single).then(pl.col("_ip")).otherwise(pl.col("_key")).alias("_client"))
    else:
        parts = parts.with_columns(pl.col("_net").alias("_client"))
    rows = (
        parts.sort("first")
        .group_by("detector", "category", "suppressed", "_client", maintain_order=True)
        .agg(
            pl.col("first").min(), pl.col("last").max(), pl.col("count").sum(), pl.col("path").drop_nulls().n_unique(),
            pl.col("sample").drop_nulls().unique(maintain_order=True).head(MAX_SAMPLES), pl.col("_key").n_unique(),
            pl.col("field").drop_nulls().first(), pl.col("excerpt").drop_nulls().first(),
        )
    )  # fmt: skip
    rows = rows.with_columns(pl.col("_client").cast(pl.String).fill_null("None"))
    hidden = pl.col("suppressed")
    if not allow.empty:
        pair = pl.concat_str(["detector", pl.lit("/"), "category"])
        hidden = hidden | pair.is_in(list(allow.findings)) | pl.col("category").is_in(list(allow.findings))
        if allow.networks:
            clients = rows.get_column("_client").unique()
            inside = clients.filter(pl.Series([client_allowed(c, allow) for c in clients.to_list()], dtype=pl.Boolean))
            hidden = hidden | pl.col("_client").is_in(inside.implode())
    rows = rows.with_columns(hidden.alias("_hidden"))
    shown = rows.filter(~pl.col("_hidden")).with_columns(
        pl.col("category").replace_strict(sev, return_dtype=pl.String).alias("_severity"),
        _iso("first").alias("first"), _iso("last").alias("last"), _next_steps(hold).alias("_next"),
    )  # fmt: skip
    rank = pl.col("_severity").replace_strict(_RANK, return_dtype=pl.Int8)
    shown = shown.sort(rank, "count", "category", "_client", descending=[True, True, False, False], maintain_order=True)
    # the columns of Finding, in its order, as Python values column by column (faster than rows)
    values = shown.select(
        "detector", "category", "_severity", "_client", "first", "last", pl.col("count").cast(pl.Int64),
        pl.col("path").cast(pl.Int64), pl.col("sample").list.eval(pl.element().filter(pl.element() != "")), "_next",
        pl.col("_key").cast(pl.Int64), pl.col("field").fill_null(""), pl.col("excerpt").fill_null(""),
    )  # fmt: skip
    found = list(map(Finding, *(values.get_column(c).to_list() for c in values.columns)))
    return found, rows.height - shown.height


def review_frame(df: pl.DataFrame, policy: Policy, rules: dict[str, Any], hold: str | None = None,
                 detectors: Collection[str] = DETECTORS, asn: Any = None) -> list[Finding]:  # fmt: skip
    """Findings over one frame of raw- or anonymised-stage rows, most severe first. ``detectors``:
    ``requests`` (the per-request categories) and any of :data:`BEHAVIOURS`."""
    if df.height == 0:
        return []
    prepared = prepare(df, policy, rules, full=hold is not None)
    sensitive = None if hold is not None else policy.sensitive_params
    return merge(partials(prepared, rules, detectors, asn, sensitive=sensitive), rules, hold)[0]


def counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per category."""
    return dict(Counter(f.category for f in findings))


def at_least(findings: list[Finding], severity: str) -> bool:
    """Is any finding at least as severe as ``severity`` (``--fail-on``)?"""
    return any(_RANK[f.severity] >= _RANK[severity] for f in findings)
