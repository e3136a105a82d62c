"""``logtool review`` for a reviewer (issue 14): probes the public HTTP suites expect, output that
fits a terminal and says where it matched, an exact hold suggestion, allow-lists, the quarantine,
crawlers judged by ASN, and days and shards reviewed piece by piece with the same result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.detect.rules import load_rules
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.review import review, review_store, run_review
from logtool.store import Store

from .conftest import NOW

CASES = Path(__file__).parent / "cases" / "review"


def load(store: Store, tmp_path: Path, lines: list[str], name: str = "a.log") -> Store:
    log = tmp_path / name
    log.write_text("\n".join(lines) + "\n")
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    return store


def line(ip: str, ts: str, req: str, status: int = 200, ua: str = "Mozilla/5.0", ref: str = "-") -> str:
    return f'{ip} - - [{ts} +0000] "{req}" {status} 10 "{ref}" "{ua}"'


def test_probes_the_public_suites_expect(store: Store, tmp_path: Path) -> None:
    """Derived from fail2ban's and CrowdSec's access-log tests (documentation addresses): each
    client of ``probes.txt`` sent one kind of probe, ``probes.expected`` names its category."""
    expected = dict(r.split("\t") for r in (CASES / "probes.expected").read_text().splitlines() if r and r[0] != "#")
    load(store, tmp_path, (CASES / "probes.txt").read_text().splitlines())
    rules = load_rules()
    rules["clients"]["ipv6_prefix"] = 64
    found = review(store, Policy(), NOW, hold_id=None)
    by_net: dict[str, set[str]] = {}
    for f in found:
        by_net.setdefault(f.client, set()).add(f.category)
    for client, category in expected.items():
        net = client.rsplit(".", 1)[0] + ".0/24"
        assert category in by_net.get(net, set()), (client, category, by_net.get(net))
    assert "192.0.2.0/24" not in by_net  # the benign requests of the file


def test_a_one_minute_finding_suggests_a_hold_that_covers_it(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", "24/Nov/2026:10:00:01", "GET /.env HTTP/1.1", 404),
             line("203.0.113.9", "24/Nov/2026:10:00:59", "GET /.git/config HTTP/1.1", 404)]  # fmt: skip
    load(store, tmp_path, lines)
    (f,) = review(store, Policy(), NOW)
    assert "--from 2026-11-24T10:00Z --to 2026-11-24T10:01Z --network 203.0.113.0/24" in f.next_step
    args = f.next_step.replace("INC-<id>", "INC-9").split()[3:]
    reason_end = args.index("--from")
    hold_args = ["--reason", "probe", *args[reason_end:]]
    r = CliRunner().invoke(cli, ["--store", str(store.root), "hold", "create", "INC-9", *hold_args,
                                 "--now", "2026-11-24T12:00:00Z"])  # fmt: skip
    assert r.exit_code == 0, r.output
    held = review(store, Policy(), NOW, hold_id="INC-9")
    assert sum(h.count for h in held) == 2  # every request of the finding is under the hold


def test_table_fits_80_columns_with_a_summary_line_per_category_first(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", f"24/Nov/2026:10:00:{i:02d}", f"GET /x?id=1'+OR+1=1--{i} HTTP/1.1") for i in range(3)]
    lines += [line("198.51.100.4", "24/Nov/2026:11:00:00", "GET /.env HTTP/1.1", 404)]
    lines += [line("198.51.100.5", "24/Nov/2026:11:00:00", "GET / HTTP/1.1", ua="sqlmap/1.8")]
    load(store, tmp_path, lines)
    r = CliRunner().invoke(cli, ["--store", str(store.root), "review"])
    out = r.stdout.splitlines()
    assert out[0].startswith("high   sqli") and out[1].startswith("low")  # summary lines, most severe first
    assert all(len(x) <= 80 for x in out), max(out, key=len)
    assert "2026-11-24 10:00:00" in r.stdout and "2026-11-24 10:00:02" in r.stdout  # full dates
    assert "query: " in r.stdout and "' or 1=1--" in r.stdout  # where it matched and the excerpt
    assert "user_agent:" in r.stdout and "sqlmap" in r.stdout
    data = json.loads(CliRunner().invoke(cli, ["--store", str(store.root), "review", "--format", "json"]).stdout)
    assert [d["category"] for d in data] == ["sqli", "scanner", "sensitive_file"]  # severity, then count
    assert data[0]["field"] == "query" and data[0]["count"] == 3


def test_limit_min_severity_and_a_backwards_period(store: Store, tmp_path: Path) -> None:
    lines = [line(f"203.0.113.{i}", "24/Nov/2026:10:00:00", "GET /.env HTTP/1.1", 404) for i in range(1, 6)]
    lines += [line("198.51.100.1", "24/Nov/2026:10:00:00", "GET /?q=${jndi:ldap://example.com/a} HTTP/1.1")]
    load(store, tmp_path, lines)
    base = ["--store", str(store.root), "review", "--format", "json"]
    run = CliRunner()
    assert len(json.loads(run.invoke(cli, base).stdout)) == 2
    assert [d["category"] for d in json.loads(run.invoke(cli, [*base, "--min-severity", "high"]).stdout)] == [
        "log4shell"
    ]
    assert len(json.loads(run.invoke(cli, [*base, "--limit", "1"]).stdout)) == 1
    r = run.invoke(cli, [*base, "--from", "2026-11-25", "--to", "2026-11-24"])
    assert r.exit_code == 2 and "--from 2026-11-25 is after --to 2026-11-24" in r.stderr


def test_allow_lists_hide_findings_and_say_how_many(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", "24/Nov/2026:10:00:00", "GET /.env HTTP/1.1", 404),
             line("198.51.100.1", "24/Nov/2026:10:00:00", "GET /healthz?x=../../etc/passwd HTTP/1.1"),
             line("198.51.100.2", "24/Nov/2026:10:00:00", "GET / HTTP/1.1", ua="nikto-internal-audit"),
             line("192.0.2.1", "24/Nov/2026:10:00:00", "GET /?q=<script>alert(1)</script> HTTP/1.1")]  # fmt: skip
    load(store, tmp_path, lines)
    rules = tmp_path / "rules.toml"
    rules.write_text('[allow]\nnetworks = ["203.0.113.0/24"]\npaths = ["/healthz"]\n'
                     'user_agents = ["^nikto-internal"]\nfindings = ["signature/xss"]\n')  # fmt: skip
    res = run_review(store, Policy(review_rules=str(rules)), NOW)
    assert res.findings == [] and res.suppressed == 4
    r = CliRunner().invoke(cli, ["--store", str(store.root), "review", "--rules", str(rules)])
    assert "4 suppressed by the allow-list" in r.stderr
    rules.write_text('[allow]\nnetworks = ["not-a-network"]\n')
    r = CliRunner().invoke(cli, ["--store", str(store.root), "review", "--rules", str(rules)])
    assert r.exit_code == 2 and "'not-a-network' is not an address or network" in r.stderr


def test_the_quarantine_is_reviewed_too(store: Store, tmp_path: Path) -> None:
    lines = [line("192.0.2.1", "24/Nov/2026:10:00:00", "GET / HTTP/1.1")] * 3
    lines += ['203.0.113.5 - - [24/Nov/2026:10:00:05 +0000] "GET /?id=1 UNION SELECT password FROM users HTTP/1.1" 200']
    load(store, tmp_path, lines)
    assert store.read("quarantine").height == 1
    res = run_review(store, Policy(), NOW)
    (f,) = [f for f in res.findings if f.detector == "malformed"]
    assert (f.category, f.field, f.client, f.first_seen) == ("sqli", "line", "(quarantine) a.log",
                                                             "2026-11-24T10:00:05+00:00")  # fmt: skip
    assert res.quarantined == 1 and "203.0.113.5" not in json.dumps(f.to_dict())


def _asn_db(tmp_path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, database_type="logtool-test-asn", ipv4_compatible=True)
    w.insert_network(IPSet(["203.0.113.0/25"]), {"autonomous_system_number": 15169})
    w.insert_network(IPSet(["198.51.100.0/24"]), {"autonomous_system_number": 64500})
    path = tmp_path / "asn.mmdb"
    w.to_db_file(str(path))
    return path


def test_crawlers_are_judged_by_their_operators_asn_then_published_ranges(tmp_path: Path) -> None:
    from logtool.detect.crawlers import fake_bots
    from logtool.enrich.asn import AsnDB

    google = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    df = pl.DataFrame({"client_ip": ["203.0.113.7", "198.51.100.7", "66.249.66.1", "203.0.113.200"],
                       "user_agent": [google] * 4})  # fmt: skip
    bots = load_rules()["fake_bot"]
    got = fake_bots(df, bots, "client_ip", AsnDB(_asn_db(tmp_path))).to_list()
    assert got == [False, True, False, True]  # AS15169; another AS; Google's published range; outside both
    # the shipped ASN data: the 2015 bingbot and YandexBot addresses of the real log are genuine
    real = pl.DataFrame({"client_ip": ["157.55.39.10", "157.56.92.1", "65.55.52.1", "100.43.83.137", "192.0.2.9"],
                         "user_agent": ["bingbot/2.0", "bingbot/2.0", "msnbot/2.0b", "YandexBot/3.0", "bingbot/2.0"]})  # fmt: skip
    assert fake_bots(real, bots).to_list() == [False, False, False, False, True]


def test_a_missing_asn_database_stops_the_check_even_when_no_agent_claims_a_crawler(tmp_path: Path) -> None:
    """A wrong ``[crawlers] asn_db`` is an error at the first batch, not at the first claim
    (which may come many files later in a nightly run, or never)."""
    from logtool.detect.crawlers import fake_bots
    from logtool.errors import ConfigError

    df = pl.DataFrame({"client_ip": ["203.0.113.7"], "user_agent": ["Mozilla/5.0 (X11; Linux x86_64)"]})
    with pytest.raises(ConfigError):
        fake_bots(df, load_rules()["fake_bot"], crawlers={"asn_db": str(tmp_path / "missing.mmdb")})


def test_dns_verification_is_forward_confirmed_and_optional() -> None:
    from logtool.detect.crawlers import fake_bots
    from logtool.review.crawlers import dns_verifier

    names = {"192.0.2.1": ("crawl-192-0-2-1.googlebot.com", ["192.0.2.1"]),
             "192.0.2.2": ("crawl.googlebot.com.example.net", ["192.0.2.2"]),
             "192.0.2.3": ("crawl-3.googlebot.com", ["198.51.100.3"])}  # fmt: skip

    def resolve(ip: str) -> tuple[str, list[str]]:
        if ip not in names:
            raise OSError("no PTR")
        return names[ip]

    df = pl.DataFrame({"client_ip": ["192.0.2.1", "192.0.2.2", "192.0.2.3", "66.249.66.1"],
                       "user_agent": ["Googlebot/2.1"] * 4})  # fmt: skip
    got = fake_bots(df, load_rules()["fake_bot"], verify=dns_verifier(resolve)).to_list()
    assert got == [False, True, True, False]  # confirmed; wrong domain; does not resolve back; no answer: ranges


def test_windows_span_midnight_and_shards_give_the_same_findings(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", f"24/Nov/2026:23:59:5{i}", "POST /wp-login.php HTTP/1.1", 401) for i in range(3)]
    lines += [line("203.0.113.9", f"25/Nov/2026:00:00:0{i}", "POST /wp-login.php HTTP/1.1", 401) for i in range(4)]
    lines += [line(f"198.51.{k}.1", f"24/Nov/2026:12:00:{k % 60:02d}", "GET /?q=<script> HTTP/1.1") for k in range(90)]
    lines += [line(f"198.51.{k}.1", f"25/Nov/2026:12:00:{k % 60:02d}", "GET /.env HTTP/1.1", 404) for k in range(90)]
    load(store, tmp_path, lines)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    whole = review_store(store, Policy(), now).findings
    (bf,) = [f for f in whole if f.category == "brute_force"]
    assert (bf.count, bf.first_seen) == (7, "2026-11-24T23:59:50+00:00")  # across midnight, each row once
    sharded = review_store(store, Policy(), now, shard_rows=20).findings
    assert [f.to_dict() for f in sharded] == [f.to_dict() for f in whole]


def test_review_reports_progress(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, [line("192.0.2.1", "24/Nov/2026:10:00:00", "GET / HTTP/1.1")] * 5)

    class Tick:
        def __init__(self) -> None:
            self.n, self.done = 0, 0

        def total(self, n: int | None, unit: str = "") -> None:
            self.n = n or 0

        def advance(self, n: int = 1) -> None:
            self.done += n

    t = Tick()
    run_review(store, Policy(), NOW, progress=t)
    assert t.n == t.done == 5


@pytest.mark.parametrize("fmt", ["csv", "md"])
def test_hostile_text_stays_text(store: Store, tmp_path: Path, fmt: str) -> None:
    load(store, tmp_path, [line("203.0.113.9", "24/Nov/2026:10:00:00", "GET /?q=<script>=cmd|x HTTP/1.1",
                                ua="=HYPERLINK(1)\\x1b[31m")])  # fmt: skip
    out = CliRunner().invoke(cli, ["--store", str(store.root), "review", "--format", fmt]).stdout
    assert "\x1b" not in out


def test_table_lines_fit_in_terminal_cells_with_wide_characters() -> None:
    """Lines are cut by terminal cells (a CJK character takes two), not by characters."""
    from rich.cells import cell_len

    from logtool.detect.findings import Finding
    from logtool.render.findings import FindingFormat, render

    f = Finding(severity="high", category="xss", detector="signature", client="203.0.113.0/24", clients=1, count=2,
                distinct_paths=1, first_seen="2026-11-24T10:00:00+00:00", last_seen="2026-11-24T10:05:00+00:00",
                field="query", excerpt="<script>" + "漢字" * 40, samples=["GET /?q=" + "漢" * 80])  # fmt: skip
    out = render([f], FindingFormat.table, width=80).splitlines()
    assert all(cell_len(x) <= 80 for x in out) and any(cell_len(x) >= 78 for x in out[2:])
    assert "<script>漢字" in "\n".join(out) and not any(x != x.rstrip() for x in out)
