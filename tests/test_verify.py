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


def test_the_scan_uses_the_address_rule_of_redaction(store: Store, tmp_path: Path) -> None:
    """Addresses glued to ``_`` or letters, or spelled with ``%2F``/``%2E``, are found; names
    with ``::`` and versions that are no addresses are not."""
    loaded(store, tmp_path)
    row = store.read("anonymised").head(1)
    for day, path in (("2026-11-10", "/user_198.51.100.23_x"), ("2026-11-11", "/a%2F198%2E51%2E100%2E23")):
        plant(store, "anonymised", row.with_columns(pl.lit(path).alias("path")), day)
    clean = ["/std::vector", "/Data::Dumper", "/v/131.0.0.0", "/v/1.2.3.4.5", "/user_<ip>_x"]
    plant(store, "anonymised", pl.concat([row] * len(clean)).with_columns(pl.Series("path", clean)), "2026-11-10")
    problems = verify(store, Policy(), LATER)
    assert kinds(problems) == [("full-ip", "anonymised/2026-11-10/path"), ("full-ip", "anonymised/2026-11-11/path")]
    assert "1 values" in problems[0].detail and "198.51.100.23" not in str(problems)


def test_an_address_as_virtual_host_is_masked_and_verify_stays_satisfiable(store: Store) -> None:
    """vhost_combined logs the server's own address as ``%v``: anonymised as its network, which
    verify accepts; an unmasked address there is still reported."""
    log = Path(__file__).parent / "cases" / "vhost_combined" / "ip-vhost.log"
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    later = DAY0 + timedelta(days=30)
    retain(store, Policy(), later)
    assert sorted(store.read("anonymised").get_column("vhost").to_list()) == ["192.0.2.0/24", "www.example.org"]
    # the per-vhost aggregates (kept for good) hold the network too, from ingest and from retain
    assert set(store.read("aggregates").get_column("vhost").to_list()) == {"192.0.2.0/24", "www.example.org"}
    assert verify(store, Policy(), later) == []
    row = store.read("anonymised").head(1)
    plant(store, "anonymised", row.with_columns(pl.lit("192.0.2.10").alias("vhost")), "2026-11-24")
    assert kinds(verify(store, Policy(), later)) == [("full-ip", "anonymised/2026-11-24/vhost")]
