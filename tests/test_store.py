"""The store: crash safety, one writer at a time, idempotent re-ingest, owner-only files."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import logtool.store as store_mod
from logtool.errors import StoreBusyError
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.linesplit import MAX_LINE_BYTES
from logtool.parsers import get_format
from logtool.store import Store

from .conftest import NOW


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def test_ingest_commits_raw_aggregates_and_quarantine(store: Store, policy, day_logs: list[Path]) -> None:
    with open(day_logs[0], "a") as f:
        f.write("garbage from 203.0.113.77\n\n")
    res = ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    (r,) = res
    assert r.status == "ingested" and r.format == "combined"
    assert r.parsed + r.rejected == r.lines == 402
    assert store.read("raw").height == r.parsed
    assert store.read("quarantine").height == r.rejected > 0
    totals = store.read("aggregates").filter(dimension="total")
    assert totals.get_column("requests").sum() == r.parsed
    files = store.catalog.files.all()
    assert files[0]["lines"] == 402 and files[0]["format"] == "combined"
    assert sum(store.catalog.quarantine.totals().values()) == r.rejected


def test_reingest_is_a_noop_even_renamed_or_compressed(
    store: Store, policy, day_logs: list[Path], tmp_path: Path
) -> None:
    src = day_logs[0]
    ingest(store, make_inputs([str(src)]), policy, NOW)
    before = store.read("raw").height
    renamed = tmp_path / "access.log.2"
    renamed.write_bytes(src.read_bytes())
    gz = tmp_path / "access.log.3.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    res = ingest(store, make_inputs([str(src), str(renamed), str(gz)]), policy, NOW)
    assert [r.status for r in res] == ["duplicate"] * 3
    assert all(r.duplicate_of == src.name for r in res)
    assert store.read("raw").height == before
    assert len(store.catalog.files.all()) == 1


def test_fingerprints_of_plain_and_compressed_files(store: Store, policy, day_logs: list[Path], tmp_path: Path) -> None:
    """A plain file is hashed once, on disk, beside the parsing (its content's fingerprint is the
    same digest); a compressed file's content is hashed as it is inflated."""
    plain, data = day_logs[0], day_logs[0].read_bytes()
    gz = tmp_path / "other.log.gz"
    gz.write_bytes(gzip.compress(day_logs[1].read_bytes()))
    inputs = make_inputs([str(plain), str(gz)])
    ingest(store, inputs, policy, NOW)
    rows = {r["name"]: r for r in store.catalog.files.all()}
    assert rows[plain.name]["fingerprint"] == rows[plain.name]["disk_sha256"] == hashlib.sha256(data).hexdigest()
    assert inputs[0]._hash.hexdigest() == hashlib.sha256(b"").hexdigest()  # not hashed a second time
    assert rows[gz.name]["disk_sha256"] == hashlib.sha256(gz.read_bytes()).hexdigest()
    assert rows[gz.name]["fingerprint"] == hashlib.sha256(day_logs[1].read_bytes()).hexdigest()


def test_a_file_whose_format_needs_naming_is_skipped_as_a_duplicate(store: Store, policy, tmp_path: Path) -> None:
    """The duplicate check comes before format detection: a file ingested with ``fmt`` is
    skipped when offered again without it (not refused as undetectable)."""
    odd = tmp_path / "odd.log"
    odd.write_text("nothing a detector could name\n" * 3)
    first = ingest(store, make_inputs([str(odd)]), policy, NOW, fmt=get_format("combined"))
    assert first[0].status == "ingested"
    again = ingest(store, make_inputs([str(odd)]), policy, NOW)
    assert again[0].status == "duplicate" and again[0].duplicate_of == odd.name


@pytest.mark.parametrize("fmt", ["combined", "twilio_calls"])
def test_files_read_in_their_first_batch_keep_their_own_fingerprint(
    store: Store, policy, tmp_path: Path, fmt: str
) -> None:
    """A file that is all one overlong line is read to its end with the first batch, before its
    digest is known: it still records its own fingerprint, so a different file is not taken
    for it."""
    paths = []
    for name, fill in (("a.log", "a"), ("b.log", "b")):
        p = tmp_path / name
        p.write_text(fill * (MAX_LINE_BYTES + 10) + "\n")
        paths.append(p)
    res = ingest(store, make_inputs([str(p) for p in paths]), policy, NOW, fmt=get_format(fmt))
    assert [r.status for r in res] == ["ingested", "ingested"]
    prints = {r["name"]: r["fingerprint"] for r in store.catalog.files.all()}
    assert prints == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize("waits", [False, True])
def test_an_error_while_hashing_on_its_thread_stops_the_ingest_of_that_file(
    store: Store, policy, day_logs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waits: bool
) -> None:
    """The disk digest runs on a thread of its own; its error reaches the caller as it would
    have from the main thread, and nothing of the file is committed: whether the file is
    parsed meanwhile (a size never ingested) or waits for it (``waits``: one of that size was)."""
    import logtool.lifecycle.ingest as ingest_mod
    from logtool.errors import InputError

    log = day_logs[0]
    if waits:
        same = tmp_path / "same-size.log"
        same.write_bytes(log.read_bytes().replace(b"GET ", b"PUT ", 1))
        ingest(store, make_inputs([str(same)]), policy, NOW)
    before = (store.catalog.files.all(), store.parts("raw"))

    def unreadable(path: Path) -> tuple[str, int]:
        raise InputError(f"cannot read {path}: Input/output error")

    monkeypatch.setattr(ingest_mod, "disk_digest", unreadable)
    with pytest.raises(InputError, match="Input/output error"):
        ingest(store, make_inputs([str(log)]), policy, NOW)
    assert (store.catalog.files.all(), store.parts("raw")) == before


def test_a_duplicate_whose_size_was_misread_is_still_skipped_at_the_end(
    store: Store, policy, day_logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a file's size read at the start differ from what was hashed (it grew, or was
    replaced), the digest is still compared once known: the duplicate is skipped, not stored twice."""
    import logtool.lifecycle.ingest as ingest_mod

    ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    monkeypatch.setattr(ingest_mod, "disk_size", lambda inp: 1)  # a size no file had: parsed at once
    res = ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    assert res[0].status == "duplicate" and len(store.catalog.files.all()) == 1


def test_crash_between_parquet_write_and_catalog_commit(
    store: Store, policy, day_logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*a, **k):
        raise OSError("simulated crash before commit")

    monkeypatch.setattr(store_mod, "fault_hook", lambda point: boom() if point == "published" else None)
    with pytest.raises(OSError, match="simulated crash"):
        ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    monkeypatch.undo()
    # Nothing visible: no catalog rows, no readable data, no files left behind.
    assert store.catalog.files.all() == []
    assert store.read("raw").height == 0
    assert parquet_files(store.root) == []
    # And the retry works.
    (r,) = ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    assert r.status == "ingested" and store.read("raw").height == r.parsed


def test_hard_kill_after_rename_leaves_orphans_that_the_next_writer_removes(
    tmp_path: Path, day_logs: list[Path]
) -> None:
    """A real process dies (os._exit) after the files are in place but before the commit."""
    root = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime, UTC
        from logtool.config import Policy
        from logtool.lifecycle.ingest import ingest
        from logtool.inputs import make_inputs
        from logtool.store import Store
        import logtool.store as mod
        def die(point):
            if point == "published":
                os._exit(9)
        mod.fault_hook = die
        ingest(Store({str(root)!r}), make_inputs([{str(day_logs[0])!r}]), Policy(), datetime.now(UTC))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == 9
    orphans = parquet_files(root)
    assert orphans, "the killed process should have left renamed files behind"
    s = Store(root)
    assert s.read("raw").height == 0  # readers only see committed partitions
    with s.writing():
        pass
    assert parquet_files(root) == []
    s.close()


def test_one_writer_at_a_time(store: Store) -> None:
    other = Store(store.root)
    busy = r"is busy: another logtool process \(pid \d+\) is writing"
    with store.writing(), pytest.raises(StoreBusyError, match=busy), other.writing():
        pass
    with other.writing():  # free again
        pass
    other.close()


def test_store_files_are_owner_only(store: Store, policy, day_logs: list[Path]) -> None:
    ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.root / "catalog.sqlite").st_mode) == 0o600
    for f in parquet_files(store.root):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f


def test_empty_input_is_not_recorded(store: Store, policy, tmp_path: Path) -> None:
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    (r,) = ingest(store, make_inputs([str(p)]), policy, NOW)
    assert r.status == "empty" and store.catalog.files.all() == []


def test_batches_spanning_days_write_one_partition_per_day(store: Store, policy, tmp_path: Path) -> None:
    from .conftest import write_days

    logs = write_days(tmp_path / "multi", n_days=3, per_day=300)
    big = tmp_path / "all.log"
    big.write_bytes(b"".join(p.read_bytes() for p in logs))
    from logtool.lifecycle.ingest import ingest_file

    with store.writing():
        r = ingest_file(store, make_inputs([str(big)])[0], policy, NOW, batch_bytes=4096)
    raw = store.parts("raw")
    assert len(raw) == len(r.days) >= 3
    assert sum(p.rows for p in raw) == r.parsed
    assert len({p.date for p in raw}) == len(raw)
    import polars as pl

    for part in raw:  # each row in its own day's file
        days = pl.read_parquet(store.root / part.path).get_column("ts").dt.date().cast(pl.String)
        assert set(days) == {part.date}


def test_ingest_reads_the_batch_after_next_before_it_hands_a_batch_to_the_writer(
    store: Store, policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While both workers parse, the next batch is already read and queued (``READ_AHEAD``): a
    worker that finishes does not wait for the oldest batch to reach the writer."""
    import logtool.lifecycle.ingest as ingest_mod
    from logtool.pipeline import BackgroundWriter

    from .conftest import write_days

    (log,) = write_days(tmp_path / "one", n_days=1, per_day=150)
    events: list[str] = []
    batches = ingest_mod.iter_batches

    def counted(*args, **kwargs):
        for b in batches(*args, **kwargs):
            events.append("read")
            yield b

    class Watched(BackgroundWriter):
        def submit(self, fn, *args) -> None:
            events.append("write")
            super().submit(fn, *args)

    monkeypatch.setattr(ingest_mod, "iter_batches", counted)
    monkeypatch.setattr(ingest_mod, "BackgroundWriter", Watched)
    with store.writing():
        r = ingest_mod.ingest_file(store, make_inputs([str(log)])[0], policy, NOW, batch_bytes=4096)
    reads, writes = events.count("read"), events.count("write")
    assert r.parsed and writes >= 6 and reads >= writes
    # when batch k goes to the writer, batches up to k + 2 have been read (all, near the end)
    for k in range(writes):
        at = [i for i, e in enumerate(events) if e == "write"][k]
        assert events[:at].count("read") >= min(k + 3, reads), (k, events)


class _DigestWatch:
    """What comes first for an input: a batch parsed, or a wait for the disk digest. The digest
    is held back until one of them happens. :meth:`reset` between inputs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import threading

        import logtool.lifecycle.ingest as ingest_mod

        self.order: list[str] = []
        self.go = threading.Event()
        real_digest, real_parse, real_wait = ingest_mod.disk_digest, ingest_mod.parse, ingest_mod._DiskDigest.duplicate

        def first(what: str) -> None:
            if not self.go.is_set():
                self.order.append(what)
                self.go.set()

        def digest(path: Path) -> tuple[str, int]:
            self.go.wait(10)
            return real_digest(path)

        def parse(*args, **kwargs):
            first("parsed first")
            return real_parse(*args, **kwargs)

        def wait(disk, store):
            first("digest")
            return real_wait(disk, store)

        monkeypatch.setattr(ingest_mod, "disk_digest", digest)
        monkeypatch.setattr(ingest_mod, "parse", parse)
        monkeypatch.setattr(ingest_mod._DiskDigest, "duplicate", wait)

    def reset(self) -> None:
        self.order.clear()
        self.go.clear()


def test_a_file_of_a_size_no_ingested_file_had_is_parsed_before_its_digest_is_known(
    store: Store, policy, day_logs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of a size no ingested file had cannot be one of them: parsing starts at once. A
    file of a size seen before waits for its digest, and is skipped if it is a duplicate (before
    a line is parsed); the catalog keeps each file's size on disk."""
    ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    rec = store.catalog.files.all()[0]
    assert rec["disk_size"] == day_logs[0].stat().st_size
    watch = _DigestWatch(monkeypatch)
    res = ingest(store, make_inputs([str(day_logs[1])]), policy, NOW)
    assert res[0].status == "ingested" and watch.order == ["parsed first"]
    same_size = tmp_path / "same-size.log"  # another file of the first one's size
    data = day_logs[0].read_bytes()
    same_size.write_bytes(data.replace(b"GET ", b"PUT ", 1))
    assert len(same_size.read_bytes()) == len(data)
    watch.reset()
    res = ingest(store, make_inputs([str(same_size)]), policy, NOW)
    assert res[0].status == "ingested" and watch.order == ["digest"]
    watch.reset()
    copy = tmp_path / "copy.log"
    copy.write_bytes(data)
    res = ingest(store, make_inputs([str(copy)]), policy, NOW)
    assert res[0].status == "duplicate" and watch.order == ["digest"]
    sizes = {r["name"]: r["disk_size"] for r in store.catalog.files.all()}
    assert sizes == {p.name: p.stat().st_size for p in (day_logs[0], day_logs[1], same_size)}


def test_a_catalog_from_before_file_sizes_gets_the_column_and_its_files_may_be_of_any_size(
    store: Store, policy, day_logs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older catalog (no ``disk_size``) gets the column when a writer opens it; its records'
    size is unknown, so every file then waits for its digest (a duplicate is still skipped
    before it is parsed)."""
    import sqlite3

    ingest(store, make_inputs([str(day_logs[0])]), policy, NOW)
    root = store.root
    store.close()
    db = sqlite3.connect(root / "catalog.sqlite")
    db.execute("ALTER TABLE files DROP COLUMN disk_size")
    db.commit()
    db.close()
    again = Store(root)
    try:
        assert again.catalog.files.all()[0]["disk_size"] is None
        watch = _DigestWatch(monkeypatch)
        res = ingest(again, make_inputs([str(day_logs[1])]), policy, NOW)
        assert res[0].status == "ingested" and watch.order == ["digest"]
        watch.reset()
        res = ingest(again, make_inputs([str(day_logs[0])]), policy, NOW)
        assert res[0].status == "duplicate" and watch.order == ["digest"]
    finally:
        again.close()


def test_only_records_with_a_disk_digest_make_a_file_of_their_size_wait(store: Store) -> None:
    """A stream's record (no disk digest, no size) cannot be matched by a file's disk digest, so
    it does not make every later file wait; a record of unknown size with a digest does."""
    files = store.catalog.files
    base = {"name": "x", "compression": "none", "format": "combined", "ingested_at": "2026-11-24T03:00:00"}
    files.insert(base | {"fingerprint": "a" * 64, "disk_sha256": None, "disk_size": None})  # from stdin
    assert not files.may_have_size(1234)
    files.insert(base | {"fingerprint": "b" * 64, "disk_sha256": "b" * 64, "disk_size": 99})
    assert files.may_have_size(99) and not files.may_have_size(1234) and files.may_have_size(None)
    files.insert(base | {"fingerprint": "c" * 64, "disk_sha256": "c" * 64, "disk_size": None})  # an older record
    assert files.may_have_size(1234)
