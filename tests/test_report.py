"""The report model: the numbers behind every panel (golden file and sums of a hand-written log),
per-vhost aggregates, comparisons, the compliance state, and stores written before vhosts.

Regenerate the golden file after an intended change with ``UPDATE_GOLDEN=1 pytest
tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from logtool.config import Policy
from logtool.governance import holds, subjects
from logtool.inputs import make_inputs
from logtool.jobs.nightly import nightly
from logtool.lifecycle import aggregate
from logtool.lifecycle.ingest import ingest
from logtool.report import SECTIONS, build
from logtool.store import Store
from logtool.store.files import file_sha256

from .conftest import NOW

GOLDEN = Path(__file__).parent / "cases" / "report" / "site.json"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
SQLMAP = "sqlmap/1.8.3#stable (https://sqlmap.org)"
WWW, SHOP = "www.example.org", "shop.example.org"

#: The site's traffic, spelled out: (day of November 2026, vhost, client, path, status, referrer,
#: user agent, how many requests). Every number the tests expect follows from this table.
SITE = [
    (10, WWW, "203.0.113.10", "/", 200, "https://www.google.com/search?q=x", CHROME, 8),
    (10, WWW, "203.0.113.11", "/pricing", 200, "-", FIREFOX, 6),
    (10, WWW, "198.51.100.20", "/missing-page", 404, "-", CHROME, 5),
    (10, WWW, "198.51.100.21", "/old", 404, "-", CHROME, 1),
    (10, WWW, "203.0.113.12", "/api/fail", 500, "-", CHROME, 2),
    (10, SHOP, "2001:db8::1", "/cart", 200, "https://shop.example.org/", FIREFOX, 7),
    (10, SHOP, "2001:db8::2", "/products/widget?id=42%27%20OR%201=1--", 500, "-", SQLMAP, 3),
    (10, SHOP, "192.0.2.50", "/robots.txt", 200, "-", AHREFS, 5),
    (11, WWW, "203.0.113.10", "/", 200, "https://www.google.com/", CHROME, 10),
    (11, WWW, "203.0.113.13", "/../../etc/passwd", 400, "-", CHROME, 2),
    (11, SHOP, "2001:db8::1", "/cart", 200, "-", FIREFOX, 4),
    (11, SHOP, "198.51.100.30", "/missing-page", 404, "-", FIREFOX, 3),
]
ATTACK_LINES = 3 + 2  # sqlmap (SQL injection and a scanner agent: counted once) and the traversal


def site_logs(folder: Path) -> list[Path]:
    """The site's traffic as vhost_combined logs, one file per day."""
    folder.mkdir(parents=True, exist_ok=True)
    per_day: dict[int, list[str]] = {}
    for i, (day, vhost, client, path, status, ref, ua, n) in enumerate(SITE):
        for j in range(n):
            t = datetime(2026, 11, day, 8 + i % 12, j, 7, tzinfo=UTC)
            per_day.setdefault(day, []).append(
                f'{vhost}:443 {client} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" {status} '
                f'{100 * (j + 1)} "{ref}" "{ua}"'
            )
    out = []
    for day, lines in sorted(per_day.items()):
        p = folder / f"access.log-202611{day}"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append(p)
    return out


@pytest.fixture
def site(store: Store, tmp_path: Path) -> Store:
    """The site ingested by the nightly job as of ``NOW`` (so both days leave the raw stage),
    with a hold on day 11's 203.0.113.0/24 and one restricted subject."""
    holds.create(store, "INC-9", "traversal from 203.0.113.13", datetime(2026, 11, 11, tzinfo=UTC), NOW,
                 end=datetime(2026, 11, 12, tzinfo=UTC), networks=["203.0.113.0/24"])  # fmt: skip
    subjects.restrict(store, "198.51.100.30", NOW)
    nightly(store, make_inputs([str(p) for p in site_logs(tmp_path / "logs")]), Policy(), NOW)
    return store


def requests_where(**match: object) -> int:
    keys = ("day", "vhost", "client", "path", "status", "ref", "ua")
    return sum(row[-1] for row in SITE if all(dict(zip(keys, row, strict=False))[k] == v for k, v in match.items()))


def test_the_numbers_behind_every_panel_match_the_golden_file(site: Store) -> None:
    got = build(site, Policy(), "2026-11-11", "2026-11-11", compare="previous", now=NOW).to_dict()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_the_numbers_follow_from_the_traffic(site: Store) -> None:
    rep = build(site, Policy(), now=NOW)
    assert [(d["date"], d["requests"]) for d in rep.days] == [
        ("2026-11-10", requests_where(day=10)),
        ("2026-11-11", requests_where(day=11)),
    ]
    kpi = {k.key: k.value for k in rep.kpis}
    total = len([1 for r in SITE for _ in range(r[-1])])
    assert kpi["requests"] == rep.requests == total == 56
    assert kpi["error_rate"] == pytest.approx((requests_where(status=500)) / total)
    assert kpi["attack_requests"] == ATTACK_LINES
    assert kpi["bot_share"] == pytest.approx((requests_where(ua=AHREFS) + requests_where(ua=SQLMAP)) / total)
    # one visitor per (client, user agent, vhost) and day, exact after the days left the raw stage
    visitors = Counter(day for day, v, c, *_ in {(r[0], r[1], r[2], r[6]) for r in SITE})
    assert [d["visitors"] for d in rep.days] == [visitors[10], visitors[11]]
    assert kpi["visitors"] == sum(visitors.values())
    classes = {r["key"]: r["requests"] for r in rep.sections["status_class"]}
    assert classes == {"2xx": requests_where(status=200), "4xx": 5 + 1 + 2 + 3, "5xx": requests_where(status=500)}
    per_day = {(r["date"], r["key"]): r["requests"] for r in rep.series["status_class"]}
    assert per_day[("2026-11-11", "4xx")] == 2 + 3
    # not-found paths: /old (1 request) is under min_group_size and folded into (other)
    assert {r["key"]: r["requests"] for r in rep.sections["not_found"]} == {"/missing-page": 8, "(other)": 1}
    assert rep.folded["not_found"] == 1 and rep.compliance is not None and rep.compliance.folded == rep.folded
    assert {r["key"] for r in rep.sections["attack"]} >= {"sqli", "scanner", "traversal"}
    assert {r["key"]: r["requests"] for r in rep.vhosts} == {WWW: requests_where(vhost=WWW),
                                                             SHOP: requests_where(vhost=SHOP)}  # fmt: skip


def test_one_vhost(site: Store) -> None:
    both = build(site, Policy())
    shop = build(site, Policy(), vhost="SHOP.example.org")  # any case
    www = build(site, Policy(), vhost=WWW)
    assert shop.requests == requests_where(vhost=SHOP) and www.requests == requests_where(vhost=WWW)
    assert shop.kpi("attack_requests").value == 3 and www.kpi("attack_requests").value == 2
    for a, b, c in zip(shop.days, www.days, both.days, strict=True):
        assert a["requests"] + b["requests"] == c["requests"]
        assert a["visitors"] + b["visitors"] == c["visitors"]
    # /products/widget (3 requests) is under min_group_size: folded
    assert [r["key"] for r in shop.sections["path"]] == ["/cart", "/robots.txt", "(other)"]
    assert shop.sections["findings"] == [] and any("across all vhosts" in n for n in shop.notes)
    none = build(site, Policy(), vhost="nowhere.example.net")
    assert none.requests == 0 and none.notes == ["No aggregates for vhost 'nowhere.example.net' in this period."]


def test_compare_with_the_previous_period(site: Store) -> None:
    rep = build(site, Policy(), "2026-11-11", "2026-11-11", compare="previous")
    assert rep.previous == {"from": "2026-11-10", "to": "2026-11-10"}
    req = rep.kpi("requests")
    assert (req.value, req.previous) == (requests_where(day=11), requests_where(day=10))
    assert req.change == pytest.approx((19 - 37) / 37)
    err = rep.kpi("error_rate")
    assert err.change == pytest.approx(0 - 5 / 37)  # in points: no 5xx on the 11th
    first = build(site, Policy(), "2026-11-10", "2026-11-10", compare="previous")
    assert first.kpi("requests").previous is None and "nothing to compare with" in first.notes[0]


def test_compliance_state(site: Store) -> None:
    c = build(site, Policy(), now=NOW).compliance
    assert c is not None
    assert [d["stage"] for d in c.timeline] == ["anonymised", "raw + anonymised"]  # INC-9 keeps rows raw
    assert c.day_counts == {"raw": 0, "raw + anonymised": 1, "anonymised": 1, "deleted": 0}
    assert c.overdue_rows == {"raw": 0, "anonymised": 0, "quarantine": 0}
    assert [(h["id"], h["reason"], h["networks"]) for h in c.holds] == [("INC-9", "traversal from <ip>", 1)]
    assert c.restricted_subjects == 1
    assert c.last_verify is not None and c.last_verify["ok"] and c.last_verify["at"] == NOW.isoformat()
    assert c.audit["ok"] and c.audit["entries"] > 3 and c.ok
    later = NOW + timedelta(days=100)  # past the anonymised window: rows overdue, and the hold has lapsed
    late = build(site, Policy(), now=later).compliance
    assert late is not None and late.overdue_rows["anonymised"] > 0 and late.holds == [] and not late.ok
    site.catalog.db.execute("UPDATE audit SET action = 'edited' WHERE id = 2")  # tamper with the trail
    broken = build(site, Policy(), now=NOW).compliance
    assert broken is not None and not broken.audit["ok"] and "entry 2" in broken.audit["problem"]


def test_a_store_written_before_vhosts_still_reports(store: Store, tmp_path: Path) -> None:
    """Aggregates partitions without the vhost column count for all vhosts."""
    ingest(store, make_inputs([str(p) for p in site_logs(tmp_path / "logs")]), Policy(), NOW)
    new = build(store, Policy())
    for p in store.parts("aggregates"):  # rewrite each partition as it was written before vhosts
        path = store.root / p.path
        pl.read_parquet(path).drop("vhost").write_parquet(path)
        store.catalog.db.execute("UPDATE partitions SET sha256 = ?, size = ? WHERE path = ?",
                                 (file_sha256(path), path.stat().st_size, p.path))  # fmt: skip
    store.catalog.db.commit()
    assert all("vhost" not in pl.read_parquet(store.root / p.path).columns for p in store.parts("aggregates"))
    assert build(store, Policy()).to_dict() == {**new.to_dict(), "vhosts": []}
    # a new file for a day of the old layout: both read together
    extra = tmp_path / "late.log"
    extra.write_text(f'{WWW}:443 203.0.113.99 - - [10/Nov/2026:23:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "{CHROME}"\n')
    ingest(store, make_inputs([str(extra)]), Policy(), NOW)
    rep = build(store, Policy())
    assert rep.requests == new.requests + 1
    assert rep.sections["path"] == build(store, Policy()).sections["path"]
    assert build(store, Policy(), vhost=WWW).requests == 1  # only the late file knows its vhost


def test_scanners_cannot_flood_the_aggregates_with_vhosts(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "hosts.log"
    lines = [f'h{i}.example.net:80 203.0.113.{i % 250 + 1} - - [10/Nov/2026:10:00:{i % 60:02d} +0000] "GET / HTTP/1.1" '
             f'404 0 "-" "curl/8"' for i in range(aggregate.TOP_VHOSTS + 30)]  # fmt: skip
    lines += [f'{WWW}:443 203.0.113.7 - - [10/Nov/2026:11:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8"'] * 5
    log.write_text("\n".join(lines) + "\n")
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    agg = store.read("aggregates").filter(pl.col("dimension") == "total")
    assert agg.get_column("vhost").n_unique() == aggregate.TOP_VHOSTS + 1  # the busiest, and (other)
    assert agg.filter(pl.col("vhost") == WWW).get_column("requests").sum() == 5
    assert agg.get_column("requests").sum() == len(lines)


def test_sections_cover_every_dimension() -> None:
    reported = set(SECTIONS) | {"total", aggregate.VISITORS, aggregate.ATTACKED}
    assert set(aggregate.DIMENSIONS) | {aggregate.ATTACKS, aggregate.FINDINGS} <= reported


def test_an_empty_period(store: Store) -> None:
    rep = build(store, replace(Policy(), min_group_size=3), "2026-01-01", "2026-01-31", now=NOW)
    assert rep.days == [] and rep.requests == 0 and rep.compliance is not None
    assert rep.compliance.timeline == [] and rep.compliance.last_verify is None and not rep.compliance.ok
    assert date.fromisoformat(rep.date_from or "") == date(2026, 1, 1)
