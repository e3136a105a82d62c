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

import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logtool.errors import DamagedPartitionError, StoreError
from logtool.stages import STAGES
from logtool.store import guard
from logtool.store.catalog import Catalog
from logtool.store.files import PartitionWriter, file_sha256, remove_debris, stage_files
from logtool.store.records import Hold, Partition

if TYPE_CHECKING:  # polars (and the schemas) load with the first read: commands that read no rows start faster
    import polars as pl

__all__ = ["Store", "Change", "Partition", "PartitionWriter", "Hold", "fault_hook"]

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
        self._lock_fd: int | None = None
        self._readers_fd: int | None = None
        if not self.root.exists():
            if not create or readonly:
                raise StoreError(f"no store at {self.root} (run 'logtool ingest' first, or pass --store)")
            try:
                self.root.mkdir(parents=True, mode=0o700)
            except OSError as e:
                raise StoreError(f"cannot create store directory {self.root}: {e.strerror}") from None
            os.chmod(self.root, 0o700)
        elif not self.root.is_dir():
            raise StoreError(f"store path is not a directory: {self.root}")
        guard.check_links(self.root)
        db = self.root / CATALOG
        if readonly and not db.exists():
            raise StoreError(f"no store at {self.root}: it has no {CATALOG} (run 'logtool ingest' first)")
        if not readonly:
            if not os.access(self.root, os.W_OK):
                raise StoreError(f"store {self.root} is read-only: only reading commands (status, report, review, "
                                 "verify …) can run on it")  # fmt: skip
            guard.check_owner(self.root)
            self._refuse_lost_catalog(db)
        new = not db.exists()
        if readonly:
            self._readers_fd = guard.lock_reader(self.root)  # before the catalog: see guard
        try:
            self.catalog = Catalog(db, readonly=readonly)
        except BaseException:
            self._release_readers()
            raise
        if not readonly:
            self._refuse_empty_catalog()
            guard.make_readers_lock(self.root)
        if new:
            os.chmod(db, 0o600)
            self.secret()  # the store's key exists from the start, so readers never need to make it

    def _unaccounted(self) -> list[str]:
        """Parquet files in the stages that are neither temp files nor journaled by a writer."""
        pending = set(self.catalog.pending.all()) if hasattr(self, "catalog") else set()
        return [f for f in stage_files(self.root) if not Path(f).name.startswith(".") and f not in pending]

    def _refuse_lost_catalog(self, db: Path) -> None:
        """A store whose catalog is gone (or empty) but whose stages hold data must not be
        written: the files are committed data nobody can account for."""
        if db.exists() and db.stat().st_size > 0:
            return
        data = self._unaccounted()
        if data:
            raise StoreError(
                f"store {self.root} has {len(data)} Parquet files but {'an empty' if db.exists() else 'no'} {CATALOG}: "
                "nothing will be written; run 'logtool recover' to rebuild the catalog from the files"
            )

    def _refuse_empty_catalog(self) -> None:
        if self.catalog.partitions.count() == 0 and (data := self._unaccounted()):
            self.catalog.close()
            raise StoreError(
                f"store {self.root} has {len(data)} Parquet files its catalog does not list (the catalog was "
                "replaced or emptied): nothing will be written; run 'logtool recover' to rebuild the catalog "
                "from the files"
            )

    def _release_readers(self) -> None:
        if self._readers_fd is not None:
            guard.unlock(self._readers_fd)
            self._readers_fd = None

    def close(self) -> None:
        self.catalog.close()
        self._release_readers()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # locking ----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the writer lock; remove the debris of interrupted runs on entry, and on the way
        out the retired files a reader kept alive meanwhile (if it is gone). Re-entrant."""
        if self.readonly:
            raise StoreError(f"store {self.root} was opened read-only")
        if self._lock_fd is not None:
            yield self
            return
        fd = guard.lock_writer(self.root)
        self._lock_fd = fd
        try:
            self._clean_debris()
            yield self
            if self.catalog.pending.all():
                self._clean_debris()
        finally:
            self._lock_fd = None
            guard.unlock(fd)

    def _clean_debris(self) -> None:
        pending = self.catalog.pending.all()
        committed = self.catalog.partitions.paths()
        removed = set(remove_debris(self.root, pending, committed))
        done = [p for p in pending if p in removed or p in committed]
        if done:
            with self.catalog.transaction():
                self.catalog.pending.remove(done)

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
        from logtool.schema import SCHEMAS

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
        import polars as pl

        from logtool.schema import SCHEMAS, conform

        schema = SCHEMAS[stage]
        if not parts:
            df = conform(pl.DataFrame(), schema)
            return df.select(columns) if columns else df
        try:
            # Schemas only grow: a partition written before a column existed reads it as null.
            return pl.read_parquet([str(self.root / p.path) for p in parts], columns=columns, hive_partitioning=False,
                                   schema=schema, missing_columns="insert")  # fmt: skip
        except Exception as e:  # polars and pyarrow raise several types for a damaged file
            raise self._damaged(parts, stage, e) from None

    def scan(self, parts: list[Partition]) -> pl.LazyFrame:
        """A lazy scan of ``parts`` (one stage), for queries the streaming engine runs in bounded
        memory; run it with :meth:`collect`, which names a damaged partition."""
        import polars as pl

        return pl.scan_parquet([str(self.root / p.path) for p in parts], hive_partitioning=False)

    def collect(self, lf: pl.LazyFrame, parts: list[Partition], stage: str) -> pl.DataFrame:
        """``lf`` (a query over :meth:`scan` of ``parts``) collected by the streaming engine."""
        try:
            return lf.collect(engine="streaming")
        except Exception as e:
            raise self._damaged(parts, stage, e) from None

    def iter_parts(self, parts: list[Partition], stage: str, batch_rows: int = 262_144) -> Iterator[pl.DataFrame]:
        """Rows of ``parts`` in bounded batches (memory stays flat for any partition size)."""
        import polars as pl
        import pyarrow.parquet as pq

        from logtool.schema import SCHEMAS, conform

        for p in parts:
            try:
                batches = pq.ParquetFile(self.root / p.path).iter_batches(batch_size=batch_rows)
            except Exception as e:
                raise self._damaged([p], stage, e) from None
            while True:
                try:
                    rb = next(batches, None)
                except Exception as e:
                    raise self._damaged([p], stage, e) from None
                if rb is None:
                    break
                yield conform(pl.from_arrow(rb), SCHEMAS[stage])  # type: ignore[arg-type]

    # damage -----------------------------------------------------------------------------
    def damage(self, p: Partition, sha: bool = False) -> str | None:
        """Why partition ``p`` cannot be trusted, or None: its file is missing, not a regular
        file, of another size than committed, or (``sha``) of other content."""
        path = self.root / p.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return "the file is missing"
        except OSError as e:
            return f"cannot read it: {e.strerror}"
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_size != p.size:
            return f"{st.st_size:,} bytes on disk, {p.size:,} committed: truncated or changed"
        if sha:
            try:
                if file_sha256(path) != p.sha256:
                    return "its content differs from the SHA-256 recorded at commit"
            except OSError as e:
                return f"cannot read it: {e.strerror}"
        return None

    def check(self, parts: list[Partition], stage: str, sha: bool = True) -> None:
        """Raise :class:`DamagedPartitionError` for the first of ``parts`` that is damaged."""
        for p in parts:
            if why := self.damage(p, sha):
                raise DamagedPartitionError(stage, p.path, why)

    def _damaged(self, parts: list[Partition], stage: str, error: Exception) -> StoreError:
        """The error to raise when reading ``parts`` failed: the damaged partition named if one
        is (checked by size and SHA-256), else the reader's own message."""
        for p in parts:
            if why := self.damage(p, sha=True):
                return DamagedPartitionError(stage, p.path, why)
        where = parts[0].path if len(parts) == 1 else f"{len(parts)} {stage} partitions"
        return DamagedPartitionError(stage, where, f"unreadable: {str(error).splitlines()[0] if str(error) else error}")


from logtool.store.change import Change  # noqa: E402  (re-exported; it needs Store's module loaded)
