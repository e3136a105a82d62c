"""Validation of review rules: every value of the merged rules (shipped + a user's file) within
its allowed range, so a hostile or mistyped rules file is one error line naming the key and
the range, never a crash in ``review``, ``ingest`` or ``retain``.

Ranges are by key name (``window_seconds`` means the same in every section); a number whose
key has no range here must still be finite and between 0 and :data:`DEFAULT_MAX`. Lists hold
strings (at most :data:`MAX_ITEMS`, each at most :data:`MAX_TEXT` characters); crawler entries
need a ``user_agent`` regex that compiles and ``networks`` that are CIDR networks, and may name
their operator's ``asns`` and reverse-DNS ``domains``.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

import polars as pl

from logtool.errors import ConfigError

#: key → (lowest, highest) allowed value.
RANGES: dict[str, tuple[float, float]] = {
    "window_seconds": (1, 86_400),
    "threshold": (1, 1_000_000_000),
    "baseline_factor": (0, 1_000_000),
    "ipv6_prefix": (1, 128),
    "max_url_length": (1, 10_000_000),
}
DEFAULT_MAX = 1_000_000_000
MAX_ITEMS = 10_000
MAX_TEXT = 1_000


def _fail(source: str, where: str, what: str) -> ConfigError:
    return ConfigError(f"review rules {source}: {where} {what}")


def _number(source: str, where: str, key: str, value: Any) -> None:
    lo, hi = RANGES.get(key, (0, DEFAULT_MAX))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, where, f"must be a number between {lo:,} and {hi:,}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(source, where, f"must be a finite number between {lo:,} and {hi:,}, got {value}")
    if not lo <= value <= hi:
        raise _fail(source, where, f"must be between {lo:,} and {hi:,}, got {value:,}")


def _strings(source: str, where: str, value: Any) -> None:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise _fail(source, where, f"must be a list of at most {MAX_ITEMS:,} strings")
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_TEXT:
            raise _fail(source, where, f"must hold strings of at most {MAX_TEXT:,} characters, got {str(item)[:40]!r}")


def regex_error(pattern: str) -> str | None:
    """Why ``pattern`` is not a regex the review can run (polars' engine), or None."""
    try:
        pl.select(pl.lit("").str.contains(f"(?i){pattern}"))
    except pl.exceptions.PolarsError as e:
        text = str(e).split("This error occurred")[0].replace("regex parse error:", "")
        return " ".join(text.split())[:200]
    return None


_CRAWLER_KEYS = {"user_agent", "networks", "asns", "domains"}


def _crawler(source: str, name: str, entry: Any) -> None:
    where = f"[fake_bot.{name}]"
    if not isinstance(entry, dict) or not {"user_agent", "networks"} <= set(entry) <= _CRAWLER_KEYS:
        raise _fail(source, where, "must have the keys user_agent (a regex) and networks (a list of CIDRs), "
                                   "optionally asns (AS numbers) and domains (reverse-DNS suffixes)")  # fmt: skip
    asns = entry.get("asns", [])
    if (
        not isinstance(asns, list)
        or len(asns) > MAX_ITEMS
        or not all(isinstance(a, int) and not isinstance(a, bool) and 0 < a < 2**32 for a in asns)
    ):
        raise _fail(source, f"{where} asns", "must be a list of AS numbers (1 to 4294967295)")
    _strings(source, f"{where} domains", entry.get("domains", []))
    ua = entry["user_agent"]
    if not isinstance(ua, str) or not ua or len(ua) > MAX_TEXT:
        raise _fail(source, f"{where} user_agent", f"must be a regex of 1 to {MAX_TEXT:,} characters")
    if (why := regex_error(ua)) is not None:
        raise _fail(source, f"{where} user_agent", f"is not a valid regex: {why}")
    _strings(source, f"{where} networks", entry["networks"])
    for net in entry["networks"]:
        try:
            ipaddress.ip_network(net)
        except ValueError:
            raise _fail(source, f"{where} networks", f"must be CIDR networks (host bits zero), got {net!r}") from None


def validate(rules: dict[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` naming the first value of ``rules`` outside its range."""
    for section, values in rules.items():
        if section == "fake_bot":
            for name, entry in values.items():
                _crawler(source, name, entry)
            continue
        for key, value in values.items():
            where = f"[{section}] {key}"
            if section == "severity":
                continue  # checked against the severities when merged
            if isinstance(value, list):
                _strings(source, where, value)
            elif isinstance(value, str):
                if len(value) > MAX_TEXT:
                    raise _fail(source, where, f"must be at most {MAX_TEXT:,} characters")
            else:
                _number(source, where, key, value)
