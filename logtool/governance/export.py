"""Export a stage's rows as CSV, JSON lines or Parquet, streamed in bounded batches.

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``,
``@``, a tab or a CR: a user agent ``=cmd|' /C calc'!A0``) get a leading apostrophe, as OWASP
recommends (:func:`logtool.escape.csv_safe_frame`); JSON lines and Parquet keep values as logged.
"""

from __future__ import annotations

import enum
import io
from datetime import datetime
from typing import BinaryIO

import polars as pl
import pyarrow.parquet as pq

from logtool.escape import csv_safe_frame
from logtool.governance.disclosure import disclose
from logtool.governance.holds import held_rows
from logtool.governance.subjects import unrestricted
from logtool.schema import SCHEMAS, conform, iso_times
from logtool.store import Store


class ExportFormat(enum.StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


def export(
    store: Store,
    stage: str,
    out: BinaryIO,
    now: datetime,
    fmt: ExportFormat = ExportFormat.csv,
    date_from: str | None = None,
    date_to: str | None = None,
) -> int:
    """Write the rows of ``stage`` in the period to ``out`` (audited); returns the number of rows."""
    params = {"from": date_from, "to": date_to, "format": fmt.value}
    with disclose(store, "export", now, stage=stage, **params) as d:
        writer: pq.ParquetWriter | None = None
        first = True
        for df in store.iter_parts(store.parts(stage, date_from, date_to), stage):
            if stage == "raw":  # Art. 18: restricted subjects' rows are kept but not handed out
                df = unrestricted(store, df)
            if fmt is not ExportFormat.parquet:
                _write_text(df, out, fmt, header=first)
            else:
                table = df.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(out, table.schema, compression="zstd")
                writer.write_table(table)
            d.rows += df.height
            first = False
        if fmt is ExportFormat.parquet:
            if writer is None:  # empty export: still a valid, empty Parquet file
                conform(pl.DataFrame(), SCHEMAS[stage]).write_parquet(out)
            else:
                writer.close()
        if fmt is ExportFormat.csv and first:
            out.write((",".join(SCHEMAS[stage]) + "\n").encode())
    return d.rows


def export_hold(store: Store, hold_id: str, out: BinaryIO, now: datetime, fmt: ExportFormat = ExportFormat.csv) -> int:
    """Write the raw rows an active hold matches to ``out`` (audited); returns the number of rows."""
    _, rows = held_rows(store, hold_id, now, "export-hold", format=fmt.value)
    if fmt is ExportFormat.parquet:
        rows.write_parquet(out)
    else:
        _write_text(rows, out, fmt, header=True)
    return rows.height


def _write_text(df: pl.DataFrame, out: BinaryIO, fmt: ExportFormat, header: bool) -> None:
    df = iso_times(df)
    buf = io.BytesIO()
    if fmt is ExportFormat.csv:
        csv_safe_frame(df).write_csv(buf, include_header=header)
    elif fmt is ExportFormat.jsonl:
        df.write_ndjson(buf)
    else:
        raise AssertionError(f"not a text format: {fmt}")
    out.write(buf.getvalue())
