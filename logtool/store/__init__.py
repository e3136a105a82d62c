"""The store: a directory holding a SQLite catalog and Hive-partitioned Parquet per stage.

Layout::

    STORE/catalog.sqlite
    STORE/raw/date=YYYY-MM-DD/part-<id>.parquet
    STORE/anonymised/date=YYYY-MM-DD/part-<id>.parquet
    STORE/aggregates/date=YYYY-MM-DD/part-<id>.parquet
    STORE/quarantine/date=YYYY-MM-DD/part-<id>.parquet   (date of ingestion)

Every change goes through :meth:`Store.change`: it takes the writer lock, lets the caller write
new partitions and name the ones they replace, then journals, renames, commits everything in one
catalog transaction with its audit entry, and removes the replaced files. Readers see only
committed partitions. One writer at a time (``.lock``).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from logtool.errors import StoreBusyError, StoreError
from logtool.schema import SCHEMAS, STAGES, conform
from logtool.store.catalog import Catalog
from logtool.store.files import PartitionWriter, publish, remove_debris, stage_files, unlink_all
from logtool.store.records import Hold, Partition

__all__ = ["Store", "Change", "Partition", "PartitionWriter", "Hold"]

CATALOG = "catalog.sqlite"


#: Fault injection for crash tests (documented in the README's failure model): called with the
#: name of each point of a commit — ``written`` (files complete, nothing journaled),
#: ``published`` (renamed into place, catalog not yet committed) and ``committed`` (catalog
#: committed, replaced files not yet removed). A test sets it to raise or to ``os._exit``.
def _no_fault(point: str) -> None:
    return None


fault_hook: Callable[[str], None] = _no_fault


class Store:
    """An open store directory.

    ``readonly`` stores are opened without creating or changing anything (read-only commands,
    read-only media); ``create`` makes the directory of a new store."""

    def __init__(self, root: str | Path, create: bool = True, readonly: bool = False) -> None:
        self.root = Path(root).expanduser()
        self.readonly = readonly
        if not self.root.exists():
            if not create or readonly:
                raise StoreError(f"no store at {self.root} (run 'logtool ingest' first, or pass --store)")
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except OSError as e:
                raise StoreError(f"cannot create store directory {self.root}: {e.strerror}") from None
        elif not self.root.is_dir():
            raise StoreError(f"store path is not a directory: {self.root}")
        db = self.root / CATALOG
        if readonly and not db.exists():
            raise StoreError(f"no store at {self.root}: it has no {CATALOG} (run 'logtool ingest' first)")
        if not readonly:
            self._refuse_lost_catalog(db)
        new = not db.exists()
        self.catalog = Catalog(db, readonly=readonly)
        self._lock_fd: int | None = None
        if new:
            os.chmod(db, 0o600)
            self.secret()  # the store's key exists from the start, so readers never need to make it

    def _refuse_lost_catalog(self, db: Path) -> None:
        """A store whose catalog is gone but whose stages hold data must not be written: the
        files are committed data nobody can account for."""
        if db.exists():
            return
        data = [f for f in stage_files(self.root) if not Path(f).name.startswith(".")]
        if data:
            raise StoreError(
                f"store {self.root} has {len(data)} Parquet files but no {CATALOG}: nothing will be "
                "written; run 'logtool recover' to rebuild the catalog from the files"
            )

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # locking ----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the writer lock; remove the debris of interrupted runs on entry. Re-entrant."""
        if self.readonly:
            raise StoreError(f"store {self.root} was opened read-only")
        if self._lock_fd is not None:
            yield self
            return
        path = self.root / ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            raise StoreError(f"cannot open the writer lock {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusyError(
                f"store {self.root} is busy: another logtool process (pid {holder}) is writing; "
                "try again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        try:
            self._clean_debris()
            yield self
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _clean_debris(self) -> None:
        pending = self.catalog.pending.all()
        remove_debris(self.root, pending, self.catalog.partitions.paths())
        if pending:
            with self.catalog.transaction():
                self.catalog.pending.remove(pending)

    @contextmanager
    def change(self, action: str, now: datetime, params: dict[str, Any] | None = None) -> Iterator[Change]:
        """One crash-safe change with its audit entry (see :class:`Change`)."""
        with self.writing():
            ch = Change(self, action, now, params or {})
            try:
                yield ch
            except BaseException:
                ch.abort()
                raise
            ch.commit()

    def secret(self) -> bytes:
        """A per-store random key for keyed hashes (created on first use by a writer)."""
        value = self.catalog.meta.get("token_key")
        if value is None:
            if self.readonly:
                raise StoreError(f"store {self.root} has no key yet and is open read-only")
            value = secrets.token_hex(32)
            with self.catalog.transaction():
                self.catalog.meta.set("token_key", value)
        return bytes.fromhex(value)

    # partitions -------------------------------------------------------------------------
    def writer(self, stage: str) -> PartitionWriter:
        assert stage in STAGES
        return PartitionWriter(self.root, stage, SCHEMAS[stage])

    def parts(self, stage: str, date_from: str | None = None, date_to: str | None = None) -> list[Partition]:
        """The committed partitions of ``stage`` in the date range (inclusive), by day."""
        return self.catalog.partitions.of(stage, date_from, date_to)

    def read(
        self,
        stage: str,
        date_from: str | None = None,
        date_to: str | None = None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame:
        """All committed rows of ``stage`` in the date range (inclusive), in the stage schema."""
        return self.read_parts(self.parts(stage, date_from, date_to), stage, columns)

    def read_parts(self, parts: list[Partition], stage: str, columns: list[str] | None = None) -> pl.DataFrame:
        schema = SCHEMAS[stage]
        if not parts:
            df = conform(pl.DataFrame(), schema)
            return df.select(columns) if columns else df
        try:
            # Schemas only grow: a partition written before a column existed reads it as null.
            df = pl.read_parquet([str(self.root / p.path) for p in parts], columns=columns, hive_partitioning=False,
                                 schema=schema, missing_columns="insert")  # fmt: skip
        except (OSError, pl.exceptions.PolarsError) as e:
            raise StoreError(f"cannot read {stage} partitions: {e}") from None
        return df

    def scan(self, parts: list[Partition]) -> pl.LazyFrame:
        """A lazy scan of ``parts`` (one stage), for queries the streaming engine runs in bounded memory."""
        return pl.scan_parquet([str(self.root / p.path) for p in parts], hive_partitioning=False)

    def iter_parts(self, parts: list[Partition], stage: str, batch_rows: int = 262_144) -> Iterator[pl.DataFrame]:
        """Rows of ``parts`` in bounded batches (memory stays flat for any partition size)."""
        for p in parts:
            try:
                import pyarrow.parquet as pq  # only here: commands that read no parts start faster

                f = pq.ParquetFile(self.root / p.path)
                for rb in f.iter_batches(batch_size=batch_rows):
                    yield pl.from_arrow(rb)  # type: ignore[misc]
            except OSError as e:
                raise StoreError(f"cannot read {stage} partition {p.path}: {e}") from None


class Change:
    """What one store change does, collected under the writer lock and committed at once.

    * ``writer(stage)`` — new partitions, written now, published on commit;
    * ``add(parts)`` / ``retire(parts)`` — partitions to list / to drop (their files are removed
      after the commit);
    * ``then(fn)`` — a catalog update run inside the commit transaction (``fn(catalog)``);
    * ``file_record`` and ``quarantine_counts`` — an ingested file and its reject counts (the
      new partitions are linked to it);
    * ``counts`` — the audit entry's counts; ``note(action, params, counts)`` adds entries.

    A change that writes nothing and records nothing (``skip()``) commits nothing, not even its
    audit entry.
    """

    def __init__(self, store: Store, action: str, now: datetime, params: dict[str, Any]) -> None:
        self.store, self.action, self.now, self.params = store, action, now, params
        self.counts: dict[str, Any] = {}
        self.file_record: dict[str, Any] | None = None
        self.quarantine_counts: dict[str, int] = {}
        self._writers: list[PartitionWriter] = []
        self._added: list[Partition] = []
        self._retired: list[Partition] = []
        self._ops: list[Callable[[Catalog], None]] = []
        self._notes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._skipped = False
        self.file_id: int | None = None

    def writer(self, stage: str) -> PartitionWriter:
        w = self.store.writer(stage)
        self._writers.append(w)
        return w

    def add(self, parts: list[Partition]) -> None:
        self._added += parts

    def retire(self, parts: list[Partition]) -> None:
        self._retired += parts

    def then(self, fn: Callable[[Catalog], None]) -> None:
        self._ops.append(fn)

    def note(self, action: str, params: dict[str, Any], counts: dict[str, Any] | None = None) -> None:
        self._notes.append((action, params, counts or {}))

    def skip(self) -> None:
        """Commit nothing (the change turned out to be a no-op)."""
        self._skipped = True

    @property
    def added(self) -> list[Partition]:
        return list(self._added)

    def abort(self) -> None:
        for w in self._writers:
            w.abort()

    def commit(self) -> None:
        if self._skipped:
            self.abort()
            return
        cat, stamp = self.store.catalog, self.now.isoformat()
        files = [f for w in self._writers for f in w.finish()]
        new = [p.path for _, p in files]
        try:
            fault_hook("written")
            if new:
                with cat.transaction():
                    cat.pending.add(new, stamp)
                publish(self.store.root, files)
            fault_hook("published")
            self._added += [p for _, p in files]
            retired = [p.path for p in self._retired]
            with cat.transaction():
                if self.file_record is not None:
                    self.file_id = cat.files.insert(self.file_record)
                    cat.quarantine.add(self.file_id, self.quarantine_counts)
                for p in self._retired:
                    cat.partitions.delete(p.path)
                for p in self._added:
                    file_id = self.file_id if p.file_id is None else p.file_id
                    cat.partitions.insert(Partition(p.stage, p.date, p.path, p.rows, p.size, p.sha256, file_id), stamp)
                for fn in self._ops:
                    fn(cat)
                cat.audit.append(stamp, self.action, self.params, self.counts)
                for action, params, counts in self._notes:
                    cat.audit.append(stamp, action, params, counts)
                cat.pending.remove(new)
                cat.pending.add(retired, stamp)
        except BaseException:
            for tmp, _ in files:
                tmp.unlink(missing_ok=True)
            unlink_all(self.store.root, [p for p in new if p not in cat.partitions.paths()])
            raise
        fault_hook("committed")
        unlink_all(self.store.root, retired)
        if retired:
            with cat.transaction():
                cat.pending.remove(retired)
