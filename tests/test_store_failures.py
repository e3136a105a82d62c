"""Issue 12, items 1–7: a store that lost its catalog, damaged partitions, a damaged catalog,
readers racing retention, symbolic links, and every write under the writer lock."""

from __future__ import annotations

import io
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.errors import DamagedPartitionError, StoreBusyError, StoreError
from logtool.governance import subjects
from logtool.governance.audit import verify_chain
from logtool.governance.export import export
from logtool.governance.verify import repair, verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.report import build
from logtool.review import review
from logtool.store import Store
from logtool.store.recover import recover

from .conftest import DAY0, NOW, write_days

LATER = DAY0 + timedelta(days=9)  # 2026-11-10 and 11 past raw_days, 12 still raw


@pytest.fixture
def logs(tmp_path: Path) -> list[Path]:
    return write_days(tmp_path / "logs", n_days=3, per_day=150)


@pytest.fixture
def filled(tmp_path: Path, logs: list[Path]) -> Store:
    s = Store(tmp_path / "store")
    ingest(s, make_inputs([str(p) for p in logs]), Policy(), NOW)
    yield s
    s.close()


def cli_run(store: Path, *args: str):
    return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)


def data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if "damaged" not in p.parts)


# 1. a missing or emptied catalog ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["deleted", "emptied", "replaced"])
def test_a_lost_catalog_is_refused_for_writing_and_no_file_is_deleted(filled: Store, logs, how: str) -> None:
    root = filled.root
    filled.close()
    before = data_files(root)
    for f in root.glob("catalog.sqlite*"):
        f.unlink()
    if how == "emptied":
        (root / "catalog.sqlite").write_bytes(b"")
    elif how == "replaced":
        Store(root.parent / "fresh").close()
        os.replace(root.parent / "fresh" / "catalog.sqlite", root / "catalog.sqlite")
    r = cli_run(root, "ingest", str(logs[0]))
    assert r.exit_code == 4
    assert "logtool recover" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert data_files(root) == before  # nothing deleted, nothing written


# 2. recover ----------------------------------------------------------------------------------------
def test_recover_rebuilds_the_catalog_from_the_files(filled: Store, logs) -> None:
    root = filled.root
    expected = {s: sorted((p.path, p.rows, p.sha256, p.date) for p in filled.parts(s)) for s in ("raw", "aggregates")}
    rows = filled.read("raw").height
    filled.close()
    for f in root.glob("catalog.sqlite*"):
        f.unlink()
    (root / "raw" / "date=2026-11-11" / ".tmp-abc.parquet").write_bytes(b"half written")
    res = recover(root, NOW + timedelta(hours=1))
    assert res.reason == "catalog.sqlite is missing" and res.removed_temp == 1
    s = Store(root)
    assert {st: sorted((p.path, p.rows, p.sha256, p.date) for p in s.parts(st)) for st in expected} == expected
    assert s.read("raw").height == rows
    # the audit chain restarts, and its first entry says why
    chain = verify_chain(s)
    assert chain.ok and chain.entries == 1
    (entry,) = s.catalog.audit.entries()
    assert entry["action"] == "recover" and "catalog.sqlite is missing" in entry["params"]
    # the ingested files are known again (from the partitions' metadata): re-ingest is a no-op
    (again,) = ingest(s, make_inputs([str(logs[0])]), Policy(), NOW)
    assert again.status == "duplicate"
    assert verify(s, Policy(), DAY0 + timedelta(days=3)) == []
    s.close()


def test_recover_keeps_what_a_damaged_catalog_still_yields_and_sets_it_aside(filled: Store) -> None:
    from logtool.governance import holds

    holds.create(filled, "INC-1", "evidence", DAY0, NOW)
    root = filled.root
    filled.close()
    with pytest.raises(Exception, match="sound"):
        recover(root, NOW)  # a sound catalog is not rebuilt without --force
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute("DELETE FROM partitions")  # the catalog forgot its partitions
    db.commit()
    db.close()
    res = recover(root, NOW + timedelta(hours=1))
    assert "lists none" in res.reason
    assert res.old_catalog and (root / res.old_catalog).exists()
    s = Store(root)
    assert [h.id for h in s.catalog.holds.all()] == ["INC-1"]
    assert s.parts("raw") and verify_chain(s).ok
    head = [e for e in s.catalog.audit.entries() if e["action"] == "recover"][0]["params"]
    assert "old_audit_head" in head and res.old_catalog in head
    s.close()


def test_recover_sets_aside_files_it_cannot_list(filled: Store) -> None:
    retain(filled, Policy(), LATER)
    root = filled.root
    filled.close()
    # a retired raw file the lost catalog never saw removed (a reader held it), a foreign file
    anon = next((root / "anonymised").rglob("part-*.parquet"))
    day = anon.parent.name
    (root / "raw" / day).mkdir(mode=0o700, exist_ok=True)
    old_raw = root / "raw" / day / "part-old.parquet"
    s = Store(root.parent / "copy")
    ingest(s, make_inputs([str(p) for p in sorted((root.parent / "logs").glob("*"))[:2]]), Policy(), NOW)
    src = next(p for p in s.parts("raw") if p.date == day.removeprefix("date="))
    os.link(s.root / src.path, old_raw)
    os.utime(old_raw, ns=(1, 1))  # older than the anonymised file written from it
    s.close()
    (root / "quarantine").mkdir(mode=0o700, exist_ok=True)
    (root / "quarantine" / "date=2026-11-10").mkdir(mode=0o700, exist_ok=True)
    (root / "quarantine" / "date=2026-11-10" / "foreign.parquet").write_bytes(b"PAR1 not really")
    os.chmod(root / "quarantine" / "date=2026-11-10" / "foreign.parquet", 0o600)
    for f in root.glob("catalog.sqlite*"):
        f.unlink()
    res = recover(root, NOW + timedelta(days=10))
    why = dict(res.set_aside)
    assert any("newer" in w for p, w in why.items() if p.endswith("part-old.parquet"))
    assert any("readable" in w for p, w in why.items() if p.endswith("foreign.parquet"))
    assert all(p.startswith("damaged/") and (root / p).exists() for p in why)
    s = Store(root)
    assert not [p for p in verify(s, Policy(), LATER) if p.kind != "overdue"]
    s.close()


# 3. damaged partitions ----------------------------------------------------------------------------
def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        os.truncate(path, path.stat().st_size // 2)
    elif how == "flipped":
        data = bytearray(path.read_bytes())
        for i in range(100, min(len(data) - 100, 1500)):
            data[i] ^= 0x5A
        path.write_bytes(bytes(data))
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["truncated", "flipped", "deleted"])
def test_readers_name_a_damaged_partition_and_point_to_verify(filled: Store, how: str) -> None:
    raw = filled.parts("raw", "2026-11-11", "2026-11-11")[0]
    agg = filled.parts("aggregates", "2026-11-11", "2026-11-11")[0]
    _damage(filled.root / raw.path, how)
    _damage(filled.root / agg.path, how)
    calls = {
        "report": lambda: build(filled, Policy()),
        "review": lambda: review(filled, Policy(), NOW, date_from="2026-11-10", date_to="2026-11-12"),
        "export": lambda: export(filled, "raw", io.BytesIO(), NOW),
        "subject find": lambda: subjects.find(filled, "203.0.113.9", NOW),
    }
    for name, call in calls.items():
        with pytest.raises(DamagedPartitionError) as e:
            call()
        assert e.value.path in (raw.path, agg.path), name
        assert "logtool verify" in str(e.value), name


def test_retain_processes_every_other_day_and_repair_sets_the_damaged_one_aside(filled: Store) -> None:
    bad = filled.parts("raw", "2026-11-10", "2026-11-10")[0]
    _damage(filled.root / bad.path, "truncated")
    res = retain(filled, Policy(), LATER)
    assert res.anonymised_days == ["2026-11-11"]
    assert res.damaged and res.damaged[0][1] == bad.path and res.exit_code == 1
    problems = verify(filled, Policy(), LATER)
    assert ("checksum", bad.path) in [(p.kind, p.where) for p in problems]
    fixed = repair(filled, problems, LATER)
    assert fixed.dropped == [bad.path] and (filled.root / fixed.set_aside[0]).exists()
    assert filled.catalog.audit.entries()[-1]["action"] == "set-aside"
    res = retain(filled, Policy(), LATER)  # usable again
    assert res.damaged == [] and res.exit_code == 0
    left = verify(filled, Policy(), LATER)
    assert [p.kind for p in left] == ["overdue"] and left[0].where.startswith("damaged/raw/")


def test_retain_exit_code_and_one_line_per_damaged_day(filled: Store) -> None:
    _damage(filled.root / filled.parts("raw", "2026-11-10", "2026-11-10")[0].path, "deleted")
    root = filled.root
    filled.close()
    r = cli_run(root, "retain", "--now", LATER.isoformat())
    assert r.exit_code == 1
    (line,) = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert "raw/2026-11-10" in line and "verify --repair" in line


# 4. catalog corruption ------------------------------------------------------------------------------
def test_verify_runs_sqlites_integrity_check(filled: Store) -> None:
    from logtool.governance import holds

    for i in range(150):  # enough rows for an index of its own pages
        holds.create(filled, f"INC-{i}", "x" * 200, DAY0, NOW)
    root = filled.root
    filled.close()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_holds_1'").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(root / "catalog.sqlite", "r+b") as f:
        f.seek((page - 1) * size + 100)
        f.write(os.urandom(1024))
    r = cli_run(root, "verify", "--now", NOW.isoformat())
    assert r.exit_code == 1 and "consistent" not in r.stderr
    assert "catalog " in r.stdout and "integrity" in r.stdout


def test_random_bytes_in_the_catalog_never_pass_as_consistent(filled: Store) -> None:
    root = filled.root
    filled.close()
    with open(root / "catalog.sqlite", "r+b") as f:
        f.seek(8192)
        f.write(os.urandom(8192))
    for args in (["verify"], ["status"], ["ingest", str(root.parent / "logs" / "access.log-20261110")]):
        r = cli_run(root, *args)
        assert r.exit_code in (1, 4), args
        assert "Traceback" not in r.stderr and "consistent" not in r.stderr


# 5. readers racing retention ---------------------------------------------------------------------
def test_a_reader_keeps_its_snapshot_while_retention_retires_files(filled: Store) -> None:
    reader = Store(filled.root, create=False, readonly=True)
    parts = reader.parts("raw")
    retain(filled, Policy(), LATER)  # retires the raw files of two days while the reader reads
    assert reader.read_parts(parts, "raw").height == 450  # every listed file is still there
    reader.close()
    with filled.writing():  # the next writer removes what the reader no longer needs
        pass
    assert {str(p.relative_to(filled.root)) for p in data_files(filled.root)} == {
        p.path for s in ("raw", "anonymised", "aggregates", "quarantine") for p in filled.parts(s)
    }
    assert verify(filled, Policy(), LATER) == []


# 6. symbolic links ---------------------------------------------------------------------------------
def test_a_linked_date_folder_is_refused_and_nothing_outside_is_touched(filled: Store, tmp_path: Path, logs) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / ".tmp-victim.parquet"
    victim.write_bytes(b"not the store's")
    (filled.root / "raw" / "date=2026-11-01").symlink_to(outside)
    root = filled.root
    filled.close()
    for args in (["ingest", str(logs[0])], ["status"], ["retain"], ["recover"]):
        r = cli_run(root, *args)
        assert r.exit_code == 4 and "symbolic link" in r.stderr, args
    assert victim.read_bytes() == b"not the store's"


@pytest.mark.parametrize("name", [".lock", ".readers", "catalog.sqlite-wal"])
def test_linked_special_files_are_refused(filled: Store, tmp_path: Path, name: str) -> None:
    target = tmp_path / "target"
    target.write_text("keep me")
    (filled.root / name).unlink(missing_ok=True)
    (filled.root / name).symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        Store(filled.root)
    assert target.read_text() == "keep me"


def test_a_linked_partition_file_is_refused(filled: Store, tmp_path: Path) -> None:
    p = filled.root / filled.parts("raw")[0].path
    moved = tmp_path / "moved.parquet"
    os.replace(p, moved)
    p.symlink_to(moved)
    with pytest.raises(StoreError, match="symbolic link"):
        Store(filled.root, create=False, readonly=True)


# 7. every write takes the writer lock ----------------------------------------------------------
def test_subject_restrict_waits_for_no_one(filled: Store) -> None:
    other = Store(filled.root)
    with other.writing(), pytest.raises(StoreBusyError):
        subjects.restrict(filled, "203.0.113.9", NOW)
    other.close()
    assert filled.catalog.restricted.keys() == set()


def test_recover_keeps_the_file_records_of_a_catalog_from_before_file_sizes(filled: Store, logs) -> None:
    """A salvaged catalog of an older layout (``files`` without ``disk_size``) is restored: its
    rows fill the columns they have, and its files are still known (a re-ingest is a no-op)."""
    root = filled.root
    names = sorted(r["name"] for r in filled.catalog.files.all())
    filled.close()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute("ALTER TABLE files DROP COLUMN disk_size")
    db.execute("DELETE FROM partitions")  # damaged: it forgot its partitions
    db.commit()
    db.close()
    recover(root, NOW + timedelta(hours=1))
    s = Store(root)
    try:
        rows = s.catalog.files.all()
        assert sorted(r["name"] for r in rows) == names and {r["disk_size"] for r in rows} == {None}
        assert [r.status for r in ingest(s, make_inputs([str(logs[0])]), Policy(), NOW)] == ["duplicate"]
    finally:
        s.close()
