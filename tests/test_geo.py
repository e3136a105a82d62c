"""Country lookup: a tiny database built in a fixture, the embedded default, every spelling."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import strategies as st

from logtool.config import Policy
from logtool.enrich.geo import GeoDB
from logtool.errors import ConfigError
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.net import parse_ip

from .conftest import EXAMPLES, NOW


@pytest.mark.parametrize(
    "ip,country",
    [
        ("203.0.113.9", "DE"),  # country.iso_code (GeoLite2 / DB-IP layout)
        ("198.51.100.1", "FR"),  # country_code (ip-location-db layout)
        ("2001:db8::1", "NL"),
        ("::ffff:203.0.113.9", "DE"),  # IPv4-mapped: looked up as the IPv4 it carries
        ("203.0.113.9:5555", "DE"),
        ("192.0.2.1", None),  # not in the database
    ],
)
def test_lookup(tiny_mmdb: Path, ip: str, country: str | None) -> None:
    assert GeoDB(tiny_mmdb).lookup(ip) == country


def test_ingest_uses_the_given_database(tiny_mmdb: Path, store, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(
        '203.0.113.9 - - [24/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
        '2001:db8::7 - - [24/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
        'dsl.example.net - - [24/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    )
    ingest(store, make_inputs([str(log)]), Policy(), NOW, geo=GeoDB(tiny_mmdb))
    assert store.read("raw").get_column("country").to_list() == ["DE", "NL", None]
    agg = store.read("aggregates").filter(dimension="country").sort("key")
    assert dict(zip(agg["key"], agg["requests"], strict=True)) == {"(unknown)": 1, "DE": 1, "NL": 1}


def test_embedded_database_is_shipped_and_works() -> None:
    geo = GeoDB()
    assert geo.path.endswith("iptoasn-country.mmdb")
    assert geo.lookup("8.8.8.8") == "US"  # fixed data file shipped in the package
    assert geo.lookup("::ffff:8.8.8.8") == "US"


def test_missing_database_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GeoIP database not found"):
        GeoDB(tmp_path / "nope.mmdb")
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(ConfigError, match="cannot open GeoIP database"):
        GeoDB(bad)


# The compiled walk of the search tree (GeoDB.country_series) against the reader's own lookup
# of each address, for every record size the format has and both tree kinds.


_PAD = "192.0.2.32/28"  # no address the strategies below draw (their octets skip 32..47)


def _mmdb(path: Path, version: int, record_size: int) -> Path:
    import mmdb_writer
    from netaddr import IPSet

    class Sized(mmdb_writer.TreeWriter):
        def _adjust_record_size(self) -> None:  # as the writer's, with the size chosen here
            self.record_size = record_size
            self.data_offset = self.record_size * 2 / 8 * self._node_counter

    class Writer(mmdb_writer.MMDBWriter):
        def to_db_file(self, filename: str) -> None:
            Sized(self.tree, self._build_meta(), self.int_type, self.float_type).write(filename)

    w = Writer(ip_version=version, database_type="logtool-test", ipv4_compatible=version == 6)
    if record_size > 24:  # 16 MiB of data first: the records after it pass 2**24, their top bits count
        w.insert_network(IPSet([_PAD]), {"pad": "x" * (1 << 24)})  # (too big for the reader to decode)
    w.insert_network(IPSet(["203.0.113.0/24", "192.0.2.128/25"]), {"country": {"iso_code": "DE"}})
    w.insert_network(IPSet(["198.51.100.0/24"]), {"country_code": "FR"})
    w.insert_network(IPSet(["198.51.100.64/26"]), {"country_code": "BE"})
    if version == 6:
        w.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "NL"}})
        w.insert_network(IPSet(["2001:db8:1::/48"]), {"country_code": "LU"})
        w.insert_network(IPSet(["2001:db8:2::/48"]), {"city": "nowhere"})  # a record without a country
    w.to_db_file(str(path))
    return path


_octet = st.sampled_from([0, 1, 2, 10, 64, 100, 113, 128, 192, 198, 203, 255])
_v4 = st.tuples(_octet, _octet, _octet, _octet).map(lambda o: ".".join(map(str, o)))
_v6 = st.tuples(st.sampled_from([0x2001, 0x64, 0, 0xFE80]), st.sampled_from([0xDB8, 0xFF9B, 0]),
                st.integers(0, 3), st.integers(0, 2**80 - 1)).map(
    lambda t: str(ipaddress.IPv6Address(t[0] << 112 | t[1] << 96 | t[2] << 80 | t[3])))  # fmt: skip
_spelling = st.one_of(
    _v4,
    _v6,
    _v4.map(lambda a: f"::ffff:{a}"),
    _v4.map(lambda a: f"{a}:8080"),
    _v4.map(lambda a: f"0{a}"),  # a leading zero: no canonical quad
    _v6.map(lambda a: f"[{a}]:443"),
    _v6.map(str.upper),
    st.sampled_from(["host.example.net", "", " 203.0.113.9", "::", "::1", "999.1.1.1", "1.2.3", "1:2"]),
    st.text("0123456789abcdef.:[]%", max_size=20),
)


@pytest.mark.parametrize("version,record_size", [(6, 24), (6, 28), (6, 32), (4, 24), (4, 28), (4, 32)])
def test_the_compiled_tree_walk_finds_what_the_reader_finds(tmp_path: Path, version: int, record_size: int) -> None:
    import polars as pl
    from hypothesis import given, settings

    from logtool import native

    geo = GeoDB(_mmdb(tmp_path / f"v{version}-{record_size}.mmdb", version, record_size))
    assert geo._tree is not None and geo._reader.metadata().record_size == record_size

    @settings(max_examples=60 * EXAMPLES, deadline=None)
    @given(ips=st.lists(_spelling, min_size=1, max_size=40, unique=True))
    def check(ips: list[str]) -> None:
        pad = ipaddress.ip_network(_PAD)
        ips = [ip for ip in ips if (a := parse_ip(ip)) is None or a.version == 6 or a not in pad]
        got = geo.country_series(pl.Series("ip", ips)).to_list()
        assert got == geo.countries(ips) == [geo.lookup(ip) for ip in ips]

    check()
    if native.AVAILABLE:  # the walk itself ran, and found the networks (not only the fallback)
        found = geo.country_series(pl.Series("ip", ["203.0.113.9", "198.51.100.70", "198.51.100.1"])).to_list()
        assert found == ["DE", "BE", "FR"]
        records = native.mmdb_records(pl.Series(["203.0.113.9", "host.example.net"]), *geo._tree)
        assert records is not None and records[0] > geo._reader.metadata().node_count and records[1] == -2
        assert record_size == 24 or records[0] >= 1 << 24


def test_the_embedded_database_gives_the_same_countries_by_either_path() -> None:
    import polars as pl

    geo = GeoDB()
    ips = [f"{a}.{b}.{c}.{d}" for a in (1, 8, 23, 41, 77, 101, 151, 185, 203, 223) for b in (0, 77, 200)
           for c in (3, 130) for d in (1, 254)]  # fmt: skip
    ips += [f"2a0{k}:{k}b8::1" for k in range(10)] + ["2001:4860::8888", "::ffff:8.8.8.8"]
    assert geo.country_series(pl.Series("ip", ips)).to_list() == geo.countries(ips)
    assert geo.country_series(pl.Series("ip", ["8.8.8.8"])).to_list() == ["US"]


def test_without_the_compiled_module_every_address_is_looked_up(tiny_mmdb: Path, monkeypatch) -> None:
    import polars as pl

    from logtool import native

    monkeypatch.setattr(native, "_native", None)
    ips = ["203.0.113.9", "2001:db8::1", "host.example.net", "::ffff:198.51.100.1"]
    assert GeoDB(tiny_mmdb).country_series(pl.Series("ip", ips)).to_list() == ["DE", "NL", None, "FR"]


def test_a_database_replaced_after_or_while_it_is_opened_answers_as_its_reader(tmp_path: Path, monkeypatch) -> None:
    """An updater renames a new database into place: the compiled walk reads the file the
    reader opened, or none (never the new tree with the old one's metadata)."""
    import os
    import shutil

    import maxminddb
    import polars as pl

    ips = ["203.0.113.9", "198.51.100.70", "198.51.100.1", "192.0.2.1", "2001:db8::1", "8.8.8.8"]
    newer = shutil.copy(GeoDB().path, tmp_path / "newer.mmdb")  # another tree: the embedded one
    path = _mmdb(tmp_path / "geo.mmdb", 6, 24)
    after = GeoDB(path)
    os.replace(shutil.copy(newer, tmp_path / "next.mmdb"), path)  # replaced after it was opened
    assert after._tree is not None
    assert after.country_series(pl.Series("ip", ips)).to_list() == after.countries(ips)

    real_open = maxminddb.open_database
    path = _mmdb(tmp_path / "geo2.mmdb", 4, 28)

    def open_then_replace(p: str, *args):
        reader = real_open(p, *args)
        os.replace(shutil.copy(newer, tmp_path / "next2.mmdb"), p)  # between the two opens
        return reader

    monkeypatch.setattr(maxminddb, "open_database", open_then_replace)
    during = GeoDB(path)
    assert during._tree is None  # not the file the reader has: every address goes to the reader
    assert during.country_series(pl.Series("ip", ips)).to_list() == during.countries(ips)


def test_made_up_tree_metadata_leaves_the_lookups_to_the_reader(tiny_mmdb: Path) -> None:
    """Metadata a damaged file made up (a node count past 32 bits, which the compiled call would
    wrap to a plausible one; an odd record size or IP version) is not walked."""
    import polars as pl

    from logtool import native

    db, nodes, size, version = GeoDB(tiny_mmdb)._tree
    ips = pl.Series(["203.0.113.9"])
    assert native.mmdb_records(ips, db, nodes, size, version) is not None or not native.AVAILABLE
    for bad in ((db, 2**64 + nodes, size, version), (db, -1, size, version), (db, 0, size, version),
                (db, nodes, 20, version), (db, nodes, size, 5)):  # fmt: skip
        assert native.mmdb_records(ips, *bad) is None
