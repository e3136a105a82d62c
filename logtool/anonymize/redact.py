"""Personal data inside URLs (path, query, referrer) and free text: found after URL-decoding,
visibly redacted.

Markers: ``<email>``, ``<ip>``, ``<token>`` (JWTs, UUIDs, long hex and random-looking strings),
``<phone>``, and ``name=<redacted>`` for the values of sensitive parameters (a configurable
list of glob patterns: ``token``, ``password``, ``session``, ``email``, ``lat``, ``device_id`` ...).

Characters that can hide an identifier (``%40`` for ``@``, ``%2E`` for ``.``, ``%2F`` for ``/``,
also double encoded) are decoded before matching. A value in which nothing is found is returned
byte-for-byte unchanged; in one in which something is found only the personal parts change:
its other escapes stay as logged (``url=http%3A%2F%2F<ip>%2Fr``). Redaction is idempotent:
redacting twice changes nothing.

**What is an address** (the one rule for redaction, free-text masking and ``verify``'s scan): a
dotted quad with a host part, or an IPv6 text, whatever stands beside it (``_``, letters,
``/``) as long as no digit or dot continues it (``1.2.3.4.5`` is not one; for IPv6 no hex digit,
colon or dot). Next to a letter that is not a hex digit, an IPv6 text needs three groups:
``std::vector`` and ``Data::Dumper`` are names, not addresses. Rust regexes have no look-behind,
so the edges are captured and put back, in two passes (one match consumes the separator the
next one starts from); the Python spellings (:data:`PY_IPV4`, :data:`PY_IPV6`) say the same.

Work is done once per distinct value, and only values that contain a candidate at all (one
cheap vectorised test) go through the full set of patterns.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

import polars as pl

from logtool.config import DEFAULT_SENSITIVE_PARAMS
from logtool.pipeline import ENGINE, distinct, replace_from

#: Percent-escapes decoded before matching (single and double encoded).
_DECODE = {}
for _ch, _hex in (("@", "40"), (".", "2E"), (":", "3A"), ("+", "2B"), ("-", "2D"), ("_", "5F"), ("=", "3D"),
                  ("/", "2F")):  # fmt: skip
    _DECODE[f"%{_hex}"] = _ch
    _DECODE[f"%25{_hex}"] = _ch
_DECODE_PY = re.compile("|".join(re.escape(k) for k in sorted(_DECODE, key=len, reverse=True)), re.IGNORECASE)

_HEX = "[0-9A-Fa-f]"
JWT = r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
LONG_HEX = rf"\b{_HEX}{{16,}}\b"
#: A run of token characters with at least four letter–digit adjacencies ("random-looking"),
#: with its base64 padding; it never starts across ``=``, so ``usg=AFQjCNE…`` keeps its name.
_T = "[A-Za-z0-9_+-]*"
_ADJ = "(?:[A-Za-z][0-9]|[0-9][A-Za-z])"
MIXED_TOKEN = _T + (_ADJ + _T) * 4 + "=*"
#: An IPv4 address with a non-zero host part. ``N.0.0.0`` is a /8 network, not a host (and is
#: how Chrome's reduced user agent writes its version, ``Chrome/131.0.0.0``): left alone.
_NZ = "(?:[1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9])"  # one to three digits, not all zero
_O = "[0-9]{1,3}"
IPV4_HOSTPART = rf"{_O}\.(?:{_NZ}\.{_O}\.{_O}|{_O}\.{_NZ}\.{_O}|{_O}\.{_O}\.{_NZ})"
#: No digit before it, nor a digit and a dot; no digit after it, nor a dot and a digit.
_V4_L = r"(^|^\.|[^0-9.]|[^0-9]\.)"
_V4_R = r"($|[^0-9.]|\.$|\.[^0-9])"
IPV4 = f"{_V4_L}(?:{IPV4_HOSTPART}){_V4_R}"
_H = f"{_HEX}{{1,4}}"
IPV6 = (
    rf"(?:{_H}:){{6}}\d{{1,3}}(?:\.\d{{1,3}}){{3}}"  # full form with an IPv4 tail
    rf"|(?:{_H}:){{7}}{_H}"  # full form
    rf"|(?:{_H}(?::{_H}){{0,6}})?::(?:{_H}(?::{_H}){{0,6}})?(?:\.\d{{1,3}}){{0,3}}"  # compressed
)
#: IPv6 texts with at least three groups: the ones recognised next to a letter.
IPV6_LONG = (
    rf"(?:{_H}:){{7}}{_H}"
    rf"|{_H}(?::{_H}){{2,6}}::(?:{_H}(?::{_H}){{0,4}})?"
    rf"|{_H}:{_H}::{_H}(?::{_H}){{0,4}}"
    rf"|{_H}::{_H}(?::{_H}){{1,5}}"
    rf"|::{_H}(?::{_H}){{2,6}}"
)
#: Between IPv6 candidates and their surroundings, captured and put back.
_V6_L, _V6_R = r"(^|[^0-9A-Za-z:.])", r"($|[^0-9A-Za-z:.])"
_V6_GLUED_L, _V6_GLUED_R = r"(^|[^0-9A-Fa-f:.])", r"($|[^0-9A-Fa-f:.])"
#: A load balancer's ADDRESS:PORT without brackets (HAProxy: ``2001:db8::1234:58430``); a port
#: of up to four digits reads as one more group of the address.
_V6_PORT = "(?::[0-9]{5})?"
IPV6_EDGED = f"{_V6_L}(?:{IPV6}){_V6_PORT}{_V6_R}"
IPV6_GLUED = f"{_V6_GLUED_L}(?:{IPV6_LONG}){_V6_PORT}{_V6_GLUED_R}"
#: Any address by the rule above, for ``str.contains`` (``verify``'s scan).
ADDRESS = f"(?:{IPV4})|(?:{IPV6_EDGED})|(?:{IPV6_GLUED})"

#: The same rule in Python's syntax (look-arounds instead of captured edges), for the slow
#: paths that work line by line; candidates are checked with :func:`logtool.net.parse_ip`.
PY_IPV4 = re.compile(rf"(?<![0-9])(?<![0-9]\.)(?:{IPV4_HOSTPART})(?![0-9])(?!\.[0-9])")
PY_IPV6 = re.compile(r"(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?"
                     r"(?::[0-9]{5})?(?![0-9A-Fa-f:.])")  # fmt: skip
_LETTER = re.compile(r"[G-Zg-z]")


def v6_glued_ok(text: str, start: int, end: int) -> bool:
    """A :data:`PY_IPV6` match at ``text[start:end]`` next to a non-hex letter counts only with
    three groups or more (``Data::Dumper`` is a name)."""
    before, after = text[start - 1 : start], text[end : end + 1]
    if not (_LETTER.match(before) or _LETTER.match(after)):
        return True
    return sum(1 for g in re.split(r"[:.]", text[start:end]) if g) >= 3


#: A version after a product token (``Firefox/3.6.13.1``, ``Chrome/13.0.782.112``) or Gecko's
#: ``rv:`` in a user agent: what free-text masking leaves alone there. Never applied to URLs.
_PRODUCT = re.compile(r"(?:^|[\s(;,\[])(?:[A-Za-z][A-Za-z0-9_.+-]{0,63}/|rv:)\Z")


def is_version(text: str, start: int) -> bool:
    """Does the dotted quad at ``text[start:]`` follow a product token (``Name/``, ``rv:``)?"""
    return start > 0 and text[start - 1] in "/:" and _PRODUCT.search(text, max(0, start - 70), start) is not None


PHONE = r"(?:\+|%2B)[1-9](?:(?:[ ./+-]|%20)?[0-9]){7,14}\b"
PHONE_NATIONAL = r"\b0[1-9][0-9]{1,4}(?:[ /-]|%20)[0-9]{3,}(?:(?:[ -]|%20)[0-9]{2,})*\b"

#: Escapes that can hide an identifier (see ``_DECODE``).
ENCODED = r"(?i)%(?:25)?(?:40|2E|3A|2B|2D|5F|3D|2F)"


@lru_cache(maxsize=16)
def candidate_regex(sensitive: tuple[str, ...], line: bool = False, within: bool = False) -> str:
    """Matches wherever :func:`redact` could change something: the alternation of all its
    patterns (ASCII-loosened) plus the escapes decoding would undo. Used to skip the full pass
    for values without any candidate, and by ``anonymize`` to choose its fast path, so it must
    stay a superset of everything redaction acts on (the property tests check this).
    ``within``: the URL may sit inside a longer text (a request line, a whole log line), so a
    parameter also counts after a blank or a quote (``GET token=… HTTP/1.1``)."""
    parts = [ENCODED, "@", JWT, UUID, IPV4_HOSTPART, IPV6, PHONE, PHONE_NATIONAL, LONG_HEX, MIXED_TOKEN]
    if sensitive:
        parts.extend(_param_regexes(sensitive, line, within))
    return "|".join(f"(?:{p})" for p in parts)


def glob_name_regex(pattern: str, stop: str = "=&;#") -> str:
    """A parameter-name glob as regex: ``*`` and ``?`` never cross ``stop`` characters
    (``=``, ``&``, ``;`` or ``#`` in a URL)."""
    cls = "[^" + stop + "]"
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(cls + "*")
        elif ch == "?":
            out.append(cls)
        else:
            out.append("\\" + ch if ch in "\\.+*?()|[]{}^$" else ch)
    return "".join(out)


#: Free text (a whole quarantined line): a value ends at a blank or a quote too.
_LINE_STOP = "=&;#\\s\"'"


def _param_regexes(patterns: tuple[str, ...], line: bool = False, within: bool = False) -> list[str]:
    """``name=value`` after the start, ``?``, ``&`` or ``;`` (in free text, and ``within`` a
    text, also after a blank or a quote; in free text JSON ``"name": "value"`` too), names
    case-insensitive."""
    if not line:
        alts = "|".join(glob_name_regex(p) for p in patterns)
        lead = "[?&;\\s\"']" if within else "[?&;]"
        return [rf"(^|{lead})((?i:{alts}))=[^&;#]*"]
    alts = "|".join(glob_name_regex(p, _LINE_STOP) for p in patterns)
    return [
        rf"(^|[?&;\s\"'(,])((?i:{alts}))=[^&;#\s\"']*",
        rf"(\"(?i:{alts})\"[ \t]*:[ \t]*)\"(?:[^\"\\]|\\.)*\"",
    ]


def ipv6_to_marker(expr: pl.Expr) -> pl.Expr:
    """IPv6 addresses (any spelling, also glued to ``_`` or letters) → ``<ip>``."""
    for rx in (IPV6_EDGED, IPV6_GLUED):
        expr = expr.str.replace_all(rx, "$1<ip>$2").str.replace_all(rx, "$1<ip>$2")
    return expr


def ipv4_to_marker(expr: pl.Expr) -> pl.Expr:
    """IPv4 addresses with a host part (also glued to ``_``, letters, ``/``) → ``<ip>``."""
    return expr.str.replace_all(IPV4, "$1<ip>$2").str.replace_all(IPV4, "$1<ip>$2")


def decode_expr(expr: pl.Expr) -> pl.Expr:
    """The escapes that can hide an identifier decoded (``%40`` → ``@`` …, also ``%2540``)."""
    return expr.str.replace_many(_DECODE, ascii_case_insensitive=True)


def redact_expr(decoded: pl.Expr, sensitive: tuple[str, ...], line: bool = False, addresses: bool = True) -> pl.Expr:
    """All patterns over already-decoded text (order matters: JWTs contain dots, e-mails IPs).
    ``addresses=False``: leave IP addresses to the caller (free text masks them to networks)."""
    out = decoded
    if sensitive:
        params = _param_regexes(sensitive, line)
        out = out.str.replace_all(params[0], "${1}${2}=<redacted>")
        if line:
            out = out.str.replace_all(params[1], '${1}"<redacted>"')
    out = out.str.replace_all(JWT, "<token>").str.replace_all(EMAIL, "<email>")
    out = out.str.replace_all(UUID, "<token>")
    if addresses:
        out = ipv4_to_marker(ipv6_to_marker(out))
    out = out.str.replace_all(PHONE, "<phone>").str.replace_all(PHONE_NATIONAL, "<phone>")
    out = out.str.replace_all(LONG_HEX, "<token>").str.replace_all(MIXED_TOKEN, "<token>")
    return out


def decode_one(text: str) -> str:
    """:func:`decode_expr` for one string."""
    return _DECODE_PY.sub(lambda m: _DECODE[m.group(0).upper()], text)


def keep_escapes(original: str, decoded: str, redacted: str) -> str:
    """``redacted`` (``decoded`` with personal parts replaced) spelled with ``original``'s escapes
    wherever it kept the text: the parts that did not change are copied from ``original``.

    The result always decodes to ``redacted`` (checked; otherwise ``redacted`` is returned), so
    it hides exactly what ``redacted`` hides."""
    # where each decoded character came from in the original
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _DECODE_PY.finditer(original):
        spans.extend((i, i + 1) for i in range(pos, m.start()))
        spans.append((m.start(), m.end()))
        pos = m.end()
    spans.extend((i, i + 1) for i in range(pos, len(original)))
    if len(spans) != len(decoded):
        return redacted
    out = []
    for op, d0, d1, r0, r1 in difflib.SequenceMatcher(None, decoded, redacted, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(original[spans[d0][0] : spans[d1 - 1][1]])
        else:
            out.append(redacted[r0:r1])
    text = "".join(out)
    return text if decode_one(text) == redacted else redacted


def _redact_unique(values: pl.Series, sensitive: tuple[str, ...], line: bool, addresses: bool) -> pl.Series:
    """Decode, redact; where nothing was found return the value exactly as it came, where
    something was, keep the value's other escapes."""
    df = (  # one plan
        pl.DataFrame({"v": values})
        .lazy()
        .with_columns(decode_expr(pl.col("v")).alias("_d"))
        .with_columns(redact_expr(pl.col("_d"), sensitive, line, addresses).alias("_r"))
        .with_columns(
            pl.when(pl.col("_r") == pl.col("_d")).then(pl.col("v")).otherwise(pl.col("_r")).alias("o"),
            ((pl.col("_r") != pl.col("_d")) & (pl.col("_d") != pl.col("v"))).alias("respell"),
        )
        .collect(engine=ENGINE)
    )
    result = df.get_column("o")
    respell = df.filter("respell")
    if respell.height:
        idx = df.get_column("respell").arg_true()
        rows = respell.select("v", "_d", "_r").iter_rows()
        result = result.scatter(idx, pl.Series([keep_escapes(v, d, r) for v, d, r in rows], dtype=pl.String))
    return result


def redact(values: pl.Series, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS, line: bool = False,
           addresses: bool = True) -> pl.Series:  # fmt: skip
    """Redact personal data in URL parts; same length and order, nulls stay null. ``line``:
    the values are whole lines of free text (a value after ``name=`` ends at a blank or quote,
    and JSON ``"name": "value"`` pairs count as parameters). ``addresses=False``: IP addresses
    are left to the caller."""
    cand = distinct(values, candidate_regex(sensitive, line))
    if cand.len() == 0:
        return values
    redacted = _redact_unique(cand, sensitive, line, addresses)
    if redacted.equals(cand):
        return values
    return replace_from(values, cand, redacted)
