"""The store: a directory holding a SQLite catalog and Hive-partitioned Parquet per stage.

Layout::

    STORE/catalog.sqlite
    STORE/raw/date=YYYY-MM-DD/part-<id>.parquet
    STORE/anonymised/date=YYYY-MM-DD/part-<id>.parquet
    STORE/aggregates/date=YYYY-MM-DD/part-<id>.parquet
    STORE/quarantine/date=YYYY-MM-DD/part-<id>.parquet   (date of ingestion)

Writes are crash-safe: a partition is written to a temporary file, fsynced and renamed, and
only then committed to the catalog in one transaction together with everything else the
operation changes. Readers see only committed partitions. One writer at a time (``.lock``).
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import polars as pl

from logtool.errors import StoreBusyError, StoreError
from logtool.schema import SCHEMAS, STAGES, conform
from logtool.store.catalog import Catalog, Partition
from logtool.store.files import PartitionWriter, fsync_dir, remove_orphans

__all__ = ["Store", "Partition", "PartitionWriter"]


class Store:
    """An open store directory. Use :meth:`writing` around any change."""

    def __init__(self, root: str | Path, create: bool = True) -> None:
        self.root = Path(root).expanduser()
        if not self.root.exists():
            if not create:
                raise StoreError(f"no store at {self.root} (run 'logtool ingest' first, or pass --store)")
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except OSError as e:
                raise StoreError(f"cannot create store directory {self.root}: {e.strerror}") from None
        elif not self.root.is_dir():
            raise StoreError(f"store path is not a directory: {self.root}")
        db = self.root / "catalog.sqlite"
        new = not db.exists()
        self.catalog = Catalog(db)
        if new:
            os.chmod(db, 0o600)
        self._lock_fd: int | None = None

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # locking ----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the writer lock; remove orphans of interrupted runs on entry."""
        if self._lock_fd is not None:  # re-entrant within one process
            yield self
            return
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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
            remove_orphans(self.root, self.catalog.known_paths())
            yield self
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def secret(self) -> bytes:
        """A per-store random key for opaque tokens (created on first use)."""
        value = self.catalog.get_meta("token_key")
        if value is None:
            value = secrets.token_hex(32)
            self.catalog.set_meta("token_key", value)
        return bytes.fromhex(value)

    # partitions -------------------------------------------------------------------------
    def writer(self, stage: str) -> PartitionWriter:
        assert stage in STAGES
        return PartitionWriter(self.root, stage, SCHEMAS[stage])

    def read(
        self,
        stage: str,
        date_from: str | None = None,
        date_to: str | None = None,
        columns: list[str] | None = None,
    ) -> pl.DataFrame:
        """All committed rows of ``stage`` in the date range (inclusive), in the stage schema."""
        parts = self.catalog.partitions(stage, date_from, date_to)
        return self.read_parts(parts, stage, columns)

    def read_parts(self, parts: list[Partition], stage: str, columns: list[str] | None = None) -> pl.DataFrame:
        schema = SCHEMAS[stage]
        if not parts:
            df = conform(pl.DataFrame(), schema)
            return df.select(columns) if columns else df
        try:
            df = pl.read_parquet([str(self.root / p.path) for p in parts], columns=columns, hive_partitioning=False)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise StoreError(f"cannot read {stage} partitions: {e}") from None
        return df

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

    def delete_files(self, paths: list[str]) -> None:
        """Unlink committed-then-retired partition files (after the catalog no longer lists them)."""
        dirs = set()
        for rel in paths:
            p = self.root / rel
            p.unlink(missing_ok=True)
            dirs.add(p.parent)
        for d in dirs:
            with suppress(OSError):
                d.rmdir()
            fsync_dir(d.parent)
