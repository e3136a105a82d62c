"""Golden files for the conversation formats: tests/cases/conversations/<format>/<file>, generated
by :func:`logtool.convgen.golden_cases` (fictional numbers only), with beside each input

* ``<file>.expected.jsonl`` — the parsed records (non-null fields) and rejects (line, reason);
* ``<file>.anonymised.jsonl`` — the same records enriched and anonymised, and the quarantine
  lines as stored (masked).

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_conv_golden.py``
and review the diff line by line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from logtool import convgen
from logtool.anonymize.conversations import anonymise_conversations
from logtool.config import Policy
from logtool.enrich.conversations import enrich_conversations
from logtool.inputs import iter_batches, make_inputs
from logtool.lifecycle.conversations import quarantine_rows
from logtool.net import networks
from logtool.parsers import REGISTRY, detect_first, get_format
from logtool.parsers.conversations import CONV_REGISTRY, THRESHOLD

ROOT = Path(__file__).parent / "cases" / "conversations"
GOLDEN = convgen.golden_cases()
CASES = [(fmt, name) for fmt, files in GOLDEN.items() for name in files]
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))


def _dicts(df: pl.DataFrame) -> list[dict]:
    df = df.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
    return [{k: v for k, v in r.items() if v is not None} for r in df.to_dicts()]


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def parse(fmt_name: str, path: Path, batch_bytes: int = 512) -> tuple[pl.DataFrame, pl.DataFrame]:
    fmt = get_format(fmt_name)
    out = list(fmt.parse_stream(iter_batches(make_inputs([str(path)])[0], batch_bytes=batch_bytes)))  # type: ignore[attr-defined]
    return pl.concat([r for r, _ in out]), pl.concat([q for _, q in out])


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_golden_input_is_what_the_generator_makes(fmt: str, name: str) -> None:
    path = ROOT / fmt / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GOLDEN[fmt][name], encoding="utf-8")
    assert path.read_text(encoding="utf-8") == GOLDEN[fmt][name]


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_golden_parse(fmt: str, name: str) -> None:
    path = ROOT / fmt / name
    rec, rej = parse(fmt, path)
    got = [{"record": r} for r in _dicts(rec)] + [{"reject": r} for r in rej.select("line_no", "reason").to_dicts()]
    expected = path.with_name(name + ".expected.jsonl")
    if UPDATE:
        _write(expected, got)
    assert got == _read(expected)
    assert rej.height >= 1  # every golden input has something to quarantine


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_golden_anonymised(fmt: str, name: str) -> None:
    path = ROOT / fmt / name
    policy = Policy()
    rec, rej = parse(fmt, path)
    rec = enrich_conversations(rec, policy, None)
    anon = anonymise_conversations(rec, networks(rec.get_column("client_ip"), 24, 48), policy)
    quarantined = quarantine_rows(rej, name, policy)
    got = [{"anonymised": r} for r in _dicts(anon)] + [{"quarantine": r} for r in quarantined.to_dicts()]
    expected = path.with_name(name + ".anonymised.jsonl")
    if UPDATE:
        _write(expected, got)
    assert got == _read(expected)
    text = expected.read_text(encoding="utf-8")
    for value in sorted(convgen.generate_day(convgen.GOLDEN_DAY, calls=4, chats=2, seed=16, sentences=4).planted):
        assert value not in text.replace(" ", ""), value
    for planted in ("+12015550142", "Jane Example", "+442079460123", "jane@example.org", "23125 777"):
        assert planted not in text


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_batch_size_does_not_change_the_records(fmt: str, name: str) -> None:
    small, _ = parse(fmt, ROOT / fmt / name, batch_bytes=64)
    large, _ = parse(fmt, ROOT / fmt / name, batch_bytes=1 << 20)
    assert small.equals(large)


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_detection_picks_the_format_and_no_log_format_claims_it(fmt: str, name: str) -> None:
    lines = next(iter_batches(make_inputs([str(ROOT / fmt / name)])[0])).get_column("line")
    found, _ = detect_first(lines, name)
    assert found.name == fmt
    for other in CONV_REGISTRY.values():
        if other.name != fmt:
            assert other.match_rate(lines) < THRESHOLD, other.name
    nonempty = lines.filter(lines.str.len_bytes() > 0)
    assert all(f.match_rate(nonempty) < 0.6 for f in REGISTRY.values())
