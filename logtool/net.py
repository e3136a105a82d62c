"""IP address parsing and truncation to a network, fail closed.

Truncation equals ``ipaddress.ip_network(f"{ip}/{prefix}", strict=False)``. Work is done once
per unique address of a batch: plain dotted IPv4 (the common case) in a polars expression,
everything else (IPv6, ports, brackets, zone ids, IPv4-mapped) in Python.

A hostname client (``HostnameLookups On``) is truncated the way an address is: to its
registrable domain (``dialup-12.isp.example.net`` → ``example.net``, by the Public Suffix List
that ``publicsuffixlist`` ships; nothing is downloaded). Anything else — a bare or unknown name,
junk — becomes the one shared placeholder :data:`UNKNOWN_HOST`. Nothing is passed through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from logtool import native

if TYPE_CHECKING:  # the vectorised functions load polars: single addresses (holds, status) do not
    import polars as pl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$")
_BRACKET = re.compile(r"^\[([^\]]+)\](?::\d{1,5})?$")
_V6_PORT = re.compile(r"^([0-9A-Fa-f:]+:[0-9A-Fa-f]{0,4}):(\d{5})$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

V4_RX = r"^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"


def parse_ip(text: str | None) -> IPAddress | None:
    """Read an address in any common log spelling; ``None`` if it is not one.

    Handles brackets and ports (``[2001:db8::1]:443``, ``1.2.3.4:5678``, load balancers'
    ``2001:db8::1:58430``), zone ids (``fe80::1%eth0``), IPv4-mapped (``::ffff:1.2.3.4``) and
    NAT64 (``64:ff9b::1.2.3.4``) addresses, which are returned as the IPv4 they carry.
    """
    if not text:
        return None
    t = text.strip()
    if (m := _BRACKET.match(t)) or (m := _V4_PORT.match(t)):
        t = m.group(1)
    t = t.split("%", 1)[0]
    try:  # choose the family up front: a failed IPv4 attempt per IPv6 address is costly
        addr = ipaddress.IPv6Address(t) if ":" in t else ipaddress.IPv4Address(t)
    except ValueError:
        m = _V6_PORT.match(t)
        if not m:
            return None
        try:
            addr = ipaddress.ip_address(m.group(1))
        except ValueError:
            return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr in _NAT64:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr


_PLAIN_V4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")


def plain_address(text: str) -> IPAddress | None:
    """An address written plainly (dotted IPv4; IPv6 without brackets, port, zone, embedded
    IPv4, or an IPv4-mapped or NAT64 address), parsed; None for every other text, which only
    :func:`parse_ip` and :mod:`ipaddress`'s networks can judge. What it returns, :func:`parse_ip`
    and ``ipaddress.ip_network(text)`` (as its one address) read alike."""
    try:
        if _PLAIN_V4.fullmatch(text):
            return ipaddress.IPv4Address(text)
        if ":" not in text or "." in text or "%" in text or "[" in text or "/" in text:
            return None
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return addr if addr.ipv4_mapped is None and addr not in _NAT64 else None


def surely_no_address(text: str) -> bool:
    """Text :func:`parse_ip` cannot read (no colon, no bracket, no digit first: a name), told
    without its failed attempts (~2.4 µs a name)."""
    return ":" not in text and "[" not in text and not text.strip()[:1].isdigit()


def fast_v6_network(text: str, prefix: int) -> str | None:
    """Network address of a plain IPv6 text, in C (``inet_pton``/``inet_ntop``), or ``None``
    when the slow path must decide (ports, zones, brackets, embedded IPv4, the ``::/80`` range
    where ``inet_ntop`` and :mod:`ipaddress` spell addresses differently, NAT64)."""
    if "." in text or "%" in text or "[" in text:
        return None
    try:
        n = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):  # ValueError: embedded NUL
        return None
    if n >> 48 == 0 or n >> 32 == 0x0064FF9B << 64:
        return None
    host = 128 - prefix
    m = n >> host << host
    if m >> 48 == 0:
        return None
    return socket.inet_ntop(socket.AF_INET6, m.to_bytes(16, "big"))


#: What a client that is neither an address nor a name under a known public suffix becomes.
UNKNOWN_HOST = "unknown.invalid"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{1,63}$")


@lru_cache(maxsize=2)
def _psl(punycode: bool = False):  # type: ignore[no-untyped-def]
    """The public suffix list, read once per process. Its punycoded rules (every rule with a
    non-ASCII label, again as ``xn--``) are needed only for a name with an ``xn--`` label, and
    encoding them is two thirds of reading the list (~18 of 27 ms, holding the GIL in a file's
    first batch): a name without one gets the list without them, which answers it the same."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(accept_unknown=False, accept_encoded_idn=punycode)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def inside_any(text: str, nets: list[Network]) -> bool:
    """Is an address (any spelling :func:`parse_ip` reads) or a network inside one of ``nets``?"""
    try:
        value = ipaddress.ip_network(text, strict=False)
    except ValueError:
        addr = parse_ip(text)
        if addr is None:
            return False
        value = ipaddress.ip_network(addr)
    return any(value.version == n.version and value.subnet_of(n) for n in nets)  # type: ignore[arg-type]


def host_network(text: str) -> str:
    """A hostname's counterpart of a truncated network: its registrable domain (public suffix
    plus one label), or :data:`UNKNOWN_HOST` for a bare, unknown or malformed name."""
    name = text.strip().lower().rstrip(".")
    if not _HOSTNAME.match(name):
        return UNKNOWN_HOST
    return _psl("xn--" in name).privatesuffix(name) or UNKNOWN_HOST


def is_host_network(value: str) -> bool:
    """Is ``value`` what :func:`host_network` makes of a name (so no finer than allowed)?"""
    return value == UNKNOWN_HOST or host_network(value) == value


def network_text(addr: IPAddress, v4_prefix: int, v6_prefix: int) -> str:
    """``addr`` truncated to its family's prefix, as ``network/prefix`` (integer masking)."""
    if addr.version == 4:
        host = 32 - v4_prefix
        return f"{ipaddress.IPv4Address(int(addr) >> host << host)}/{v4_prefix}"
    host = 128 - v6_prefix
    return f"{ipaddress.IPv6Address(int(addr) >> host << host)}/{v6_prefix}"


@lru_cache(maxsize=8192)  # the callers' tables of distinct values are the caches across batches
def truncate_one(text: str, v4_prefix: int, v6_prefix: int) -> str:
    """The network of one address as ``addr/prefix`` text, or a name's :func:`host_network`."""
    if surely_no_address(text):
        return host_network(text)
    if (fast := fast_v6_network(text, v6_prefix)) is not None:
        return f"{fast}/{v6_prefix}"
    addr = parse_ip(text)
    if addr is None:
        return host_network(text)
    return network_text(addr, v4_prefix, v6_prefix)


def v4_network_expr(e: pl.Expr, prefix: int, suffix: bool = True) -> pl.Expr:
    """Vectorised truncation of canonical dotted quads (matched by :data:`V4_RX`: other values
    come out as garbage, so callers pick the quads), as ``network/prefix`` (``suffix``) or the
    bare network address.

    Prefixes on an octet boundary (the usual /8, /16, /24, /32) drop trailing octets as text,
    which is exact for canonical quads and several times faster; any other prefix is computed
    by integer arithmetic (polars has no shift operators)."""
    import polars as pl

    tail = f"/{prefix}" if suffix else ""
    if prefix % 8 == 0:
        keep = prefix // 8
        if keep == 0:
            return pl.when(e.is_not_null()).then(pl.lit(f"0.0.0.0{tail}"))
        # the last octets (a replacement without a capture group: twice as fast)
        return e.str.replace(rf"(?:\.[0-9]+){{{4 - keep}}}$", ".0" * (4 - keep) + tail) if keep < 4 else e + tail
    block = 2 ** (32 - prefix)
    o = [e.str.split_exact(".", 3).struct.field(f"field_{i}").cast(pl.Int64, strict=False) for i in range(4)]
    n = o[0] * 16_777_216 + o[1] * 65_536 + o[2] * 256 + o[3]
    m = (n // block) * block
    parts = [m // 16_777_216, m // 65_536 % 256, m // 256 % 256, m % 256]
    return pl.concat_str([pl.concat_str([p.cast(pl.String) for p in parts], separator="."), pl.lit(tail)])


def _v4_networks(s: pl.Series, prefix: int, suffix: bool = True) -> pl.Series:
    """:func:`v4_network_expr` over a Series of canonical dotted quads."""
    import polars as pl

    return s.to_frame("v").select(v4_network_expr(pl.first(), prefix, suffix)).to_series().alias(s.name)


def mask_distinct(
    uniq: pl.Series, v4_prefix: int, rest: Callable[[pl.Series], pl.Series], suffix: bool = True
) -> pl.DataFrame:
    """Distinct address-like values → columns ``v`` and ``m`` (masked): canonical IPv4 quads
    vectorised, everything else (IPv6, ports, brackets, hostnames) through ``rest``. The one
    place where ingest, retention and ``anonymize`` split the fast and the careful path."""
    import polars as pl

    uniq = uniq.rename("v")
    is_v4 = uniq.str.contains(V4_RX)
    fast, slow = uniq.filter(is_v4), uniq.filter(~is_v4)
    parts = [pl.DataFrame({"v": fast, "m": _v4_networks(fast, v4_prefix, suffix)})]
    if slow.len():
        parts.append(pl.DataFrame({"v": slow, "m": rest(slow).cast(pl.String)}))
    return pl.concat(parts)


def network_table(ips: pl.Series, v4_prefix: int, v6_prefix: int) -> pl.DataFrame:
    """Map each unique non-null value of ``ips`` to its network: columns ``ip``, ``net``."""
    import polars as pl

    def careful(slow: pl.Series) -> pl.Series:  # plain IPv6 in C, the rest one by one
        def each(s: pl.Series) -> pl.Series:
            return pl.Series([truncate_one(x, v4_prefix, v6_prefix) for x in s.to_list()], dtype=pl.String)

        if (fast := native.v6_networks(slow, v6_prefix)) is None:
            return each(slow)
        rest = fast.is_null().arg_true()
        return fast.scatter(rest, each(slow.gather(rest))) if rest.len() else fast

    table = mask_distinct(ips.drop_nulls().unique(), v4_prefix, careful)
    return table.rename({"v": "ip", "m": "net"})


def networks(ips: pl.Series, v4_prefix: int, v6_prefix: int) -> pl.Series:
    """Truncate every value of ``ips`` (nulls stay null); same length and order."""
    import polars as pl

    table = network_table(ips, v4_prefix, v6_prefix)
    return pl.DataFrame({"ip": ips}).join(table, on="ip", how="left", maintain_order="left").get_column("net")
