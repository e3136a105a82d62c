"""Text of no known shape, masked where its personal parts are.

* :func:`mask_free_text` (``logtool anonymize``: user agents, fields it does not know, lines
  that fit no layout): every address → its network address, by the address rule of
  :mod:`.redact` (glued to ``_`` or letters too); in a user agent a version after a product
  token (``Firefox/3.6.13.1``, ``Chrome/13.0.782.112``) is not an address and stays; e-mail
  addresses → ``<email>``.
* :func:`mask_lines` (the quarantine): the URL redaction of :mod:`.redact` over the whole line
  (e-mails, tokens, JWTs, phone numbers, the values of sensitive parameters — in JSON
  ``"name": "value"`` pairs too, so ``remote_user`` and ``user_id`` go — and every address in
  any spelling → ``<ip>``), the ident and user of a CLF-like line (``client ident user
  [time]``) → ``-``, and every hostname under a known public suffix → its registrable domain
  (``dialup-12.isp.example.net`` → ``example.net``), as a hostname client is in the store.
  Nothing depends on where the client stands, so the reason a line was rejected stays readable.

Python runs only on the distinct values that may hold something (one vectorised test first).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import lru_cache

import polars as pl

from logtool.anonymize.redact import EMAIL, PY_IPV4, PY_IPV6, decode_one, is_version, keep_escapes, redact, v6_glued_ok
from logtool.config import DEFAULT_SENSITIVE_PARAMS
from logtool.net import UNKNOWN_HOST, fast_v6_network, host_network, parse_ip
from logtool.pipeline import ENGINE, distinct, join_back, replace_from

_EMAIL_PY = re.compile(EMAIL)
#: Cheap vectorised test for "may contain an address or an e-mail" before the Python pass
#: (also spelled with escapes: ``%2E``, ``%3A``, ``%40``).
MAYBE_PERSONAL = r"\d\.\d+\.\d|:[0-9A-Fa-f]*:|@|(?i)%(?:25)?(?:2E|3A|40)"
#: A name of three labels or more (``www.example.org``), not part of a longer word or name.
_HOSTNAME = re.compile(
    r"(?<![A-Za-z0-9_.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){2,}[A-Za-z][A-Za-z0-9-]{0,62}"
    r"(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9])"
)
_MAYBE_HOSTNAME = r"[A-Za-z0-9-]\.[A-Za-z0-9-]+\.[A-Za-z]"
#: ``client ident user [dd/Mon/yyyy:HH:MM:SS +zzzz]``: the ident and user of a CLF-like line.
_CLF_HEAD = (
    r"(^|[ \t])([^ \t]+)[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]+(\[[0-9]{1,2}/[A-Za-z]{3}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}\])"
)


@lru_cache(maxsize=8192)  # the callers' tables of distinct values are the caches across batches
def mask_address(text: str, v4: int, v6: int) -> str:
    """One client-like value → its network address (``-`` and the placeholder kept), a name →
    its registrable domain."""
    t = text.strip()
    if t in ("", "-", UNKNOWN_HOST):
        return t
    if (fast := fast_v6_network(t, v6)) is not None:
        return fast
    addr = parse_ip(t)
    if addr is None:
        return host_network(t)
    if addr.version == 4:
        host = 32 - v4
        return str(ipaddress.IPv4Address(int(addr) >> host << host))
    host = 128 - v6
    return str(ipaddress.IPv6Address(int(addr) >> host << host))


def mask_free_text(text: str, v4: int, v6: int, versions: bool = False) -> str:
    """Every address → its network address; e-mails → ``<email>``. ``versions``: the text is a
    user agent, where a dotted quad after a product token (``Name/``) is a version and stays.
    Escapes that can hide an address (``%2E``, ``%3A`` …) are decoded for matching; the text
    keeps them where nothing was masked."""
    decoded = decode_one(text)
    if decoded != text:
        masked = _mask_free_text(decoded, v4, v6, versions)
        return text if masked == decoded else keep_escapes(text, decoded, masked)
    return _mask_free_text(text, v4, v6, versions)


def _mask_free_text(text: str, v4: int, v6: int, versions: bool) -> str:

    def six(m: re.Match[str]) -> str:
        tok = m.group(0)
        if not v6_glued_ok(m.string, m.start(), m.end()) or parse_ip(tok) is None:
            return tok
        return mask_address(tok, v4, v6)

    def four(m: re.Match[str]) -> str:
        if versions and is_version(m.string, m.start()):
            return m.group(0)
        tok = m.group(0)
        return mask_address(tok, v4, v6) if parse_ip(tok) is not None else "<ip>"

    text = PY_IPV4.sub(four, PY_IPV6.sub(six, text))
    return _EMAIL_PY.sub("<email>", text)


def reduce_hostnames(text: str) -> str:
    """Every name under a known public suffix → its registrable domain; other names stay."""

    def sub(m: re.Match[str]) -> str:
        domain = host_network(m.group(0))
        return m.group(0) if domain == UNKNOWN_HOST else domain

    return _HOSTNAME.sub(sub, text)


#: A virtual host that is an address (and its port): ``[v6]:port``, ``v4:port``, a bare address.
_VHOST_ADDRESS = re.compile(r"^\[([0-9A-Fa-f:.]+)\](:[0-9]+)?$|^([0-9.]+)(:[0-9]+)$|^([0-9A-Fa-f:.]+)()$")


def vhosts(s: pl.Series, v4: int, v6: int) -> pl.Series:
    """Virtual hosts that are addresses → their network address (brackets and port kept)."""
    cand, fixed = [], []
    for v in s.drop_nulls().unique().to_list():
        m = _VHOST_ADDRESS.match(v)
        if m is None:
            continue
        addr, port = next((m[i], m[i + 1] or "") for i in (1, 3, 5) if m[i] is not None)
        if parse_ip(addr) is not None:
            masked = mask_address(addr, v4, v6)
            cand.append(v)
            fixed.append((f"[{masked}]" if v.startswith("[") else masked) + port)
    return replace_some(s, pl.Series(cand, dtype=pl.String), fixed)


def replace_some(s: pl.Series, values: pl.Series, replacements: list[str]) -> pl.Series:
    """``s`` with each of the distinct ``values`` replaced by its replacement, the rest as is."""
    if values.len() == 0:
        return s
    return replace_from(s, values, pl.Series(replacements, dtype=pl.String))


def per_distinct(s: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Apply ``fn`` to the distinct non-null values of ``s`` only, and map the results back."""
    uniq = distinct(s)
    if uniq.len() == 0:
        return s
    table = pl.DataFrame({"v": uniq, "r": fn(uniq)}).lazy()
    return join_back(s.to_frame("v").lazy(), table, "v").collect(engine=ENGINE).to_series().alias("r")


def free_text(s: pl.Series, v4: int, v6: int, versions: bool = False) -> pl.Series:
    """:func:`mask_free_text` over a column, Python only on values that may hold something."""
    cand = distinct(s, MAYBE_PERSONAL)
    return replace_some(s, cand, [mask_free_text(v, v4, v6, versions) for v in cand.to_list()])


def hostnames(s: pl.Series) -> pl.Series:
    """:func:`reduce_hostnames` over a column."""
    cand = distinct(s, _MAYBE_HOSTNAME)
    return replace_some(s, cand, [reduce_hostnames(v) for v in cand.to_list()])


def clf_users(lines: pl.Series) -> pl.Series:
    """The ident and user of a CLF-like line (``client ident user [time]``) → ``-``."""
    return lines.str.replace(_CLF_HEAD, "${1}${2} - - ${3}")


def mask_lines(lines: pl.Series, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS) -> pl.Series:
    """Whole lines of unknown shape (quarantined lines) with everything personal masked:
    addresses → ``<ip>``."""
    return hostnames(clf_users(redact(lines, sensitive, line=True)))


def mask_unknown(
    lines: pl.Series, v4: int, v6: int, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS
) -> pl.Series:
    """The same for ``logtool anonymize`` (lines that fit no layout), but addresses → their
    network address, as in the rest of its output."""
    out = redact(free_text(lines, v4, v6), sensitive, line=True, addresses=False)
    return hostnames(clf_users(out))
