"""Crash-safe Parquet files: temp file, fsync, rename; orphan removal at writer start."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow.parquet as pq

from logtool.schema import STAGES, conform
from logtool.store.catalog import Partition

TMP_PREFIX = ".tmp-"


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

    def write(self, df: pl.DataFrame, date_column: str | None = "ts") -> None:
        """Append rows; they are split by UTC day of ``date_column`` (or all to ``date`` col)."""
        if df.height == 0:
            return
        df = conform(df, self.schema)
        if date_column == "ts":
            keyed = df.with_columns(pl.col("ts").dt.date().cast(pl.String).alias("_d"))
        else:
            keyed = df.with_columns(pl.col("date").cast(pl.String).alias("_d"))
        for (day,), part in keyed.partition_by("_d", as_dict=True, maintain_order=True).items():
            self.write_day(str(day), part.drop("_d"))

    def write_day(self, day: str, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        if day not in self._open:
            d = self.root / self.stage / f"date={day}"
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = d / f"{TMP_PREFIX}{uuid.uuid4().hex}.parquet"
            table = conform(df, self.schema).to_arrow()
            import pyarrow.parquet as pq  # imported on first write: read-only commands start faster

            writer = pq.ParquetWriter(str(tmp), table.schema, compression="zstd")
            self._open[day] = (tmp, writer, [0])
        tmp, writer, count = self._open[day]
        table = conform(df, self.schema).to_arrow().cast(writer.schema)
        writer.write_table(table)
        count[0] += df.height

    def finish(self, file_id: int | None = None) -> list[Partition]:
        out = []
        for day, (tmp, writer, count) in sorted(self._open.items()):
            writer.close()
            os.chmod(tmp, 0o600)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            final = tmp.with_name(f"part-{tmp.stem.removeprefix(TMP_PREFIX)}.parquet")
            os.replace(tmp, final)
            fsync_dir(final.parent)
            out.append(
                Partition(
                    stage=self.stage,
                    date=day,
                    path=str(final.relative_to(self.root)),
                    rows=count[0],
                    size=final.stat().st_size,
                    sha256=file_sha256(final),
                    file_id=file_id,
                )
            )
        self._open.clear()
        return out

    def abort(self) -> None:
        for tmp, writer, _ in self._open.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)
        self._open.clear()


def remove_orphans(root: Path, known: set[str]) -> list[str]:
    """Delete Parquet files the catalog does not list (leftovers of an interrupted run)."""
    removed = []
    for stage in STAGES:
        base = root / stage
        if not base.is_dir():
            continue
        for f in base.glob("date=*/*.parquet"):
            rel = str(f.relative_to(root))
            if f.name.startswith(TMP_PREFIX) or rel not in known:
                f.unlink(missing_ok=True)
                removed.append(rel)
        for d in base.glob("date=*"):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    return removed
