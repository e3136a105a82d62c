"""Field coarsening for the anonymised stage: referrers, query strings and PII inside URLs.

Polars expressions over whole columns; the client network comes from :mod:`logtool.net`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from logtool.anonymize.freetext import per_distinct, replace_some
from logtool.anonymize.redact import glob_name_regex, ipv4_to_marker, ipv6_to_marker, redact
from logtool.net import network_text, parse_ip
from logtool.schema import ANON_SCHEMA, conform

if TYPE_CHECKING:
    from logtool.config import Policy


def referrer_origin(expr: pl.Expr) -> pl.Expr:
    """``https://user:pw@Example.org:8443/a?b`` → ``https://example.org:8443``; non-URLs → null.

    A host that is an IP address is redacted (``http://<ip>``): it may be the visitor's own.
    """
    return pl.concat_str(
        [
            expr.str.extract(r"^([A-Za-z][A-Za-z0-9+.-]*)://", 1).str.to_lowercase(),
            pl.lit("://"),
            mask_ip_tokens(
                expr.str.extract(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^/?#\s]+)", 1).str.to_lowercase()
            ),
        ]
    )


def referrer_host(expr: pl.Expr) -> pl.Expr:
    """The host of a referrer URL, lower-cased, without user info or port; IP hosts redacted."""
    host = expr.str.extract(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]+\]|[^/?#:\s]+)", 1)
    return mask_ip_tokens(host.str.to_lowercase())


def glob_regex(patterns: tuple[str, ...]) -> str:
    """One anchored regex matching any of the parameter-name globs ``patterns``."""
    if not patterns:
        return r"^\b$"  # matches nothing
    return "^(?:" + "|".join(glob_name_regex(p) for p in patterns) + ")$"


def filter_query(expr: pl.Expr, allowlist: tuple[str, ...]) -> pl.Expr:
    """Keep only query parameters whose name matches the allow-list; empty result → null."""
    rx = glob_regex(allowlist)
    kept = (
        expr.str.split("&")
        .list.eval(pl.element().filter(pl.element().str.extract(r"^([^=]*)", 1).str.contains(rx)))
        .list.join("&")
    )
    return pl.when(kept == "").then(None).otherwise(kept)


def filter_url_query(urls: pl.Series, allowlist: tuple[str, ...]) -> pl.Series:
    """Each URL with only the allow-listed parameters of its query (the ``?`` goes with the
    last one)."""

    def one(u: pl.Series) -> pl.Series:
        parts = pl.DataFrame({"u": u}).select(pl.col("u").str.splitn("?", 2)).unnest("u")
        kept = parts.select(filter_query(pl.col("field_1"), allowlist).alias("q"), "field_0")
        return kept.select(pl.concat_str([pl.col("field_0"), pl.lit("?") + pl.col("q")], ignore_nulls=True)).to_series()

    return per_distinct(urls, one).alias(urls.name)


def mask_ip_tokens(expr: pl.Expr) -> pl.Expr:
    """Replace every IP-looking token of free text by ``<ip>`` (quarantine lines, hosts).

    The same patterns as URL redaction (:mod:`.redact`), so both stay in step.
    """
    return ipv4_to_marker(ipv6_to_marker(expr))


def vhost_networks(vhosts: pl.Series, v4_prefix: int, v6_prefix: int) -> pl.Series:
    """A virtual host that is an address (``127.0.0.1``, ``[2001:db8::1]:443``) → its network
    (``127.0.0.0/24``), like a client: logtool cannot tell the server's own address from a Host
    header a client chose. Names are kept."""
    uniq = vhosts.drop_nulls().unique()
    cand = uniq.filter(uniq.str.contains(r"^\[?[0-9A-Fa-f:.]+(?:\]|%[^ ]*)?(?::[0-9]+)?$"))
    if cand.len() == 0:
        return vhosts
    nets = []
    for v in cand.to_list():
        addr = parse_ip(v)
        nets.append(network_text(addr, v4_prefix, v6_prefix) if addr is not None else v)
    return replace_some(vhosts, cand, nets)


def anonymise_records(raw: pl.DataFrame, net: pl.Series, policy: Policy) -> pl.DataFrame:
    """Raw-stage rows → anonymised-stage rows. ``net`` is the truncated client network per row;
    a virtual host that is an address becomes its network too."""
    out = raw.with_columns(
        net.alias("client_net"),
        vhost_networks(raw.get_column("vhost"), policy.ipv4_prefix, policy.ipv6_prefix),
        filter_query(pl.col("query"), policy.query_allowlist).alias("query"),
        referrer_origin(pl.col("referrer")).alias("referrer"),
    )
    out = out.with_columns(
        redact(out.get_column("path"), policy.sensitive_params),
        redact(out.get_column("query"), policy.sensitive_params),
    )
    return conform(out, ANON_SCHEMA)
