"""``logtool verify`` finds what is wrong, and says nothing on a healthy store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.governance.verify import verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.store import Store

from .conftest import DAY0, NOW, write_days

LATER = DAY0 + timedelta(days=9)  # 2026-11-10 and 11 anonymised (raw_days 7), 12 still raw


def loaded(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=3, per_day=300)
    ingest(store, make_inputs([str(p) for p in logs]), Policy(), NOW)
    retain(store, Policy(), LATER)
    return store


def plant(store: Store, stage: str, df: pl.DataFrame, day: str) -> None:
    with store.change("plant", NOW) as ch:
        ch.writer(stage).write_day(day, df)


def kinds(problems) -> list[tuple[str, str]]:
    return [(p.kind, p.where) for p in problems]


def test_a_healthy_store_has_no_problems(store: Store, tmp_path: Path) -> None:
    loaded(store, tmp_path)
    assert verify(store, Policy(), LATER) == []


def test_finds_a_full_ip_planted_in_the_anonymised_stage(store: Store, tmp_path: Path) -> None:
    loaded(store, tmp_path)
    row = store.read("anonymised").head(1)
    plant(store, "anonymised", row.with_columns(pl.lit("/ban/203.0.113.77").alias("path")), "2026-11-10")
    plant(store, "anonymised", row.with_columns(pl.lit("198.51.100.9/32").alias("client_net")), "2026-11-11")
    problems = verify(store, Policy(), LATER)
    assert kinds(problems) == [
        ("full-ip", "anonymised/2026-11-10/path"),
        ("full-ip", "anonymised/2026-11-11/client_net"),
    ]
    assert "203.0.113.77" not in str(problems) and "<ip>" in problems[0].detail  # the report masks


def test_finds_tampering_missing_files_orphans_and_overdue_days(store: Store, tmp_path: Path) -> None:
    loaded(store, tmp_path)
    parts = store.parts("anonymised")
    victim = store.root / parts[0].path
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one changed byte
    victim.write_bytes(bytes(data))
    (store.root / parts[1].path).unlink()
    orphan = store.root / "raw" / "date=2026-11-30" / "part-x.parquet"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"junk")
    problems = verify(store, Policy(), LATER + timedelta(days=200))
    got = kinds(problems)
    assert ("checksum", parts[0].path) in got
    assert ("missing", parts[1].path) in got
    assert ("orphan", "raw/date=2026-11-30/part-x.parquet") in got
    assert ("overdue", "raw/2026-11-12") in got and ("overdue", "anonymised/2026-11-10") in got


def test_cli_exit_codes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    loaded(store, tmp_path)
    runner = CliRunner()
    ok = runner.invoke(cli, ["--store", str(store.root), "verify", "--now", LATER.isoformat()])
    assert ok.exit_code == 0 and "consistent" in ok.stderr
    bad = runner.invoke(cli, ["--store", str(store.root), "verify", "--format", "json", "--now", "2027-06-01"])
    assert bad.exit_code == 1
    assert '"kind": "overdue"' in bad.stdout
    store.close()
