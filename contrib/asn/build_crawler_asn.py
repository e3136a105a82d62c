"""Build logtool/data/crawler-asn.mmdb: the networks of the crawler operators' autonomous systems.

Input: the CSV files of the npm package ``@ip-location-db/asn`` (RouteViews + DB-IP ASN Lite,
CC-BY-4.0): ``asn-ipv4.csv`` and ``asn-ipv6.csv`` (``first,last,asn,organisation``). Only the
ASNs named by ``[fake_bot.*] asns`` in logtool/detect/rules.toml are kept, so the file stays
small; point ``[crawlers] asn_db`` at a full ASN database (GeoLite2-ASN, DB-IP) for others.

    npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz
    python contrib/asn/build_crawler_asn.py package/ logtool/data/crawler-asn.mmdb

Needs the dev extra (``mmdb-writer``).
"""

from __future__ import annotations

import csv
import ipaddress
import sys
import tomllib
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

RULES = Path(__file__).resolve().parents[2] / "logtool" / "detect" / "rules.toml"


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    rules = tomllib.loads(RULES.read_text())
    wanted = {int(a) for bot in rules["fake_bot"].values() for a in bot.get("asns", [])}
    nets: dict[int, list[str]] = {a: [] for a in wanted}
    orgs: dict[int, str] = {}
    for name in ("asn-ipv4.csv", "asn-ipv6.csv"):
        with open(src / name, encoding="utf-8", newline="") as f:
            for first, last, asn, org in csv.reader(f):
                if int(asn) not in wanted:
                    continue
                lo, hi = ipaddress.ip_address(first), ipaddress.ip_address(last)
                nets[int(asn)] += [str(n) for n in ipaddress.summarize_address_range(lo, hi)]
                orgs[int(asn)] = org
    w = MMDBWriter(ip_version=6, database_type="logtool-crawler-asn", ipv4_compatible=True,
                   description={"en": "crawler operators' networks from @ip-location-db/asn (CC-BY-4.0)"})  # fmt: skip
    for asn, cidrs in sorted(nets.items()):
        if cidrs:
            w.insert_network(IPSet(cidrs), {"autonomous_system_number": asn,
                                            "autonomous_system_organization": orgs[asn]})  # fmt: skip
    w.to_db_file(str(out))
    print(f"{out}: {sum(map(len, nets.values()))} networks of {sum(1 for v in nets.values() if v)} ASNs")


if __name__ == "__main__":
    main()
