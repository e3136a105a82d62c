"""IP truncation equals ipaddress semantics for every spelling, and fails closed."""

from __future__ import annotations

import ipaddress

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtool.net import UNKNOWN_HOST, networks, parse_ip

from .conftest import EXAMPLES

VECTORS = [
    ("192.168.100.200", 20, 48, "192.168.96.0/20"),
    ("9.8.130.6", 20, 48, "9.8.128.0/20"),
    ("192.168.10.23", 12, 48, "192.160.0.0/12"),
    ("2001:db8:85a3::8a2e:370:7334", 24, 44, "2001:db8:85a0::/44"),
    ("2a00:1450:400a:803::200e", 24, 44, "2a00:1450:4000::/44"),
    ("2404:6800:4003:c02::64", 24, 32, "2404:6800::/32"),
    ("2a03:2880:2110:df07:face:b00c::1", 24, 64, "2a03:2880:2110:df07::/64"),
    # spellings
    ("2001:DB8:0:0:0:0:0:1", 24, 48, "2001:db8::/48"),
    ("::ffff:192.0.2.44", 24, 48, "192.0.2.0/24"),
    ("64:ff9b::198.51.100.7", 24, 48, "198.51.100.0/24"),
    ("fe80::1%eth0", 24, 16, "fe80::/16"),
    ("203.0.113.9:51234", 24, 48, "203.0.113.0/24"),
    ("[2001:db8::1]:443", 24, 48, "2001:db8::/48"),
    ("2001:db8::1234:58430", 24, 48, "2001:db8::/48"),
]


@pytest.mark.parametrize("ip,v4,v6,expected", VECTORS)
def test_known_vectors(ip: str, v4: int, v6: int, expected: str) -> None:
    assert networks(pl.Series([ip]), v4, v6).to_list() == [expected]


@pytest.mark.parametrize(
    "name,expected",
    [
        ("dsl-42.pool.example.net", "example.net"),
        ("DIALUP-12.ISP.EXAMPLE.NET.", "example.net"),
        ("host-7.example.co.uk", "example.co.uk"),
        ("host-1.example.xn--0trq7p7nn.jp", "example.xn--0trq7p7nn.jp"),  # under a punycoded suffix
        ("www.EXAMPLE.xn--11b4c3d.", "example.xn--11b4c3d"),  # a punycoded top-level domain
        ("example.net", "example.net"),  # already a registrable domain: unchanged
        ("localhost", UNKNOWN_HOST),  # bare
        ("web1.intranet", UNKNOWN_HOST),  # unknown suffix
        ("co.uk", UNKNOWN_HOST),  # a public suffix names nobody in particular, but is no domain
        ("unknown", UNKNOWN_HOST),
        ("01.2.3.4", UNKNOWN_HOST),  # not an address, not a name under a known suffix
        ("256.1.1.1", UNKNOWN_HOST),
        ("1.2.3", UNKNOWN_HOST),
        ("::gg", UNKNOWN_HOST),
        ("-x-", UNKNOWN_HOST),
        (UNKNOWN_HOST, UNKNOWN_HOST),
    ],
)
def test_names_become_their_registrable_domain_or_one_placeholder(name: str, expected: str) -> None:
    (out,) = networks(pl.Series([name]), 24, 48).to_list()
    assert out == expected
    assert networks(pl.Series([out]), 24, 48).to_list() == [out]  # idempotent


def test_the_list_without_punycoded_rules_answers_every_other_name_the_same() -> None:
    # host_network reads the punycoded rules only for a name with an "xn--" label: the rules
    # it leaves out for the others must all have one (else some name would be answered wrongly)
    from logtool.net import _psl

    left_out = _psl(True)._publicsuffix - _psl(False)._publicsuffix
    assert left_out and all("xn--" in rule for rule in left_out)
    assert _psl(False)._publicsuffix <= _psl(True)._publicsuffix


def test_nulls_stay_null_and_order_is_kept() -> None:
    s = pl.Series(["203.0.113.9", None, "2001:db8::1", "203.0.113.9"])
    assert networks(s, 24, 48).to_list() == ["203.0.113.0/24", None, "2001:db8::/48", "203.0.113.0/24"]


v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


def spellings_v6(a: ipaddress.IPv6Address) -> st.SearchStrategy[str]:
    return st.sampled_from([str(a), a.exploded, a.exploded.upper(), str(a).upper(), f"[{a}]:443"])


@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(addr=v4, prefix=st.integers(0, 32))
def test_ipv4_truncation_equals_ipaddress(addr: ipaddress.IPv4Address, prefix: int) -> None:
    expected = str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
    assert networks(pl.Series([str(addr)]), prefix, 48).to_list() == [expected]
    assert networks(pl.Series([f"{addr}:8080"]), prefix, 48).to_list() == [expected]
    assert networks(pl.Series([f"::ffff:{addr}"]), prefix, 48).to_list() == [expected]


@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(data=st.data(), addr=v6, prefix=st.integers(0, 128))
def test_ipv6_truncation_equals_ipaddress(data: st.DataObject, addr: ipaddress.IPv6Address, prefix: int) -> None:
    carried = parse_ip(str(addr))
    if carried is not None and carried.version == 4:  # IPv4-mapped / NAT64: masked as IPv4
        return
    spelled = data.draw(spellings_v6(addr))
    expected = str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
    assert networks(pl.Series([spelled]), 24, prefix).to_list() == [expected]


_CLIENT_CHARS = "0123456789abcdefABCDEFxyz.:[]%-_ \t"
client_texts = st.one_of(
    st.text(_CLIENT_CHARS, max_size=24),
    v6.map(str),
    v4.map(lambda a: f" {a}"),  # padding: parse_ip strips it
    st.from_regex(r"\A(?:[a-z0-9-]{1,8}\.){1,3}(?:example\.(?:com|net|co\.uk)|xn--0trq7p7nn\.jp)\Z"),
)


@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(text=client_texts, v4_prefix=st.sampled_from([8, 16, 24, 20]), v6_prefix=st.sampled_from([32, 48, 56, 64]))
def test_one_client_is_truncated_as_the_careful_path_does(text: str, v4_prefix: int, v6_prefix: int) -> None:
    # truncate_one skips parse_ip for what cannot be an address and takes inet_pton's path for
    # plain IPv6: both shortcuts must give what parsing every value carefully gives
    from logtool.net import host_network, network_text, truncate_one

    addr = parse_ip(text)
    careful = host_network(text) if addr is None else network_text(addr, v4_prefix, v6_prefix)
    assert truncate_one(text, v4_prefix, v6_prefix) == careful


_v6_texts = st.one_of(
    v6.map(str),
    v6.map(lambda a: a.exploded.upper()),
    st.integers(0, 2**48 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),  # inside ::/80
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv6Address(0x64FF9B << 96 | n))),  # NAT64
    v4.map(lambda a: f"::ffff:{a}"),
    st.text("0123456789abcdefABCDEF:.%[]x\x00 ", max_size=45),
)


@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(texts=st.lists(_v6_texts, min_size=1, max_size=30), prefix=st.integers(0, 128))
def test_compiled_ipv6_networks_equal_the_python_fast_path(texts: list[str], prefix: int) -> None:
    from logtool import native
    from logtool.net import fast_v6_network

    got = native.v6_networks(pl.Series(texts, dtype=pl.String), prefix)
    if got is None:  # built without the compiled module
        return
    expected = [None if (f := fast_v6_network(t, prefix)) is None else f"{f}/{prefix}" for t in texts]
    assert got.to_list() == expected


_plain_texts = st.one_of(
    client_texts,
    _v6_texts,
    v4.map(str),
    v4.map(lambda a: ".".join(f"0{p}" for p in str(a).split("."))),  # leading zeros: not an address
    v4.map(lambda a: f"{a}:8080"),
    v6.map(lambda a: f"{a}/64"),
    st.text("0123456789./:", max_size=20),
)


@settings(max_examples=300 * EXAMPLES, deadline=None)
@given(text=_plain_texts)
def test_a_plain_address_reads_as_parse_ip_and_ipaddress_read_it(text: str) -> None:
    # plain_address lets the crawler check parse a client once: what it returns must be what
    # parse_ip returns and what ipaddress's network of the text holds as its one address
    from logtool.net import plain_address

    got = plain_address(text)
    if got is None:
        return
    assert parse_ip(text) == got
    net = ipaddress.ip_network(text, strict=False)
    assert net.num_addresses == 1 and net.network_address == got


def test_plain_address_takes_plain_spellings_only() -> None:
    from logtool.net import plain_address

    assert plain_address("192.0.2.1") == ipaddress.IPv4Address("192.0.2.1")
    assert plain_address("2001:DB8::1") == ipaddress.IPv6Address("2001:db8::1")
    for text in ("192.0.2.01", " 192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "::ffff:192.0.2.1",
                 "::ffff:c000:201", "64:ff9b::c000:201", "fe80::1%eth0", "2001:db8::/64", "host.example.com"):  # fmt: skip
        assert plain_address(text) is None, text
