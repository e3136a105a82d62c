"""Everything but the address: user agents, referrers, query strings and PII inside URLs.

User agents are parsed once per unique value (``ua-parser`` with its Rust resolver) and joined
back. The rest are polars expressions over whole columns.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

import polars as pl
import ua_parser

from logtool.anonymize.redact import glob_name_regex, ipv4_to_marker, ipv6_to_marker, redact
from logtool.schema import ANON_SCHEMA, conform

if TYPE_CHECKING:
    from logtool.config import Policy

_BOT_RX = re.compile(
    r"bot|crawl|spider|slurp|scrape|fetch|curl|wget|python-requests|httpx|go-http-client|"
    r"java/|libwww|headless|monitor|uptime|scan|nikto|sqlmap|nuclei|zgrab|masscan|okhttp|axios",
    re.I,
)
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}
_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD", "Debian", "OpenBSD"}
_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|nexus (7|9|10)|sm-t\d", re.I)


@lru_cache(maxsize=100_000)
def classify_ua(ua: str) -> tuple[str, str | None, str, str, bool]:
    """(browser family, major version, OS family, device class, is_bot) of one user agent."""
    r = ua_parser.parse(ua)
    fam = r.user_agent.family if r.user_agent else "Other"
    major = r.user_agent.major if r.user_agent else None
    os_fam = r.os.family if r.os else "Other"
    dev_fam = r.device.family if r.device else "Other"
    is_bot = dev_fam == "Spider" or bool(_BOT_RX.search(ua))
    if is_bot:
        device = "bot"
    elif _TABLET.search(ua) or dev_fam == "iPad":
        device = "tablet"
    elif os_fam in _MOBILE_OS or "Mobile" in ua:
        device = "mobile"
    elif os_fam in _DESKTOP_OS:
        device = "desktop"
    else:
        device = "other"
    return fam, major, os_fam, device, is_bot


def ua_table(uas: pl.Series) -> pl.DataFrame:
    """One row per unique non-null user agent with its parsed columns."""
    uniq = uas.drop_nulls().unique().to_list()
    rows = [classify_ua(u) for u in uniq]
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    return pl.DataFrame(
        {
            "user_agent": pl.Series(uniq, dtype=pl.String),
            "ua_family": pl.Series(cols[0], dtype=pl.String),
            "ua_major": pl.Series(cols[1], dtype=pl.String),
            "os_family": pl.Series(cols[2], dtype=pl.String),
            "device": pl.Series(cols[3], dtype=pl.String),
            "is_bot": pl.Series(cols[4], dtype=pl.Boolean),
        }
    )


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


def mask_ip_tokens(expr: pl.Expr) -> pl.Expr:
    """Replace every IP-looking token of free text by ``<ip>`` (quarantine lines, hosts).

    The same patterns as URL redaction (:mod:`.redact`), so both stay in step.
    """
    return ipv4_to_marker(ipv6_to_marker(expr))


def anonymise_records(raw: pl.DataFrame, net: pl.Series, policy: Policy) -> pl.DataFrame:
    """Raw-stage rows → anonymised-stage rows. ``net`` is the truncated client network per row."""
    out = raw.with_columns(
        net.alias("client_net"),
        filter_query(pl.col("query"), policy.query_allowlist).alias("query"),
        referrer_origin(pl.col("referrer")).alias("referrer"),
    )
    out = out.with_columns(
        redact(out.get_column("path"), policy.sensitive_params),
        redact(out.get_column("query"), policy.sensitive_params),
    )
    return conform(out, ANON_SCHEMA)
