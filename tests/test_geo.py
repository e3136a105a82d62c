"""Country lookup: a tiny database built in a fixture, the embedded default, every spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from logtool.config import Policy
from logtool.enrich.geo import GeoDB
from logtool.errors import ConfigError
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest

from .conftest import NOW


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
