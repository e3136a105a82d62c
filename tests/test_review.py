"""``logtool review``: planted attacks just below and at each threshold; privacy of findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from logtool import holds
from logtool.cli import cli
from logtool.config import Policy
from logtool.ingest import ingest
from logtool.inputs import make_inputs
from logtool.review.findings import load_rules, review
from logtool.store import Store

from .conftest import NOW

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
    found = [f for f in review(load(store, tmp_path, lines), Policy()) if f.category == "brute_force"]
    assert len(found) == expected
    if expected:
        assert found[0].client == "203.0.113.0/24" and found[0].count == n


@pytest.mark.parametrize("n,expected", [(10, 0), (11, 1)])  # threshold 11 distinct 4xx paths
def test_probing_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line("198.51.100.7", i, f"GET /probe-{i} HTTP/1.1", 404) for i in range(n)]
    lines += [line("198.51.100.7", 59, "GET /static/app.js HTTP/1.1", 404)] * 5  # static misses do not count
    found = [f for f in review(load(store, tmp_path, lines), Policy()) if f.category == "probing"]
    assert len(found) == expected


def test_signature_findings_are_private_without_a_hold_and_full_under_one(store: Store, tmp_path: Path) -> None:
    lines = [
        line("203.0.113.50", 1, "GET /x?q=1%27%20OR%201=1--&email=jane@example.org HTTP/1.1", 500),
        line("203.0.113.50", 2, "GET /.env HTTP/1.1", 404, ua="sqlmap/1.8"),
        line("198.51.100.1", 3, "GET /index.html HTTP/1.1", 200),
    ]
    load(store, tmp_path, lines)
    found = review(store, Policy())
    cats = {f.category: f for f in found}
    assert {"sqli", "sensitive_file", "scanner"} <= set(cats)
    assert cats["sqli"].severity == "high" and cats["sqli"].client == "203.0.113.0/24"
    text = json.dumps([f.to_dict() for f in found])
    assert "203.0.113.50" not in text and "jane@example.org" not in text  # networks, redacted samples
    assert "logtool hold create" in cats["sqli"].next_step
    holds.create(store, "INC-1", "sqli", datetime(2026, 11, 24, tzinfo=UTC), NOW,
                 networks=["203.0.113.50/32"], expires=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    held = review(store, Policy(), hold=holds.get(store, "INC-1"))
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
    found = [f for f in review(load(store, tmp_path, lines), Policy()) if f.category == "ua_switching"]
    assert len(found) == expected


@pytest.mark.parametrize("n,expected", [(49, 0), (50, 1)])  # 50 5xx answers per vhost per minute
def test_error_spike_threshold(store: Store, tmp_path: Path, n: int, expected: int) -> None:
    lines = [line(f"198.51.100.{i % 200 + 1}", i % 60, "GET /api HTTP/1.1", 503) for i in range(n)]
    found = [f for f in review(load(store, tmp_path, lines), Policy()) if f.category == "error_spike"]
    assert len(found) == expected


def test_flood_needs_threshold_and_baseline(store: Store, tmp_path: Path) -> None:
    rules = load_rules()
    rules["flood"] = {"window_seconds": 60, "threshold": 30, "baseline_factor": 5}
    lines = [line("203.0.113.9", i % 60, "GET / HTTP/1.1", 200) for i in range(30)]  # the flooder
    lines += [line(f"198.51.{k}.1", k, "GET / HTTP/1.1", 200) for k in range(1, 11)]  # 10 normal networks
    found = [f for f in review(load(store, tmp_path, lines), Policy(), rules=rules) if f.category == "flood"]
    assert [f.client for f in found] == ["203.0.113.0/24"]
    rules["flood"]["baseline_factor"] = 40  # 30 requests are not 40x the median of 1
    assert not [f for f in review(store, Policy(), rules=rules) if f.category == "flood"]


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
