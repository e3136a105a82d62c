"""The canonical record schema and what each lifecycle stage keeps of it.

Parquet consumers (DuckDB, Spark, Trino) rely on these column names and types.
"""

from __future__ import annotations

import polars as pl

TS = pl.Datetime("us", "UTC")

#: Every column of a raw-stage record, in order.
RAW_SCHEMA: dict[str, pl.DataType] = {
    "ts": TS,
    "tz_offset_min": pl.Int16(),
    "client_ip": pl.String(),
    "client_net": pl.String(),
    "visitor_key": pl.String(),
    "remote_user": pl.String(),
    "method": pl.String(),
    "path": pl.String(),
    "query": pl.String(),
    "protocol": pl.String(),
    "status": pl.Int16(),
    "bytes": pl.Int64(),
    "referrer": pl.String(),
    "user_agent": pl.String(),
    "vhost": pl.String(),
    "xff": pl.String(),
    "request_time_s": pl.Float64(),
    "ua_family": pl.String(),
    "ua_major": pl.String(),
    "os_family": pl.String(),
    "device": pl.String(),
    "is_bot": pl.Boolean(),
    "country": pl.String(),
    "source_file": pl.String(),
    "line_no": pl.Int64(),
}

#: Columns that identify a person and never leave the raw stage.
PERSONAL_COLUMNS = ("client_ip", "visitor_key", "remote_user", "xff", "user_agent")

#: The anonymised stage: the raw schema without the personal columns.
ANON_SCHEMA: dict[str, pl.DataType] = {k: v for k, v in RAW_SCHEMA.items() if k not in PERSONAL_COLUMNS}

#: Rejected lines, after masking every IP-looking token.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "line_no": pl.Int64(),
    "reason": pl.String(),
    "line": pl.String(),
}

#: Daily aggregates in long form: one row per (date, dimension, key, vhost). ``vhost`` is null
#: for requests logged without one, for counts that are not per vhost (behavioural findings), and
#: in partitions written before the column existed (they count for "all vhosts" only).
AGG_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "dimension": pl.String(),
    "key": pl.String(),
    "requests": pl.Int64(),
    "bytes": pl.Int64(),
    "vhost": pl.String(),
}

STAGES = ("raw", "anonymised", "aggregates", "quarantine")

SCHEMAS = {
    "raw": RAW_SCHEMA,
    "anonymised": ANON_SCHEMA,
    "aggregates": AGG_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
}


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return ``df`` with exactly the columns of ``schema``, in order, cast; missing ones null."""
    if df.width == 0:  # selecting literals from a frame without columns would yield one row
        return pl.DataFrame(schema=schema)
    return df.select(
        [
            (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )


#: How times are written in every text output of rows (CSV, JSON, JSON lines): ISO 8601 with
#: microseconds and the UTC offset, e.g. ``2026-11-10T01:02:03.456000+00:00``.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.6f%:z"


def iso_times(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every datetime column as ISO 8601 text (:data:`ISO_FORMAT`)."""
    times = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
    return df.with_columns(pl.col(c).dt.strftime(ISO_FORMAT) for c in times) if times else df
