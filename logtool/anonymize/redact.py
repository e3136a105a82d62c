"""Personal data inside URLs (path, query, referrer): found after URL-decoding, visibly redacted.

Markers: ``<email>``, ``<ip>``, ``<token>`` (JWTs, UUIDs, long hex and random-looking strings),
``<phone>``, and ``name=<redacted>`` for the values of sensitive parameters (a configurable
list of glob patterns: ``token``, ``password``, ``session``, ``email`` ...).

Characters that can hide an identifier (``%40`` for ``@``, ``%2E`` for ``.``, also double
encoded) are decoded before matching. A value in which nothing is found is returned
byte-for-byte unchanged; one in which something is found comes back decoded and redacted.
Redaction is idempotent: redacting twice changes nothing.

Work is done once per distinct value, and only values that contain a candidate at all (one
cheap vectorised test) go through the full set of patterns.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from logtool.config import DEFAULT_SENSITIVE_PARAMS

#: Percent-escapes decoded before matching (single and double encoded).
_DECODE = {}
for _ch, _hex in (("@", "40"), (".", "2E"), (":", "3A"), ("+", "2B"), ("-", "2D"), ("_", "5F"), ("=", "3D")):
    _DECODE[f"%{_hex}"] = _ch
    _DECODE[f"%25{_hex}"] = _ch

_HEX = "[0-9A-Fa-f]"
JWT = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
LONG_HEX = rf"\b{_HEX}{{16,}}\b"
#: A run of token characters with at least four letter–digit adjacencies ("random-looking").
_T = "[A-Za-z0-9_+=-]*"
_ADJ = "(?:[A-Za-z][0-9]|[0-9][A-Za-z])"
MIXED_TOKEN = _T + (_ADJ + _T) * 4
#: An IPv4 address with a non-zero host part. ``N.0.0.0`` is a /8 network, not a host (and is
#: how Chrome's reduced user agent writes its version, ``Chrome/131.0.0.0``): left alone.
_NZ = "[0-9]*[1-9][0-9]*"
_O = "[0-9]{1,3}"
IPV4_HOSTPART = rf"{_O}\.(?:{_NZ}\.{_O}\.{_O}|{_O}\.{_NZ}\.{_O}|{_O}\.{_O}\.{_NZ})"
IPV4 = rf"\b{IPV4_HOSTPART}\b"
_H = f"{_HEX}{{1,4}}"
IPV6 = (
    rf"(?:{_H}:){{6}}\d{{1,3}}(?:\.\d{{1,3}}){{3}}"  # full form with an IPv4 tail
    rf"|(?:{_H}:){{7}}{_H}"  # full form
    rf"|(?:{_H}(?::{_H}){{0,6}})?::(?:{_H}(?::{_H}){{0,6}})?(?:\.\d{{1,3}}){{0,3}}"  # compressed
)
#: Between IPv6 candidates and their surroundings (no lookbehind in Rust regex): captured, kept.
_V6_EDGE_L = r"(^|[^0-9A-Za-z:.%])"
_V6_EDGE_R = r"($|[^0-9A-Za-z:.])"
PHONE = r"(?:\+|%2B)[1-9](?:(?:[ ./+-]|%20)?[0-9]){7,14}\b"
PHONE_NATIONAL = r"\b0[1-9][0-9]{1,4}(?:[ /-]|%20)[0-9]{3,}(?:(?:[ -]|%20)[0-9]{2,})*\b"

#: Escapes that can hide an identifier (see ``_DECODE``).
ENCODED = r"(?i)%(?:25)?(?:40|2E|3A|2B|2D|5F|3D)"


@lru_cache(maxsize=16)
def candidate_regex(sensitive: tuple[str, ...]) -> str:
    """Matches wherever :func:`redact_expr` could change something: the alternation of all its
    patterns (ASCII-loosened) plus the escapes decoding would undo. Used to skip the full pass
    for values without any candidate, and by ``anonymize`` to choose its fast path, so it must
    stay a superset of everything redaction acts on (the property tests check this)."""
    parts = [ENCODED, "@", JWT, UUID, IPV4_HOSTPART, IPV6, PHONE, PHONE_NATIONAL, LONG_HEX, MIXED_TOKEN]
    if sensitive:
        parts.append(_param_regex(sensitive))
    return "|".join(f"(?:{p})" for p in parts)


def glob_name_regex(pattern: str) -> str:
    """A parameter-name glob as regex: ``*`` and ``?`` never cross ``=``, ``&``, ``;`` or ``#``."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("[^=&;#]*")
        elif ch == "?":
            out.append("[^=&;#]")
        else:
            out.append("\\" + ch if ch in "\\.+*?()|[]{}^$" else ch)
    return "".join(out)


def _param_regex(patterns: tuple[str, ...]) -> str:
    alts = "|".join(glob_name_regex(p) for p in patterns)
    return rf"(?i)(^|[?&;])({alts})=[^&;#]*"


def ipv6_to_marker(expr: pl.Expr) -> pl.Expr:
    """IPv6 addresses (any spelling) → ``<ip>``."""
    rx = _V6_EDGE_L + "(?:" + IPV6 + ")" + _V6_EDGE_R
    # Twice: one match consumes the separator the next one would start from.
    return expr.str.replace_all(rx, "$1<ip>$2").str.replace_all(rx, "$1<ip>$2")


def ipv4_to_marker(expr: pl.Expr) -> pl.Expr:
    """IPv4 addresses with a host part → ``<ip>``."""
    return expr.str.replace_all(IPV4, "<ip>")


def redact_expr(decoded: pl.Expr, sensitive: tuple[str, ...]) -> pl.Expr:
    """All patterns over already-decoded text (order matters: JWTs contain dots, e-mails IPs)."""
    out = decoded
    if sensitive:
        out = out.str.replace_all(_param_regex(sensitive), "${1}${2}=<redacted>")
    out = out.str.replace_all(JWT, "<token>").str.replace_all(EMAIL, "<email>")
    out = out.str.replace_all(UUID, "<token>")
    out = ipv4_to_marker(ipv6_to_marker(out))
    out = out.str.replace_all(PHONE, "<phone>").str.replace_all(PHONE_NATIONAL, "<phone>")
    out = out.str.replace_all(LONG_HEX, "<token>").str.replace_all(MIXED_TOKEN, "<token>")
    return out


def _redact_unique(values: pl.Series, sensitive: tuple[str, ...]) -> pl.Series:
    """Decode, redact; where nothing was found return the value exactly as it came."""
    decoded = pl.col("v").str.replace_many(_DECODE, ascii_case_insensitive=True)
    return (
        pl.DataFrame({"v": values})
        .with_columns(decoded.alias("_d"))
        .with_columns(redact_expr(pl.col("_d"), sensitive).alias("_r"))
        .select(pl.when(pl.col("_r") == pl.col("_d")).then(pl.col("v")).otherwise(pl.col("_r")))
        .to_series()
    )


def redact(values: pl.Series, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS) -> pl.Series:
    """Redact personal data in URL parts; same length and order, nulls stay null."""
    name = values.name
    uniq = values.drop_nulls().unique()
    cand = uniq.filter(uniq.str.contains(candidate_regex(sensitive)))
    if cand.len() == 0:
        return values
    mapping = pl.DataFrame({"v": cand, "r": _redact_unique(cand, sensitive)}).filter(pl.col("v") != pl.col("r"))
    if mapping.height == 0:
        return values
    return (
        pl.DataFrame({"v": values})
        .join(mapping, on="v", how="left", maintain_order="left")
        .select(pl.coalesce("r", "v").alias(name))
        .to_series()
    )
