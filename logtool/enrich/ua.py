"""User agents → browser family and major version, OS family, device class, bot flag.

Parsed once per distinct value (``ua-parser`` with its Rust resolver) and joined back.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import polars as pl
import ua_parser

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


def warm_up() -> threading.Thread:
    """Compile the user-agent parser's regexes on a thread of their own (a fixed ~0.1 s per
    process), so that it overlaps work that releases the GIL (polars parsing a batch); it holds the GIL itself."""
    t = threading.Thread(target=ua_parser.parse, args=("Mozilla/5.0",), name="logtool-ua-warm-up", daemon=True)
    t.start()
    return t
