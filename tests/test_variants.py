"""Layouts as servers write them: variants read and counted per file, detection still picks the
format that reads a line as written, and ``anonymize`` with the store's query policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from logtool.anonymize.lines import LineAnonymizer
from logtool.config import Policy
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.parsers import REGISTRY, detect, get_format
from logtool.parsers.variants import RECOVERED_WEIGHT
from logtool.store import Store

CASES = Path(__file__).parent / "cases"
T = "[24/Nov/2026:10:00:00 +0000]"
COMBINED = f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 512 "-" "curl/7.1"'


def test_ingest_counts_the_variants_it_read(store: Store) -> None:
    res = ingest(store, make_inputs([str(CASES / "combined" / "real-world.log")]), Policy(),
                 datetime(2026, 11, 25, tzinfo=UTC))[0]  # fmt: skip
    assert res.format == "combined" and res.parsed == 12 and res.rejected == 5
    assert res.variants == {
        "trailing fields": 3, "leading blank": 1, "raw quote in request": 2, "syslog prefix": 2,
        "syslog prefix, trailing fields": 1,
    }  # fmt: skip
    assert "_variant" not in store.read("raw").columns
    (entry,) = [e for e in store.catalog.audit.entries() if e["action"] == "ingest"]
    assert json.loads(entry["counts"])["variants"] == res.variants


@pytest.mark.parametrize(
    "line,expected",
    [
        (COMBINED + " 445", "combined"),  # nginx: $request_time appended
        (COMBINED + " 0.008 995", "combined"),
        ("Nov 24 09:00:00 web1 nginx: " + COMBINED, "combined"),
        ("<190>1 2026-11-24T09:00:00Z web1 nginx 812 - - " + COMBINED, "combined"),
        (f'203.0.113.7 - - {T} "GET / HTTP/1.1" 200 512 445', "common"),
        ("www.example.org " + COMBINED, "host_combined"),
        (" " + COMBINED, "host_combined"),  # an empty $host: read as written by host_combined
    ],
)
def test_detection_prefers_the_format_that_reads_a_line_as_written(line: str, expected: str) -> None:
    fmt, rate = detect(pl.Series([line] * 5))
    assert fmt.name == expected
    rates = sorted((f.match_rate(pl.Series([line])), name) for name, f in REGISTRY.items())
    assert rates[-1][1] == expected and rates[-2][0] < rates[-1][0]  # no tie
    assert rate in (1.0, RECOVERED_WEIGHT)


def test_a_user_format_string_gets_the_variants_too() -> None:
    from logtool.parsers import custom_format

    fmt = custom_format(log_format='%h %l %u %t "%r" %>s %b')
    assert fmt is not None
    rec, rej = fmt.parser().parse(pl.DataFrame({"line_no": [1, 2], "line": [
        f'Nov 24 09:00:00 web1 apache: 203.0.113.7 - - {T} "GET /a"b HTTP/1.1" 200 5 0.1', "junk"]}))  # fmt: skip
    assert rec.get_column("path").to_list() == ['/a"b'] and rej.height == 1
    assert rec.get_column("_variant").to_list() == ["syslog prefix, trailing fields, raw quote in request"]


def test_anonymize_takes_the_query_allowlist_when_given() -> None:
    lines = pl.Series([
        f'203.0.113.7 - - {T} "GET /p?lat=-31.92&lon=-65.05&id=251404&utm_source=x HTTP/1.1" 200 1 '
        '"https://example.org/a?ref=mail&utm_medium=y" "-"',
        f'203.0.113.7 - - {T} "GET /q?id=1 HTTP/1.1" 200 1 "-" "-"',
    ])  # fmt: skip
    default = LineAnonymizer(get_format("combined"), Policy()).anonymize(lines).to_list()
    assert '"GET /p?lat=<redacted>&lon=<redacted>&id=251404&utm_source=x HTTP/1.1"' in default[0]
    allow = LineAnonymizer(get_format("combined"), Policy(anonymize_query_allowlist=("utm_*",))).anonymize(lines)
    assert allow.to_list() == [
        f'203.0.113.0 - - {T} "GET /p?utm_source=x HTTP/1.1" 200 1 "https://example.org/a?utm_medium=y" "-"',
        f'203.0.113.0 - - {T} "GET /q HTTP/1.1" 200 1 "-" "-"',
    ]


def test_cli_anonymize_query_allowlist_and_ingest_summary(run, tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    src.write_text(f'203.0.113.7 - - {T} "GET /q?id=1&page=2 HTTP/1.1" 200 1 "-" "-" 0.004\n')
    r = run("anonymize", str(src), "--format", "combined", "--query-allowlist", "page")
    assert r.exit_code == 0 and r.stdout == f'203.0.113.0 - - {T} "GET /q?page=2 HTTP/1.1" 200 1 "-" "-" 0.004\n'
    r = run("ingest", str(src), "--now", "2026-11-25T00:00:00Z")
    assert r.exit_code == 0 and "read in a layout variant: trailing fields 1" in r.stderr
