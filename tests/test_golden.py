"""Golden files: tests/cases/<format>/<name>.log → <name>.expected.jsonl (records and rejects).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff line by line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from logtool.errors import InputError
from logtool.inputs import iter_batches, make_inputs
from logtool.parsers import DETECT_THRESHOLD, REGISTRY, detect, get_format
from logtool.parsers.normalise import REQUEST_CODE

CASES = sorted(Path(__file__).parent.glob("cases/*/*.log"))


def parse_file(fmt_name: str, path: Path) -> list[dict]:
    parser = get_format(fmt_name).parser()  # one input, many batches: state carries over
    out: list[dict] = []
    for batch in iter_batches(make_inputs([str(path)])[0], batch_bytes=256):
        rec, rej = parser.parse(batch)
        # the request code is a batch's own numbering (see test_signatures), not a value
        rec = rec.drop(REQUEST_CODE, strict=False).with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        # a recovered variant is named (``_variant``); lines read as written leave it out
        out += [{"kind": "record", **{k: v for k, v in r.items() if k != "_variant" or v}} for r in rec.to_dicts()]
        out += [{"kind": "reject", **r} for r in rej.select("line_no", "reason").to_dicts()]
    return sorted(out, key=lambda r: r["line_no"])


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path) -> None:
    got = parse_file(path.parent.name, path)
    expected_path = path.with_suffix(".expected.jsonl")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in got), encoding="utf-8")
    expected = [json.loads(line) for line in expected_path.read_text(encoding="utf-8").splitlines()]
    assert got == expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_detection_picks_the_golden_format(path: Path) -> None:
    batch = next(iter_batches(make_inputs([str(path)])[0]))
    lines = batch.get_column("line")
    fmt, rate = detect(lines.filter(lines.str.len_bytes() > 0), path.name)
    assert fmt.name == path.parent.name
    assert rate >= 0.6


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_other_format_claims_a_golden_file(path: Path) -> None:
    """The negative side, for every family: each other format stays under the threshold."""
    lines = next(iter_batches(make_inputs([str(path)])[0])).get_column("line")
    lines = lines.filter(lines.str.len_bytes() > 0)
    for name, fmt in REGISTRY.items():
        if name != path.parent.name:
            assert fmt.match_rate(lines) < DETECT_THRESHOLD, (name, fmt.match_rate(lines))


NEAR_MISSES = {  # per family: lines that look like it and must not be detected as anything
    "clf": '203.0.113.7 - - [24/Nov/2026 10:00:00] "GET / HTTP/1.1" 200 512',  # no CLF time
    "aws": "2026-11-24T10:00:00Z my-lb 203.0.113.7:2817 10.0.0.1:80 0.1 0.1",  # cut short
    "json": '{"time":"2026-11-24T10:00:00Z","ip":"203.0.113.7","path":"/"}',  # no known keys
    "w3c": "2026-11-24 10:00:00 10.0.0.5 GET /index.html - 443 - 203.0.113.7",  # no #Fields
    "haproxy": "Nov 24 10:00:00 lb1 sshd[1]: Accepted publickey for root from 203.0.113.7",
}


@pytest.mark.parametrize("family", sorted(NEAR_MISSES))
def test_near_misses_are_not_detected(family: str) -> None:
    with pytest.raises(InputError, match="cannot detect the log format"):
        detect(pl.Series([NEAR_MISSES[family]] * 5), family)


def test_every_line_is_accounted_for() -> None:
    for path in CASES:
        # W3C directives (#Fields, #Software …) describe the file; they are not log entries
        n_lines = sum(1 for ln in path.read_bytes().split(b"\n")[:-1] if not ln.startswith(b"#"))
        assert len(parse_file(path.parent.name, path)) == n_lines, path
