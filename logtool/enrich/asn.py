"""Autonomous-system numbers from a MaxMind-format database, looked up once per distinct address.

The embedded default, ``logtool/data/crawler-asn.mmdb``, holds only the networks of the crawler
operators named in the review rules (Google, Microsoft, Apple, Yandex …), from the RouteViews +
DB-IP ASN data of the npm package ``@ip-location-db/asn`` (CC-BY-4.0; see
``logtool/data/README.md``). GeoLite2-ASN and DB-IP ASN files work too
(``autonomous_system_number``). Used by the review to tell a real crawler from a fake one; the
number is never stored.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from importlib import resources
from pathlib import Path

import maxminddb

from logtool.errors import ConfigError
from logtool.net import parse_ip

EMBEDDED_ASN_DB = "crawler-asn.mmdb"


class AsnDB:
    """An open ASN database."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path) if path else str(resources.files("logtool.data").joinpath(EMBEDDED_ASN_DB))
        try:
            self._reader = maxminddb.open_database(self.path)
        except FileNotFoundError:
            raise ConfigError(f"ASN database not found: {self.path}") from None
        except (OSError, maxminddb.InvalidDatabaseError, ValueError) as e:
            raise ConfigError(f"cannot open ASN database {self.path}: {e}") from None

    def lookup(self, value: str) -> int | None:
        """The ASN of an address (any spelling :func:`parse_ip` reads) or of a network's first
        address (anonymised rows name networks)."""
        addr = parse_ip(value)
        if addr is None:
            try:
                addr = ipaddress.ip_network(value, strict=False).network_address
            except ValueError:
                return None
        return self.lookup_address(addr)

    def lookup_address(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int | None:
        """The ASN of a parsed address."""
        try:
            rec = self._reader.get(addr)
        except ValueError:
            return None
        if isinstance(rec, dict) and isinstance(rec.get("autonomous_system_number"), int):
            return rec["autonomous_system_number"]
        return None

    def close(self) -> None:
        self._reader.close()


@lru_cache(maxsize=4)
def open_asn_db(path: str = "") -> AsnDB:
    """The database at ``path`` (the embedded one when empty), opened once per process."""
    return AsnDB(path or None)
