"""Export a stage's rows as CSV, JSON lines or Parquet, streamed in bounded batches."""

from __future__ import annotations

import enum
import io
from datetime import UTC, datetime
from typing import BinaryIO

import polars as pl
import pyarrow.parquet as pq

from logtool.errors import ConfigError
from logtool.store import Store
from logtool.subjects import unrestricted


class ExportFormat(enum.StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


EXPORT_STAGES = ("raw", "anonymised")


def export(
    store: Store,
    stage: str,
    out: BinaryIO,
    fmt: ExportFormat = ExportFormat.csv,
    date_from: str | None = None,
    date_to: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write the rows of ``stage`` in the period to ``out``; returns the number of rows."""
    if stage not in EXPORT_STAGES:
        raise ConfigError(f"cannot export stage {stage!r}; choose one of: {', '.join(EXPORT_STAGES)}")
    parts = store.catalog.partitions(stage, date_from, date_to)
    rows = 0
    writer: pq.ParquetWriter | None = None
    first = True
    for df in store.iter_parts(parts, stage):
        if stage == "raw":  # Art. 18: restricted subjects' rows are kept but not handed out
            df = unrestricted(store, df)
        rows += df.height
        if fmt is not ExportFormat.parquet:
            _write_text(df, out, fmt, header=first)
        else:
            table = df.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, compression="zstd")
            writer.write_table(table)
        first = False
    if fmt is ExportFormat.parquet:
        if writer is None:  # empty export: still a valid, empty Parquet file
            from logtool.schema import SCHEMAS, conform

            conform(pl.DataFrame(), SCHEMAS[stage]).write_parquet(out)
        else:
            writer.close()
    if fmt is ExportFormat.csv and first:
        out.write((",".join(store.read_parts([], stage).columns) + "\n").encode())
    with store.catalog.transaction() as db:  # row-level output is audited (no personal data in it)
        store.catalog.audit(
            db,
            datetime.now(UTC).isoformat() if now is None else now.isoformat(),
            "export",
            {"stage": stage, "from": date_from, "to": date_to, "format": fmt.value},
            {"rows": rows},
        )
    return rows


def export_frame(df: pl.DataFrame, out: BinaryIO, fmt: ExportFormat) -> None:
    """Write one in-memory frame (rows of a hold) in ``fmt``."""
    if fmt is ExportFormat.parquet:
        df.write_parquet(out)
    else:
        _write_text(df, out, fmt, header=True)


def _write_text(df: pl.DataFrame, out: BinaryIO, fmt: ExportFormat, header: bool) -> None:
    buf = io.BytesIO()
    if fmt is ExportFormat.csv:
        df.write_csv(buf, include_header=header)
    elif fmt is ExportFormat.jsonl:
        df.write_ndjson(buf)
    else:
        raise AssertionError(f"not a text format: {fmt}")
    out.write(buf.getvalue())
