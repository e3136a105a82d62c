"""Crash-safe Parquet files: temp file, fsync, rename; removal of a writer's own debris.

A writer names what it writes ``.tmp-<id>.parquet`` until it is complete; the final name
``part-<id>.parquet`` is journaled in the catalog (``pending``) before the rename. So after an
interruption the next writer removes exactly the files it can prove are debris: temp files, and
journaled files the catalog never committed (or retired). Any other file is left alone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from logtool.errors import StoreError
from logtool.stages import STAGES
from logtool.store.guard import make_dir, readers_away
from logtool.store.records import Partition

if TYPE_CHECKING:  # polars and pyarrow load on the first write: commands that write nothing start faster
    import polars as pl
    import pyarrow.parquet as pq

TMP_PREFIX = ".tmp-"
#: Parquet key-value metadata of an ingest's files: the catalog record of the ingested file.
INGEST_KEY = "logtool.ingest"


@contextmanager
def io_errors(what: str) -> Iterator[None]:
    """An OS error while writing the store (a full disk, a folder without write permission)
    becomes one :class:`StoreError` line naming what could not be written."""
    try:
        yield
    except StoreError:
        raise
    except OSError as e:
        why = "no space left on device" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror or e
        raise StoreError(f"cannot write {what}: {why}; nothing was committed") from None


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


#: Integer columns whose values are nearly all distinct and mostly ascending within a file.
_DELTA = ("ts", "line_no")


def parquet_options(schema: dict[str, pl.DataType]) -> dict[str, object]:
    """Writer settings chosen by measurement (``bench/bench_stages.py --parquet``; README "Performance").

    * zstd (level 1, Arrow's default): a fifth of plain size for about 0.2 µs per row; lz4 and
      snappy save little time and write 40 % more.
    * Dictionaries for strings (user agents, paths, networks repeat: smaller *and* faster),
      none for numbers that rarely repeat (bytes, response times), and delta encoding for the
      timestamp and the line number.
    * Min/max statistics for the non-string columns only (time-range pruning of ``ts``);
      statistics of long strings cost a third of the encoding time and prune nothing.
    * No Arrow schema in the file: every engine (and pyarrow) reads the Parquet types alone.
    """
    import polars as pl

    strings = [c for c, t in schema.items() if t == pl.String]
    return {
        "compression": "zstd",
        "use_dictionary": strings,
        "write_statistics": [c for c in schema if c not in strings],
        "column_encoding": {c: "DELTA_BINARY_PACKED" for c in _DELTA if c in schema},
        "store_schema": False,
    }


class PartitionWriter:
    """Streams rows of one stage into one temporary Parquet file per day.

    ``write`` may be called many times (one row group per call and day) so memory stays
    bounded; ``finish`` fsyncs and renames the files into place and returns the partitions,
    which the caller must commit to the catalog. ``abort`` removes the temporary files.
    """

    def __init__(self, root: Path, stage: str, schema: dict[str, pl.DataType]) -> None:
        assert stage in STAGES
        self.root, self.stage, self.schema = root, stage, schema
        self._open: dict[str, tuple[Path, pq.ParquetWriter, list[int]]] = {}
        self._finished: list[Path] = []

    def days(self) -> list[str]:
        """The days written so far, in order."""
        return sorted(self._open)

    def write(self, df: pl.DataFrame, date_column: str | None = "ts") -> None:
        """Append rows; they are split by UTC day of ``date_column`` (or all to ``date`` col)."""
        import polars as pl

        from logtool.schema import conform, day_span

        if df.height == 0:
            return
        df = conform(df, self.schema)
        day = pl.col("ts").dt.date() if date_column == "ts" else pl.col("date")
        span = day_span() if date_column == "ts" else (day.min().alias("lo"), day.max().alias("hi"))
        first, last = df.select(*span).row(0)
        if first == last and first is not None:  # the usual batch: one day, no copy
            self.write_day(str(first), df)
            return
        keyed = df.with_columns(day.cast(pl.String).alias("_d"))
        for (d,), part in keyed.partition_by("_d", as_dict=True, maintain_order=True).items():
            self.write_day(str(d), part.drop("_d"))

    def write_day(self, day: str, df: pl.DataFrame) -> None:
        import polars as pl
        import pyarrow.parquet as pq

        from logtool.schema import conform

        if df.height == 0:
            return
        # Polars strings go to Arrow as string views without a copy (``CompatLevel.newest``);
        # converting them to Arrow's classic strings cost more than encoding them.
        table = conform(df, self.schema).to_arrow(compat_level=pl.CompatLevel.newest())
        if day not in self._open:
            d = self.root / self.stage / f"date={day}"
            make_dir(d)
            tmp = d / f"{TMP_PREFIX}{uuid.uuid4().hex}.parquet"

            with io_errors(f"{self.stage} partition in {d}"):
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
                writer = pq.ParquetWriter(str(tmp), table.schema, **parquet_options(self.schema))
            self._open[day] = (tmp, writer, [0])
        tmp, writer, count = self._open[day]
        with io_errors(f"{self.stage} partition {tmp.relative_to(self.root)}"):
            writer.write_table(table)
        count[0] += df.height

    def finish(self, metadata: dict[str, str] | None = None) -> list[tuple[Path, Partition]]:
        """Close, fsync and checksum every file; return (temp path, partition under its final
        name) pairs. The caller journals the final names, then renames (see :func:`publish`).
        ``metadata`` goes into each file's key-value metadata (``logtool recover`` reads it)."""
        out = []
        for day, (tmp, writer, count) in sorted(self._open.items()):
            with io_errors(f"{self.stage} partition {tmp.relative_to(self.root)}"):
                if metadata:
                    writer.add_key_value_metadata(metadata)
                writer.close()
                os.chmod(tmp, 0o600)
                with open(tmp, "rb") as f:
                    os.fsync(f.fileno())
            final = tmp.with_name(f"part-{tmp.stem.removeprefix(TMP_PREFIX)}.parquet")
            part = Partition(self.stage, day, str(final.relative_to(self.root)), count[0], tmp.stat().st_size,
                             file_sha256(tmp))  # fmt: skip
            out.append((tmp, part))
        self._finished = [tmp for tmp, _ in out]
        self._open.clear()
        return out

    def abort(self) -> None:
        for tmp, writer, _ in self._open.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)
        for tmp in self._finished:
            tmp.unlink(missing_ok=True)
        self._open.clear()
        self._finished = []


def publish(root: Path, files: list[tuple[Path, Partition]]) -> None:
    """Rename finished temp files to their (already journaled) final names, durably."""
    dirs = set()
    with io_errors("the store's partitions"):
        for tmp, part in files:
            os.replace(tmp, root / part.path)
            dirs.add(tmp.parent)
        for d in dirs:
            fsync_dir(d)


def unlink_all(root: Path, paths: list[str]) -> None:
    """Remove files of the store (and date folders left empty), durably; missing ones are fine."""
    dirs = set()
    for rel in paths:
        p = root / rel
        if any(q.is_symlink() for q in (p, *p.parents) if q != root and root in q.parents):
            raise StoreError(f"store {root}: {rel} lies behind a symbolic link; not deleted")
        p.unlink(missing_ok=True)
        dirs.add(p.parent)
    for d in dirs:
        with suppress(OSError):
            d.rmdir()
        fsync_dir(d.parent)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def stage_files(root: Path, stages: tuple[str, ...] = STAGES) -> list[str]:
    """Every Parquet file under the stage folders, relative to ``root`` (temp files included).
    Symbolic links are not followed (nor listed: :func:`~logtool.store.guard.check_links`
    refuses a store that has them)."""
    out = []
    for stage in stages:
        base = root / stage
        if base.is_symlink():
            continue
        for day in _entries(base):
            if not day.name.startswith("date=") or not day.is_dir(follow_symlinks=False):
                continue
            out += [f"{stage}/{day.name}/{f.name}" for f in _entries(Path(day.path))
                    if f.name.endswith(".parquet") and f.is_file(follow_symlinks=False)]  # fmt: skip
    return out


def remove_debris(root: Path, pending: list[str], committed: set[str]) -> list[str]:
    """Delete what an interrupted writer left: temp files, and journaled files the catalog does
    not list (files it never committed, or retired). Files that are neither are not ours to
    delete (``verify`` reports them). Journaled files are deleted only while no reader holds the
    readers' lock: a reader may still be reading a retired one."""
    debris = [rel for rel in stage_files(root) if Path(rel).name.startswith(TMP_PREFIX)]
    journaled = [rel for rel in pending if rel not in committed]
    with readers_away(root) as free:
        unlink_all(root, debris + (journaled if free else []))
    for stage in STAGES:
        for d in _entries(root / stage):
            if d.name.startswith("date=") and d.is_dir(follow_symlinks=False) and not _entries(Path(d.path)):
                with suppress(OSError):
                    os.rmdir(d.path)
    return debris + (journaled if free else [])
