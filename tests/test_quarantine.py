"""The quarantine: rejected lines masked as whole lines (golden file), dated by the time they
name, deleted with the raw window unless a hold keeps them, and reported by ``verify`` when
overdue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool.anonymize.freetext import mask_lines
from logtool.anonymize.redact import ADDRESS, decode_expr
from logtool.cli import cli
from logtool.config import Policy
from logtool.governance import holds
from logtool.governance.verify import verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.quarantine import line_times
from logtool.lifecycle.retention import retain
from logtool.parsers import get_format
from logtool.schema import QUARANTINE_SCHEMA
from logtool.store import Store

CASES = Path(__file__).parent / "cases" / "quarantine"
INGESTED = datetime(2026, 11, 12, tzinfo=UTC)


def golden() -> list[tuple[str, str]]:
    rows = (CASES / "lines.tsv").read_text().splitlines()
    return [tuple(r.split("\t")) for r in rows if r and not r.startswith("#")]  # type: ignore[misc]


@pytest.mark.parametrize("line,expected", golden())
def test_quarantined_lines_are_masked_where_their_personal_parts_are(line: str, expected: str) -> None:
    assert mask_lines(pl.Series([line])).to_list() == [expected]
    assert mask_lines(pl.Series([expected])).to_list() == [expected]  # idempotent
    # what verify's scan looks for is gone, and nothing that names a person is left
    assert not pl.select(decode_expr(pl.lit(expected)).str.contains(ADDRESS)).item()
    for secret in ("john.doe", "jane", "bob", "alice", "carol", "dialup-12", "dsl-7", "4930123456", "eyJ"):
        assert secret not in expected


def test_the_reason_stays_readable() -> None:
    """Nothing is hidden by position: a syslog line keeps its month, a JSON line its keys."""
    got = mask_lines(pl.Series(["Nov 24 10:00:00 lb1 haproxy[1]: Proxy http-in started.", '{"msg":"x","ts":1}']))
    assert got.to_list() == ["Nov 24 10:00:00 lb1 haproxy[1]: Proxy http-in started.", '{"msg":"x","ts":1}']


def test_a_line_is_dated_by_the_time_it_names_else_by_its_ingestion() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    lines = [
        '203.0.113.5 - - [10/Nov/2026:10:00:00 +0100] "GET /cut',  # CLF, with offset
        "Nov 24 lb1 haproxy[1]: 203.0.113.5:1 [11/Nov/2026:10:00:00.250] cut",  # HAProxy, taken as UTC
        '{"ts":"2026-11-12T10:00:00.5Z","msg":"x"}',  # ISO 8601
        "2026-11-13 10:00:00 10.0.0.5 GET /x cut",  # W3C date time (UTC)
        '{"ts":1795514402.25,"broken"',  # a JSON epoch
        "no time at all",
        '203.0.113.5 - - [10/Nov/2099:10:00:00 +0000] "GET /future',  # never later than ingestion
    ]
    got = line_times(pl.Series(lines), now).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_list()
    assert got == [
        "2026-11-10T09:00:00.000",
        "2026-11-11T10:00:00.250",
        "2026-11-12T10:00:00.500",
        "2026-11-13T10:00:00.000",
        "2026-11-24T10:00:02.250",
        "2026-11-24T12:00:00.000",
        "2026-11-24T12:00:00.000",
    ]


@pytest.fixture
def quarantined(store: Store, tmp_path: Path) -> Store:
    log = tmp_path / "bad.log"
    log.write_text(
        '203.0.113.5 - jane [10/Nov/2026:10:00:00 +0000] "GET /reset?email=jane@example.org\n'  # dated 11-10
        "garbage from john@example.org at 198.51.100.7\n"  # undated: the ingestion day, 11-12
        '203.0.113.6 - - [10/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    )
    ingest(store, make_inputs([str(log)]), Policy(), INGESTED, fmt=get_format("combined"))
    return store


def test_the_quarantine_follows_the_raw_window(quarantined: Store) -> None:
    store = quarantined
    assert [p.date for p in store.parts("quarantine")] == ["2026-11-10", "2026-11-12"]
    text = " ".join(store.read("quarantine").get_column("line").to_list())
    assert "jane" not in text and "john@" not in text and "198.51.100.7" not in text and "203.0.113.5" not in text
    # the first day's lines are past the raw window a week later: overdue until retain runs
    week = datetime(2026, 11, 18, tzinfo=UTC)
    assert [(p.kind, p.where) for p in verify(store, Policy(), week)] == [
        ("overdue", "raw/2026-11-10"),
        ("overdue", "quarantine/2026-11-10"),
    ]
    res = retain(store, Policy(), week)
    assert res.quarantine_days == ["2026-11-10"] and res.quarantine_rows == 1
    assert [p.date for p in store.parts("quarantine")] == ["2026-11-12"]
    assert verify(store, Policy(), week) == []
    assert "delete-quarantine-day" in [e["action"] for e in store.catalog.audit.entries()]
    retain(store, Policy(), datetime(2026, 11, 20, tzinfo=UTC))
    assert store.read("quarantine").height == 0
    assert retain(store, Policy(), datetime(2026, 11, 20, tzinfo=UTC)).quarantine_rows == 0  # idempotent


def test_a_hold_keeps_the_quarantined_lines_of_its_window(quarantined: Store) -> None:
    store = quarantined
    t = datetime(2026, 11, 10, 9, tzinfo=UTC)
    # a masked line's client cannot be checked: a hold naming networks keeps its window's lines too
    holds.create(store, "INC-1", "probe", t, INGESTED, end=t.replace(hour=11), networks=["192.0.2.0/24"],
                 expires=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
    week = datetime(2026, 11, 18, tzinfo=UTC)
    res = retain(store, Policy(), week)
    assert res.quarantine_held_rows == 1 and res.quarantine_rows == 0
    assert store.read("quarantine", "2026-11-10", "2026-11-10").height == 1
    assert not [p for p in verify(store, Policy(), week) if p.where.startswith("quarantine")]
    holds.release(store, "INC-1", week)
    retain(store, Policy(), week)
    assert store.read("quarantine", "2026-11-10", "2026-11-10").height == 0


def test_quarantine_partitions_from_before_lines_were_dated_are_read_and_retired(store: Store) -> None:
    """An older store's quarantine has no ``ts``: it is read (null time), dated by its partition
    and deleted with the raw window."""
    old = {k: v for k, v in QUARANTINE_SCHEMA.items() if k != "ts"}
    with store.change("ingest", INGESTED) as ch:
        w = ch.writer("quarantine")
        w.schema = old
        w.write_day("2026-11-12", pl.DataFrame({"source_file": ["a.log"], "line_no": [1], "reason": ["x"],
                                                "line": ["<client> junk"]}))  # fmt: skip
    log_row = store.read("quarantine")
    assert log_row.columns == list(QUARANTINE_SCHEMA) and log_row.get_column("ts").to_list() == [None]
    later = datetime(2026, 11, 20, tzinfo=UTC)
    assert [p.kind for p in verify(store, Policy(), later)] == ["overdue"]
    assert retain(store, Policy(), later).quarantine_rows == 1
    assert store.read("quarantine").height == 0 and verify(store, Policy(), later) == []


def test_cli_retain_says_what_it_did_to_the_quarantine(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    log.write_text('203.0.113.5 - - [10/Nov/2026:10:00:00 +0000] "GET /cut\n')
    base = ["--store", str(tmp_path / "s")]
    ingest_args = [*base, "ingest", str(log), "--format", "combined", "--now", "2026-11-12T00:00:00Z"]
    assert CliRunner().invoke(cli, ingest_args).exit_code == 0
    r = CliRunner().invoke(cli, [*base, "retain", "--now", "2026-11-18T00:00:00Z"])
    assert r.exit_code == 0, r.output
    assert "quarantine: 1 line deleted with the raw window (2026-11-10 … 2026-11-10)" in r.stderr


class _Rows:
    """A stand-in partition writer: what was written, call by call."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def write(self, df: pl.DataFrame) -> None:
        self.calls.append(df.get_column("line_no").to_list())


def _rejects(first: int, n: int, line: str = "garbage from john@example.org at 198.51.100.7") -> pl.DataFrame:
    return pl.DataFrame({"line_no": list(range(first, first + n)), "line": [line] * n, "reason": ["no match"] * n})


def test_few_rejects_wait_and_are_masked_together_in_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's few rejects wait for later ones (masking costs a batch the same however few it
    has); a batch of many, masked on its worker, first lets the waiting ones out: the quarantine
    keeps input order. Waiting is bounded by rows and by bytes."""
    from logtool.lifecycle import quarantine as q

    monkeypatch.setattr(q, "FEW_REJECTS", 5)
    monkeypatch.setattr(q, "FEW_BYTES", 1000)
    rows = _Rows()
    box = q.Quarantine(rows, "x.log", INGESTED, Policy().sensitive_params)  # type: ignore[arg-type]
    box.add(q.few(_rejects(1, 2)))  # type: ignore[arg-type]
    box.add(q.few(_rejects(10, 3)))  # type: ignore[arg-type]
    assert rows.calls == []  # five wait
    box.add(q.few(_rejects(20, 1)))  # type: ignore[arg-type]
    assert rows.calls == [[1, 2, 10, 11, 12, 20]]  # six are too many: masked at once
    box.add(q.few(_rejects(30, 1)))  # type: ignore[arg-type]
    many = _rejects(40, 6)
    assert q.few(many) is None  # masked by the batch's own worker
    box.add(many, q.quarantine_rows(many, "x.log", INGESTED))
    assert rows.calls[1:] == [[30], [40, 41, 42, 43, 44, 45]]
    assert q.few(_rejects(50, 1, "x" * 1001)) is None  # too many bytes to wait
    box.add(q.few(_rejects(60, 1, "y" * 600)))  # type: ignore[arg-type]
    box.add(q.few(_rejects(61, 1, "y" * 600)))  # type: ignore[arg-type]
    assert rows.calls[3:] == [[60, 61]]
    box.add(q.few(_rejects(70, 1)))  # type: ignore[arg-type]
    box.flush()
    box.flush()  # nothing left: writes nothing
    assert rows.calls[4:] == [[70]]


def test_rejects_of_many_batches_are_quarantined_as_each_batch_alone_would(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ingest: rejects spread over small batches, and a batch with many (masked on its
    worker), end up masked and in input order, the same rows as masking each one alone."""
    from logtool.inputs import LogInput
    from logtool.lifecycle import quarantine as q
    from logtool.lifecycle.ingest import ingest_file
    from logtool.lifecycle.quarantine import quarantine_rows

    monkeypatch.setattr(q, "FEW_REJECTS", 40)  # the ~26 before the block still wait when it comes
    good = '203.0.113.6 - - [10/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    lines = []
    for i in range(40):
        lines += [good] * 30 + [f"garbage {i} from john{i}@example.org at 198.51.100.{i}\n"]
        if i == 20:  # a batch of its own with many
            lines += [f"more garbage {j} from jane{j}@example.org\n" for j in range(60)]
    log = tmp_path / "spread.log"
    log.write_text("".join(lines))
    res = ingest_file(store, LogInput(log.name, log), Policy(), INGESTED, fmt=get_format("combined"), batch_bytes=4096)
    assert res.rejected == 100
    got = store.read("quarantine")  # in the order written
    bad = [(n, line.rstrip("\n")) for n, line in enumerate(lines, 1) if "garbage" in line]
    alone = pl.concat(
        quarantine_rows(pl.DataFrame({"line_no": [n], "line": [t], "reason": ["x"]}), log.name, INGESTED)
        for n, t in bad
    )
    assert got.get_column("line_no").to_list() == [n for n, _ in bad]
    assert got.get_column("line").to_list() == alone.get_column("line").to_list()
    text = " ".join(got.get_column("line").to_list())
    assert "john" not in text and "jane" not in text
