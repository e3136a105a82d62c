"""``logtool review``: planted attacks just below and at each threshold; privacy of findings."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from logtool.cli import cli
from logtool.config import Policy
from logtool.detect.rules import load_rules
from logtool.governance import holds
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.review import review
from logtool.store import Store

from .conftest import EXAMPLES, NOW

T0 = "24/Nov/2026:10:00"


def line(ip: str, sec: int, req: str, status: int, ua: str = "Mozilla/5.0") -> str:
    return f'{ip} - - [{T0}:{sec:02d} +0000] "{req}" {status} 10 "-" "{ua}"'


def load(store: Store, tmp_path: Path, lines: list[str]) -> Store:
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    return store


@pytest.mark.parametrize("n,expected", [(5, 0), (6, 1)])  # threshold 6 failed authentications
def test_brute_force_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 200) for i in range(n)]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "brute_force"]
    assert len(found) == expected
    if expected:
        assert found[0].client == "203.0.113.0/24" and found[0].count == n


@pytest.mark.parametrize("n,expected", [(10, 0), (11, 1)])  # threshold 11 distinct 4xx paths
def test_probing_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line("198.51.100.7", i, f"GET /probe-{i} HTTP/1.1", 404) for i in range(n)]
    lines += [line("198.51.100.7", 59, "GET /static/app.js HTTP/1.1", 404)] * 5  # static misses do not count
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "probing"]
    assert len(found) == expected


def test_signature_findings_are_private_without_a_hold_and_full_under_one(store: Store, tmp_path: Path) -> None:
    lines = [
        line("203.0.113.50", 1, "GET /x?q=1%27%20OR%201=1--&email=jane@example.org HTTP/1.1", 500),
        line("203.0.113.50", 2, "GET /.env HTTP/1.1", 404, ua="sqlmap/1.8"),
        line("198.51.100.1", 3, "GET /index.html HTTP/1.1", 200),
    ]
    load(store, tmp_path, lines)
    found = review(store, Policy(), NOW)
    cats = {f.category: f for f in found}
    assert {"sqli", "sensitive_file", "scanner"} <= set(cats)
    assert cats["sqli"].severity == "high" and cats["sqli"].client == "203.0.113.0/24"
    text = json.dumps([f.to_dict() for f in found])
    assert "203.0.113.50" not in text and "jane@example.org" not in text  # networks, redacted samples
    assert "logtool hold create" in cats["sqli"].next_step
    holds.create(store, "INC-1", "sqli", datetime(2026, 11, 24, tzinfo=UTC), NOW,
                 networks=["203.0.113.50/32"], expires=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    held = review(store, Policy(), NOW, hold_id="INC-1")
    assert {f.client for f in held} == {"203.0.113.50"}
    assert any("jane@example.org" in s for f in held for s in f.samples)


def test_cli_fail_on_and_rules(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, [line("203.0.113.9", 1, "GET /.git/config HTTP/1.1", 404)])
    run = CliRunner()
    base = ["--store", str(store.root), "review", "--now", "2026-11-24T12:00:00Z"]
    assert run.invoke(cli, [*base, "--since", "24h", "--fail-on", "high"]).exit_code == 0
    r = run.invoke(cli, [*base, "--since", "24h", "--fail-on", "low", "--format", "json"])
    assert r.exit_code == 1 and json.loads(r.stdout)[0]["category"] == "sensitive_file"
    assert run.invoke(cli, [*base, "--since", "1h"]).stdout == ""  # the request is older than 1h
    assert load_rules()["probing"]["threshold"] == 11


@pytest.mark.parametrize("n,expected", [(9, 0), (10, 1)])  # 10 distinct user agents in 5 minutes
def test_ua_switching_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line("203.0.113.9", i, "GET / HTTP/1.1", 200, ua=f"Agent/{i}") for i in range(n)]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "ua_switching"]
    assert len(found) == expected


@pytest.mark.parametrize("n,expected", [(49, 0), (50, 1)])  # 50 5xx answers per vhost per minute
def test_error_spike_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line(f"198.51.100.{i % 200 + 1}", i % 60, "GET /api HTTP/1.1", 503) for i in range(n)]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "error_spike"]
    assert len(found) == expected


@pytest.mark.parametrize("n,expected", [(29, []), (30, ["203.0.113.0/24"])])
def test_flood_threshold(store: Store, tmp_path: Path, n: int, expected: list[str]) -> None:
    rules = load_rules()
    rules["flood"] = {"window_seconds": 60, "threshold": 30, "baseline_factor": 5}
    lines = [line("203.0.113.9", i % 60, "GET / HTTP/1.1", 200) for i in range(n)]
    lines += [line(f"198.51.{k}.1", k, "GET / HTTP/1.1", 200) for k in range(1, 11)]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW, rules=rules) if f.category == "flood"]
    assert [f.client for f in found] == expected


def test_flood_needs_threshold_and_baseline(store: Store, tmp_path: Path) -> None:
    rules = load_rules()
    rules["flood"] = {"window_seconds": 60, "threshold": 30, "baseline_factor": 5}
    lines = [line("203.0.113.9", i % 60, "GET / HTTP/1.1", 200) for i in range(30)]  # the flooder
    lines += [line(f"198.51.{k}.1", k, "GET / HTTP/1.1", 200) for k in range(1, 11)]  # 10 normal networks
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW, rules=rules) if f.category == "flood"]
    assert [f.client for f in found] == ["203.0.113.0/24"]
    rules["flood"]["baseline_factor"] = 40  # 30 requests are not 40x the median of 1
    assert not [f for f in review(store, Policy(), NOW, rules=rules) if f.category == "flood"]


def test_blocklist_only_under_a_hold(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", i, f"GET /probe-{i} HTTP/1.1", 404) for i in range(12)]
    lines += [line("2001:db8::7", 1, "GET /.env HTTP/1.1", 404)]
    load(store, tmp_path, lines)
    holds.create(
        store, "INC-2", "probing", datetime(2026, 11, 24, tzinfo=UTC), NOW, expires=datetime(2027, 1, 1, tzinfo=UTC)
    )
    run = CliRunner()
    base = ["--store", str(store.root), "review"]
    r = run.invoke(cli, [*base, "--blocklist", "plain"])
    assert r.exit_code == 2 and "--blocklist needs --hold" in r.stderr
    r = run.invoke(cli, [*base, "--hold", "INC-2", "--blocklist", "plain"])
    assert r.stdout == "203.0.113.9\n2001:db8::7\n"
    r = run.invoke(cli, [*base, "--hold", "INC-2", "--blocklist", "nftables"])
    assert "add element inet logtool block4 { 203.0.113.9 }" in r.stdout and "block6 { 2001:db8::7 }" in r.stdout
    r = run.invoke(cli, [*base, "--hold", "INC-2", "--blocklist", "ipset"])
    assert "add logtool-block 203.0.113.9 -exist" in r.stdout


def test_one_failed_login_is_not_a_brute_force_beside_an_attacker(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(8)]
    lines += [line(f"198.51.{k}.1", k, "POST /login HTTP/1.1", 401) for k in range(1, 6)]  # one try each
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "brute_force"]
    assert [(f.client, f.count) for f in found] == [("203.0.113.0/24", 8)]


def test_windows_slide_across_clock_boundaries(store: Store, tmp_path: Path) -> None:
    """Six failures from 10:09:57 to 10:10:02 straddle a fixed 10-minute boundary; a sliding
    window still sees all six together."""
    stamps = ["10:09:57", "10:09:58", "10:09:59", "10:10:00", "10:10:01", "10:10:02"]
    lines = [f'203.0.113.9 - - [24/Nov/2026:{t} +0000] "POST /login HTTP/1.1" 401 1 "-" "x"' for t in stamps]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "brute_force"]
    assert [f.count for f in found] == [6]


def test_ipv6_clients_are_grouped_per_64(store: Store, tmp_path: Path) -> None:
    lines = [line(f"2001:db8:1:2::{i + 1:x}", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(6)]
    lines += [line(f"2001:db8:1:{i + 10:x}::1", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(5)]
    load(store, tmp_path, lines)
    found = [f for f in review(store, Policy(), NOW) if f.category == "brute_force"]
    assert [(f.client, f.count, f.clients) for f in found] == [("2001:db8:1::/48", 6, 1)]  # one /64 of six
    rules = load_rules()
    rules["clients"]["ipv6_prefix"] = 128  # every address its own client: nobody reaches six
    assert not [f for f in review(store, Policy(), NOW, rules=rules) if f.category == "brute_force"]
    holds.create(store, "INC-6", "brute force", datetime(2026, 11, 24, tzinfo=UTC), NOW,
                 networks=["2001:db8:1:2::/64"], expires=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    held = [f for f in review(store, Policy(), NOW, hold_id="INC-6") if f.category == "brute_force"]
    assert [f.client for f in held] == ["2001:db8:1:2::/64"]  # several addresses: their /64
    r = CliRunner().invoke(cli, ["--store", str(store.root), "review", "--hold", "INC-6", "--blocklist", "nftables"])
    assert "flags interval" in r.stdout and "block6 { 2001:db8:1:2::/64 }" in r.stdout


def test_protocol_anomalies(store: Store, tmp_path: Path) -> None:
    lines = [
        line("203.0.113.1", 1, "\\x16\\x03\\x01\\x00\\xa5\\x01\\x00\\x00\\xa1\\x03\\x03", 400),  # TLS on port 80
        line("203.0.113.2", 2, "FOO / HTTP/1.1", 405),
        line("203.0.113.3", 3, "GET /", 200),  # HTTP/0.9 style: no protocol
        line("203.0.113.4", 4, "GET /" + "a" * 5000 + " HTTP/1.1", 414),
        line("203.0.113.5", 5, "CONNECT example.org:443 HTTP/1.1", 405),
        line("203.0.113.6", 6, "GET http://example.org/ HTTP/1.1", 200),
    ]
    lines += [line("198.51.100.1", 7 + i, f"GET /page-{i} HTTP/1.1", 200) for i in range(10)]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "protocol"]
    assert sorted(f.client for f in found) == ["203.0.113.0/24"]
    assert found[0].count == 6 and found[0].clients == 6


def test_absolute_uris_are_normal_where_a_proxy_logs_them() -> None:
    from logtool.detect.signatures import protocol_anomalies

    df = pl.DataFrame({"method": ["GET", "GET", "GET"], "path": ["http://a/", "http://b/", "/c"],
                       "query": [None, None, None], "protocol": [None, None, None], "source_file": ["squid"] * 3}, schema_overrides={"query": pl.String, "protocol": pl.String})  # fmt: skip
    assert not protocol_anomalies(df, load_rules()["protocol"]).any()


def test_fake_crawlers(store: Store, tmp_path: Path) -> None:
    google = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    lines = [
        line("66.249.66.1", 1, "GET / HTTP/1.1", 200, ua=google),
        line("203.0.113.7", 2, "GET / HTTP/1.1", 200, ua=google),
    ]
    found = [f for f in review(load(store, tmp_path, lines), Policy(), NOW) if f.category == "fake_bot"]
    assert [f.client for f in found] == ["203.0.113.0/24"]
    from logtool.detect.signatures import fake_bots

    anon = pl.DataFrame({"client_net": ["66.249.66.0/24", "203.0.113.0/24"], "ua_family": ["Googlebot"] * 2})
    assert fake_bots(anon, load_rules()["fake_bot"], "client_net").to_list() == [False, True]


def test_attacks_in_the_referrer_count(store: Store, tmp_path: Path) -> None:
    lines = [
        f'203.0.113.8 - - [{T0}:01 +0000] "GET / HTTP/1.1" 200 1 "https://x.example/?q=<script>alert(1)</script>" "x"'
    ]
    found = review(load(store, tmp_path, lines), Policy(), NOW)
    assert [f.category for f in found] == ["xss"]


def test_user_rules_override_the_shipped_ones(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, [line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(3)])
    rules = tmp_path / "rules.toml"
    rules.write_text('[brute_force]\nthreshold = 3\n[severity]\nbrute_force = "high"\n')
    run = CliRunner()
    base = ["--store", str(store.root), "review", "--format", "json"]
    assert json.loads(run.invoke(cli, base).stdout) == []
    r = run.invoke(cli, [*base, "--rules", str(rules), "--fail-on", "high"])
    assert r.exit_code == 1 and json.loads(r.stdout)[0]["category"] == "brute_force"
    r = run.invoke(cli, [*base], env={"LOGTOOL_REVIEW_RULES": str(rules)})
    assert json.loads(r.stdout)[0]["severity"] == "high"
    rules.write_text("[brute_force]\nthreshhold = 3\n")
    r = run.invoke(cli, [*base, "--rules", str(rules)])
    assert r.exit_code == 2 and "unknown key(s) ['threshhold'] in [brute_force]" in r.stderr
    rules.write_text('[fake_bot.duckduckbot]\nuser_agent = "duckduckbot"\nnetworks = ["20.191.45.212/32"]\n')
    assert set(load_rules(rules)["fake_bot"]) >= {"googlebot", "duckduckbot"}  # crawlers add up


def test_csv_and_markdown_output(store: Store, tmp_path: Path) -> None:
    import csv
    import io

    load(store, tmp_path, [line("203.0.113.9", 1, "GET /a|b?x=1%27%20OR%201=1-- HTTP/1.1", 200)])
    run = CliRunner()
    base = ["--store", str(store.root), "review", "--format"]
    rows = list(csv.DictReader(io.StringIO(run.invoke(cli, [*base, "csv"]).stdout)))
    assert rows[0]["category"] == "sqli" and rows[0]["client"] == "203.0.113.0/24" and rows[0]["count"] == "1"
    md = run.invoke(cli, [*base, "md"]).stdout.splitlines()
    assert md[0].startswith("| severity | category |") and md[1].startswith("|---|")
    assert "/a\\|b" in md[2] and md[2].count(" | ") == md[0].count(" | ")  # pipes in samples are escaped


def test_the_anonymised_stage_is_reviewed_by_network(store: Store, tmp_path: Path) -> None:
    lines = [line("198.51.100.7", i, f"GET /probe-{i} HTTP/1.1", 404) for i in range(12)]
    load(store, tmp_path, lines)
    retain(store, Policy(raw_days=1), datetime(2026, 11, 27, tzinfo=UTC))
    assert store.read("raw").height == 0
    found = [f for f in review(store, Policy(), NOW) if f.category == "probing"]
    assert [(f.client, f.count) for f in found] == [("198.51.100.0/24", 12)]


def test_attack_and_finding_counts_feed_the_aggregates(store: Store, tmp_path: Path) -> None:
    lines = [line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(7)]
    lines += [
        line("203.0.113.50", 50, "GET /.env HTTP/1.1", 404),
        line("203.0.113.51", 51, "GET /?id=1%27%20OR%201=1-- HTTP/1.1", 200),
    ]
    load(store, tmp_path, lines)

    def dim(name: str) -> dict[str, int]:
        agg = store.read("aggregates").filter(pl.col("dimension") == name)
        return dict(agg.group_by("key").agg(pl.col("requests").sum()).iter_rows())

    assert dim("attack") == {"sensitive_file": 1, "sqli": 1}
    assert dim("findings") == {}  # counted once the day is complete and leaves the raw stage
    retain(store, Policy(raw_days=1), datetime(2026, 11, 27, tzinfo=UTC))
    assert dim("findings") == {"brute_force": 1}
    retain(store, Policy(raw_days=1), datetime(2026, 11, 27, tzinfo=UTC))
    assert dim("findings") == {"brute_force": 1}  # idempotent
    from logtool.report import build

    sections = build(store, Policy(min_group_size=5)).sections
    assert {r["key"]: r["requests"] for r in sections["attack"]} == {"sensitive_file": 1, "sqli": 1}  # never folded
    assert sections["findings"] == [{"key": "brute_force", "requests": 1, "bytes": 0, "share": None}]


def test_day_findings_are_counted_in_bounded_shards(store: Store, tmp_path: Path) -> None:
    from logtool.lifecycle.retention import behaviour_counts

    lines = [line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(7)]
    lines += [line(f"198.51.{k}.1", k % 60, "GET / HTTP/1.1", 200) for k in range(200)]
    lines += [line(f"192.0.2.{k}", k % 60, "GET /api HTTP/1.1", 503) for k in range(1, 51)]
    load(store, tmp_path, lines)
    parts = store.parts("raw")
    whole = behaviour_counts(store, parts, Policy(), load_rules())
    assert whole == {"brute_force": 1, "error_spike": 1}
    assert behaviour_counts(store, parts, Policy(), load_rules(), shard_rows=40) == whole


def test_nightly_prints_the_review_summary(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(line("203.0.113.9", i, "POST /wp-login.php HTTP/1.1", 401) for i in range(7)) + "\n")
    run = CliRunner()
    args = ["--store", str(tmp_path / "s"), "nightly", str(log), "--now", "2026-11-24T23:00:00Z"]
    r = run.invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "Security review 2026-11-24: 1 findings (0 high, 1 medium, 0 low)" in r.stdout
    assert "brute_force" in r.stdout and "203.0.113.9" not in r.stdout
    log.write_text(line("203.0.113.9", 30, "GET /.env HTTP/1.1", 404) + "\n")
    r = run.invoke(cli, [*args, "--fail-on", "low"])
    assert r.exit_code == 1 and "sensitive_file" in r.stdout


def test_log4shell_in_any_logged_field(store: Store, tmp_path: Path) -> None:
    from logtool.parsers import get_format

    log = tmp_path / "xff.log"
    log.write_text(
        f'203.0.113.8 - - [{T0}:01 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "${{jndi:ldap://x/a}}"\n'
        f'203.0.113.9 - - [{T0}:02 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8" "198.51.100.1"\n'
    )
    ingest(store, make_inputs([str(log)]), Policy(), NOW, fmt=get_format("combined_xff"))
    found = review(store, Policy(), NOW)
    assert [(f.category, f.client, f.count) for f in found] == [("log4shell", "203.0.113.0/24", 1)]


def _genuine_before(client: str, bot: dict, asn) -> bool:  # type: ignore[type-arg]
    """The crawler check as it was, each test parsing the client itself (the reference)."""
    from logtool.detect.crawlers import _networks
    from logtool.net import inside_any

    if asn is not None and bot.get("asns") and asn.lookup(client) in set(bot["asns"]):
        return True
    return inside_any(client, _networks(tuple(bot.get("networks", []))))


_crawler_clients = st.one_of(
    st.integers(0, 2**13 - 1).map(lambda n: str(ipaddress.IPv4Address((66 << 24 | 249 << 16 | 64 << 8) + n))),
    st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(0, 2**80 - 1).map(lambda n: str(ipaddress.IPv6Address(0x20014860_4801 << 80 | n))),
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    st.integers(0, 2**13 - 1).map(lambda n: f"::ffff:{ipaddress.IPv4Address((66 << 24 | 249 << 16 | 64 << 8) + n)}"),
    st.integers(0, 2**13 - 1).map(lambda n: f"[{ipaddress.IPv4Address((66 << 24 | 249 << 16 | 64 << 8) + n)}]:443"),
    st.sampled_from(["66.249.64.0/24", "066.249.64.1", " 66.249.64.1", "crawl.googlebot.com", "2001:4860:4801::/64"]),
    # in the operators' autonomous systems, outside their published ranges (the embedded ASN data)
    st.sampled_from(["142.250.0.0/15", "40.77.160.0/19", "157.55.0.0/16", "17.58.0.0/16", "2607:f8b0::/32"]).flatmap(
        lambda net: st.integers(0, ipaddress.ip_network(net).num_addresses - 1).map(
            lambda n, net=net: str(ipaddress.ip_network(net)[n])
        )
    ),
)


@settings(max_examples=200 * EXAMPLES, deadline=None)
@given(client=_crawler_clients, bot_name=st.sampled_from(["googlebot", "bingbot", "applebot"]),
       with_asn=st.booleans())  # fmt: skip
def test_a_crawler_check_parsing_the_client_once_judges_as_before(client: str, bot_name: str, with_asn: bool) -> None:
    from logtool.detect.crawlers import genuine
    from logtool.enrich.asn import open_asn_db

    bot = load_rules()["fake_bot"][bot_name]
    asn = open_asn_db("") if with_asn else None
    assert genuine(client, bot, asn) == _genuine_before(client, bot, asn)
