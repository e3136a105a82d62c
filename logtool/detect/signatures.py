"""Per-request signature detectors: the tables of :mod:`logtool.detect.patterns` run vectorised
on distinct normalised values of every field that carries attacker text.

Fields: the request target (reported as ``path`` or ``query``, whichever the match lies in),
``referrer``, ``user_agent``, ``user``, ``xff`` and ``host``; every injection category is looked
for in each of them. Categories: ``sqli``, ``xss``, ``traversal`` (path traversal / LFI),
``cmdi`` (command and code injection), ``rfi`` (remote file inclusion, SSRF to internal
addresses), ``log4shell`` (JNDI and other lookups, every obfuscation), ``shellshock``,
``sensitive_file`` (dotfiles, VCS, backups, admin panels, web shells, CVE probe paths; admin
and webmail paths only when answered 4xx), ``scanner`` (attack-tool and bad-bot agents), plus
``protocol`` anomalies and ``fake_bot`` (:mod:`logtool.detect.crawlers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from logtool.detect.crawlers import fake_bots
from logtool.detect.normalize import normal_forms
from logtool.detect.patterns import CMDI_UA, MISSING_PROBES, SCANNER_AGENTS, SIGNATURES

CATEGORIES = [*SIGNATURES, "scanner"]
#: Every per-request category: signatures, attack-tool agents, protocol anomalies, fake bots.
REQUEST_CATEGORIES = [*CATEGORIES, "protocol", "fake_bot"]
#: Injection categories, looked for in every field that carries attacker text.
INJECTION = ("sqli", "xss", "traversal", "cmdi", "log4shell", "shellshock")
#: (field name in findings, column, categories); the request target is path + query.
FIELDS: list[tuple[str, str, tuple[str, ...]]] = [
    ("request", "_target", tuple(SIGNATURES)),
    ("referrer", "referrer", INJECTION),
    ("user_agent", "user_agent", (*INJECTION, "scanner")),
    ("user", "remote_user", INJECTION),
    ("xff", "xff", INJECTION),
    ("host", "vhost", INJECTION),
]
#: Order in which a row's fields are reported when several match the same category.
FIELD_ORDER = ("path", "query", "referrer", "user_agent", "user", "xff", "host", "request")
MAX_EXCERPT = 60
#: Values made only of these characters need no decoding.
_PLAIN = r"^[A-Za-z0-9/._~=&?,:-]*$"
#: ... unless they hold hex literals (``0x2e``) or entities without their semicolon (``&lt``).
_HIDDEN = r"0[xX]|&(?i:lt|gt)"


def _alternation(patterns: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


_COMPILED = {cat: _alternation(p) for cat, p in SIGNATURES.items()} | {"scanner": SCANNER_AGENTS}
_MISSING = _alternation(MISSING_PROBES)
#: Per field, the patterns that differ from :data:`_COMPILED`.
_FIELD_RULES = {"user_agent": {"cmdi": _alternation(CMDI_UA)}}


def _rx(field: str, cat: str) -> str:
    return _FIELD_RULES.get(field, {}).get(cat, _COMPILED[cat])


def request_target() -> pl.Expr:
    """``path?query`` (or the path alone) of canonical records."""
    return (
        pl.when(pl.col("query").is_null()).then(pl.col("path")).otherwise(pl.concat_str(["path", pl.lit("?"), "query"]))
    )


def classify(values: pl.Series, cats: tuple[str, ...] | None = None, ua: bool = False,
             field: str = "request") -> pl.DataFrame:  # fmt: skip
    """Distinct ``values`` → ``v``, ``n`` (normalised) and one boolean column per category."""
    if ua:
        field = "user_agent"
    cats = cats or ((*INJECTION, "scanner") if field == "user_agent" else tuple(SIGNATURES))
    uniq = pl.DataFrame({"v": values.drop_nulls().unique()})
    df = uniq.with_columns(normal(uniq.get_column("v")).alias("n"))
    return df.with_columns(pl.col("n").str.contains(_rx(field, c)).alias(c) for c in cats)


def normal(values: pl.Series) -> pl.Series:
    """The normal form of each of ``values`` (see :mod:`logtool.detect.normalize`); most values
    hold nothing to decode, and lower case is their normal form."""
    plain = values.str.contains(_PLAIN) & ~values.str.contains(_HIDDEN)
    if plain.all():
        return values.str.to_lowercase()
    idx = (~plain).fill_null(False).arg_true()
    return values.str.to_lowercase().scatter(idx, normal_forms(values.gather(idx)))


def categories(values: pl.Series, ua: bool = False) -> pl.DataFrame:
    """Per row of ``values``: the category columns (False where nothing matched)."""
    table = classify(values, ua=ua)
    cats = [c for c in table.columns if c not in ("v", "n")]
    out = pl.DataFrame({c: pl.repeat(False, values.len(), eager=True) for c in cats})
    hits = table.filter(pl.any_horizontal(cats))
    if hits.height == 0:
        return out
    idx = values.is_in(hits.get_column("v").implode()).fill_null(False).arg_true()
    sub = pl.DataFrame({"v": values.gather(idx)}).join(hits, on="v", how="left", maintain_order="left")
    return out.with_columns([out.get_column(c).scatter(idx, sub.get_column(c)) for c in cats])


def field_hits(values: pl.Series, field: str, cats: tuple[str, ...]) -> pl.DataFrame:
    """Long form ``_row``, ``category``, ``field``, ``excerpt`` of one field's matches."""
    empty = pl.DataFrame(schema={"_row": pl.UInt32, "category": pl.String, "field": pl.String, "excerpt": pl.String})
    table = classify(values, cats, field=field)
    hits = table.filter(pl.any_horizontal(list(cats)))
    if hits.height == 0:
        return empty
    long = hits.unpivot(index=["v", "n"], on=list(cats), variable_name="category", value_name="h").filter("h")
    if field == "request":  # where a match lies: the path, or else the query
        long = long.with_columns(normal(long.get_column("v").str.extract(r"^([^?]*)", 1)).alias("_path"))
    parts = []
    for cat, group in long.group_by("category"):
        rx = _rx(field, str(cat[0]))
        # the match and what follows it, for context
        excerpt = pl.col("n").str.extract(f"((?:{rx})[^\n]{{0,24}})", 1).str.slice(0, MAX_EXCERPT)
        ex = group.with_columns(excerpt.alias("excerpt"))
        if field == "request":
            in_path = pl.col("_path").str.contains(rx).fill_null(False)
            ex = ex.with_columns(pl.when(in_path).then(pl.lit("path")).otherwise(pl.lit("query")).alias("field"))
        else:
            ex = ex.with_columns(pl.lit(field).alias("field"))
        parts.append(ex.select("v", "category", "field", "excerpt"))
    long = pl.concat(parts)
    idx = values.is_in(long.get_column("v").unique().implode()).fill_null(False).arg_true()
    rows = pl.DataFrame({"_row": idx, "v": values.gather(idx)})
    return rows.join(long, on="v", how="inner").select(empty.columns)


def missing_probes(df: pl.DataFrame, target: pl.Series) -> pl.DataFrame:
    """Admin, webmail and CGI paths asked for and answered 400, 404 or 410 (the site has none):
    a scanner looking for them."""
    if "status" not in df.columns:
        return pl.DataFrame(schema={"_row": pl.UInt32, "category": pl.String, "field": pl.String, "excerpt": pl.String})
    path = df.get_column("path") if "path" in df.columns else target
    uniq = pl.DataFrame({"v": path.drop_nulls().unique()})
    hits = uniq.with_columns(pl.col("v").str.to_lowercase().str.extract(f"({_MISSING})", 1).alias("excerpt")).filter(
        pl.col("excerpt").is_not_null()
    )
    mask = path.is_in(hits.get_column("v").implode()).fill_null(False) & not_there(df.get_column("status"))
    idx = mask.arg_true()
    rows = pl.DataFrame({"_row": idx, "v": path.gather(idx)}).join(hits, on="v", how="left")
    return rows.select("_row", pl.lit("sensitive_file").alias("category"), pl.lit("path").alias("field"), "excerpt")


_ABSOLUTE = r"^[A-Za-z][A-Za-z0-9+.-]*://"


def protocol_anomalies(df: pl.DataFrame, rule: dict[str, Any]) -> pl.Series:
    """Requests that are not well-formed HTTP: TLS or binary junk instead of a request line, an
    empty request (``""``, not Apache's ``"-"`` of a timed-out connection), methods outside
    ``rule["methods"]``, a missing or invalid protocol (``HTTP/1.2``), URLs longer than
    ``rule["max_url_length"]``, proxy attempts (``CONNECT``, absolute URIs).

    A missing protocol or an absolute URI only counts in files where most requests have a
    protocol and a relative target (proxies and load balancers log absolute URIs by design).
    """
    status = pl.col("status") if "status" in df.columns else pl.lit(None, dtype=pl.Int16)
    per_file = ["source_file"] if "source_file" in df.columns else []

    def usual(expr: pl.Expr) -> pl.Expr:  # true where the file mostly has ``expr``
        share = expr.cast(pl.Float64).mean()
        return (share.over(per_file) if per_file else share) >= 0.5

    itself, empty = request_anomalies(df.columns, rule, usual)
    flags = itself | (empty & answered(status))
    return df.select(flags.fill_null(False).alias("protocol")).to_series()


def request_anomalies(
    columns: list[str], rule: dict[str, Any], usual: Callable[[pl.Expr], pl.Expr]
) -> tuple[pl.Expr, pl.Expr]:
    """The two parts of :func:`protocol_anomalies` over a frame of ``columns``: what a request
    line shows by itself, and whether it is empty (an anomaly unless answered 408). ``usual``:
    whether most of the file's requests have a property."""
    method, path, query, proto = (pl.col(c) if c in columns else pl.lit(None, dtype=pl.String)
                                  for c in ("method", "path", "query", "protocol"))  # fmt: skip
    absolute = path.str.contains(_ABSOLUTE).fill_null(False)
    has_proto = proto.is_not_null()
    url_len = path.str.len_bytes().fill_null(0) + query.str.len_bytes().fill_null(0)
    versions = list(rule.get("protocols", []))
    itself = (
        (method.is_null() & path.is_not_null())  # "\x16\x03\x01..." or other junk as request line
        | (method.is_not_null() & ~method.is_in(list(rule["methods"])))
        | (method == "CONNECT")
        | (absolute & usual(~absolute))
        | (method.is_not_null() & ~has_proto & usual(has_proto))
        | (has_proto & ~proto.is_in(versions) if versions else pl.lit(False))
        | (url_len > int(rule["max_url_length"]))
    )
    return itself, method.is_null() & path.is_null()


def answered(status: pl.Expr) -> pl.Expr:
    """Was the request answered (an empty request line, ``""``, is an anomaly then), not timed
    out (408: Apache's ``"-"`` of a connection that sent nothing)?"""
    return status.is_not_null() & (status != 408)


def not_there(status: pl.Series) -> pl.Series:
    """Per row: was the request answered as asking for what the site has not (400, 404, 410)?"""
    return status.to_frame("s").select(not_there_expr(pl.col("s")).alias(status.name)).to_series()


def not_there_expr(status: pl.Expr) -> pl.Expr:
    """:func:`not_there` as an expression over a status column."""
    return status.is_in([400, 404, 410]).fill_null(False)


def probed_expr(paths: pl.Expr) -> pl.Expr:
    """Per path: is it an admin, webmail or CGI path scanners look for (:func:`missing_probes`)?"""
    return paths.str.to_lowercase().str.contains(f"({_MISSING})").fill_null(False)


def agent_column(df: pl.DataFrame) -> str:
    """The user agent in the raw stage, its family in the anonymised stage."""
    return "user_agent" if "user_agent" in df.columns else "ua_family"


def _target_hits(df: pl.DataFrame, field_hits: Callable[..., pl.DataFrame] = field_hits) -> pl.DataFrame:
    """:func:`field_hits` of the request target, built and classified per distinct (path, query)."""
    query = df.get_column("query") if "query" in df.columns else pl.repeat(None, df.height, dtype=pl.String, eager=True)
    pairs = pl.DataFrame({"path": df.get_column("path"), "query": query}).unique()
    targets = pairs.select(request_target().alias("t")).to_series()
    hits = field_hits(targets, "request", tuple(SIGNATURES))
    if hits.height == 0:
        return hits
    flagged = pairs.with_row_index("_pair").join(hits.rename({"_row": "_pair"}), on="_pair").drop("_pair")
    rows = pl.DataFrame({"path": df.get_column("path"), "query": query}).with_row_index("_row")
    rows = rows.filter(pl.col("path").is_in(flagged.get_column("path").unique().implode()))
    out = rows.join(flagged, on=["path", "query"], how="inner", nulls_equal=True)
    return out.select("_row", "category", "field", "excerpt")


def request_hits(df: pl.DataFrame, rules: dict[str, Any], asn: Any = None, verify: Any = None,
                 field_hits: Callable[..., pl.DataFrame] = field_hits) -> pl.DataFrame:  # fmt: skip
    """Every per-request match of a raw- or anonymised-stage frame, long form: ``_row`` (row
    index), ``category``, ``field`` (where it matched) and ``excerpt`` (the matched text,
    normalised). A row may match several categories; per category its first field is kept.
    ``field_hits``: a stand-in with the same results (the review's
    :class:`~logtool.detect.hitcache.HitCache`)."""
    parts = [_target_hits(df, field_hits)] if "path" in df.columns else []
    for field, column, cats in FIELDS[1:]:
        if column == "user_agent":
            column = agent_column(df)
        if column in df.columns and df.get_column(column).null_count() < df.height:
            parts.append(field_hits(df.get_column(column), field, cats))
    if "path" in df.columns:
        parts.append(missing_probes(df, df.get_column("path")))
    proto = protocol_anomalies(df, rules["protocol"]).arg_true()
    request = (  # of the anomalies only
        df[proto].select(request_target()).to_series()
        if "path" in df.columns
        else pl.repeat(None, proto.len(), eager=True)
    )
    parts.append(pl.DataFrame({"_row": proto, "category": "protocol", "field": "request",
                               "excerpt": request.cast(pl.String).str.slice(0, MAX_EXCERPT)},
                              schema_overrides={"category": pl.String, "field": pl.String}))  # fmt: skip
    client = "client_ip" if "client_ip" in df.columns else "client_net"
    bots = fake_bots(df, rules["fake_bot"], client, asn, rules.get("crawlers"), verify).arg_true()
    ua = df.get_column(agent_column(df)) if agent_column(df) in df.columns else pl.repeat(None, df.height, eager=True)
    parts.append(pl.DataFrame({"_row": bots, "category": "fake_bot", "field": "user_agent",
                               "excerpt": ua.gather(bots).cast(pl.String).str.slice(0, MAX_EXCERPT)},
                              schema_overrides={"category": pl.String, "field": pl.String}))  # fmt: skip
    hits = pl.concat([p.with_columns(pl.col("_row").cast(pl.UInt32)) for p in parts])
    order = pl.col("field").replace_strict({f: i for i, f in enumerate(FIELD_ORDER)}, default=len(FIELD_ORDER))
    return hits.sort("_row", "category", order).unique(["_row", "category"], keep="first", maintain_order=True)
