"""User agents → browser family and major version, OS family, device class, bot flag.

Parsed once per distinct value (``ua-parser`` with its Rust resolver) and joined back.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import polars as pl
from ua_parser.loaders import load_lazy_builtins
from ua_parser.regex import Resolver

#: Bot and tablet hints in the text itself, matched by polars over the distinct agents (Python's
#: ``re`` took ~60 µs an agent for these two case-insensitive alternations: more than the parser).
_BOT_RX = (
    r"(?i)bot|crawl|spider|slurp|scrape|fetch|curl|wget|python-requests|httpx|go-http-client|"
    r"java/|libwww|headless|monitor|uptime|scan|nikto|sqlmap|nuclei|zgrab|masscan|okhttp|axios"
)
_TABLET_RX = r"(?i)ipad|tablet|kindle|silk|playbook|nexus (7|9|10)|sm-t\d"
_MOBILE_OS = ["iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"]
_DESKTOP_OS = ["Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD", "Debian", "OpenBSD"]


_LOCK = threading.Lock()
_RESOLVER: Resolver | None = None


def _resolver() -> Resolver:
    """ua-parser's Rust resolver over its bundled regexes, built once whichever thread asks
    first, without the caching layer of ua-parser's default parser (``_parse`` keeps its own;
    that layer cost ~4 µs an agent)."""
    global _RESOLVER
    if _RESOLVER is None:
        with _LOCK:
            if _RESOLVER is None:
                _RESOLVER = Resolver(load_lazy_builtins())
    return _RESOLVER


@lru_cache(maxsize=100_000)  # across files and batches (an input's enrichment cache is its own)
def _parse(ua: str) -> tuple[str, str | None, str, str]:
    """(browser family, major version, OS family, device family) of one user agent (ua-parser).
    The resolver's three extractors are asked directly, for the fields used here: its own call
    builds a result object of every field of each, ~4 of the ~10 µs a new agent cost."""
    r = _resolver()
    agent, os, device = r.ua.extract(ua), r.os.extract(ua), r.de.extract(ua)
    return (
        agent.family if agent else "Other",
        agent.major if agent else None,
        os.family if os else "Other",
        device.family if device else "Other",
    )


def ua_table(uas: pl.Series) -> pl.DataFrame:
    """One row per unique non-null user agent with its parsed columns: ``ua_family``,
    ``ua_major``, ``os_family``, ``device`` (bot, tablet, mobile, desktop or other) and ``is_bot``."""
    uniq = uas.drop_nulls().unique()
    rows = [_parse(u) for u in uniq.to_list()]
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    parsed = pl.DataFrame(
        {
            "user_agent": uniq.cast(pl.String),
            "ua_family": pl.Series(cols[0], dtype=pl.String),
            "ua_major": pl.Series(cols[1], dtype=pl.String),
            "os_family": pl.Series(cols[2], dtype=pl.String),
            "_device": pl.Series(cols[3], dtype=pl.String),
        }
    )
    ua, dev, os_fam = pl.col("user_agent"), pl.col("_device"), pl.col("os_family")
    # Python's re.I (the rule before) also matches "i" to the Turkish İ and ı; Unicode's simple
    # case folding (polars) does not: they are folded here, for the hints only
    hint = ua.str.replace_many(["İ", "ı"], ["i", "i"])
    is_bot = (dev == "Spider") | hint.str.contains(_BOT_RX)
    device = (
        pl.when(is_bot).then(pl.lit("bot"))
        .when(hint.str.contains(_TABLET_RX) | (dev == "iPad")).then(pl.lit("tablet"))
        .when(os_fam.is_in(_MOBILE_OS) | ua.str.contains("Mobile", literal=True)).then(pl.lit("mobile"))
        .when(os_fam.is_in(_DESKTOP_OS)).then(pl.lit("desktop"))
        .otherwise(pl.lit("other"))
    )  # fmt: skip
    return parsed.select(
        "user_agent", "ua_family", "ua_major", "os_family", device.alias("device"), is_bot.alias("is_bot")
    )


def warm_up() -> threading.Thread:
    """Compile the user-agent parser's regexes on a thread of their own (a fixed ~0.2 s per
    process), so that it overlaps work that releases the GIL (polars parsing a batch); it holds the GIL itself."""
    t = threading.Thread(target=_parse, args=("Mozilla/5.0",), name="logtool-ua-warm-up", daemon=True)
    t.start()
    return t
