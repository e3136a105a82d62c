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

#: Rejected lines, masked (:func:`logtool.anonymize.freetext.mask_lines`). ``ts``: the time
#: the line names, else when it was ingested; the quarantine follows the raw window by it.
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "ts": TS,
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

# Conversations (chat bot, call bot) ----------------------------------------------------------
#: One row per conversation record: a call (Twilio Call resource), a sentence of a call's
#: transcript, or a chat message. ``conversation_id`` ties them together (the call SID, the
#: chat session id); ``kind`` says which record a row is. Numbers are stored as given and, next
#: to them, reduced to country + area (``from_area``: ``+49 30``) at ingest.
CONV_RAW_SCHEMA: dict[str, pl.DataType] = {
    "ts": TS,  # call start (else creation), sentence start, message time
    "kind": pl.String(),  # call | utterance | message
    "channel": pl.String(),  # voice | chat
    "conversation_id": pl.String(),
    "parent_id": pl.String(),  # parent_call_sid
    "record_id": pl.String(),  # sentence SID, message id
    "seq": pl.Int32(),  # sentence_index, message order
    "role": pl.String(),  # utterances: the speaker (agent, customer, channel-N); messages: user | bot
    "direction": pl.String(),
    "status": pl.String(),  # call status; chat outcome
    "answered_by": pl.String(),
    "duration_s": pl.Float64(),
    "end_ts": TS,
    "price": pl.Float64(),
    "price_unit": pl.String(),
    "from_number": pl.String(),
    "to_number": pl.String(),
    "forwarded_from": pl.String(),
    "caller_name": pl.String(),
    "from_area": pl.String(),
    "to_area": pl.String(),
    "forwarded_area": pl.String(),
    "country": pl.String(),  # of the other party's number (calls), of the client address (chats)
    "client_ip": pl.String(),
    "client_net": pl.String(),
    "user_agent": pl.String(),
    "ua_family": pl.String(),
    "device": pl.String(),
    "page": pl.String(),
    "contact_name": pl.String(),
    "contact_email": pl.String(),
    "contact_phone": pl.String(),
    "text": pl.String(),
    "summary": pl.String(),
    "functions": pl.String(),  # functions (tools) the bot used, comma-separated
    "language": pl.String(),
    "source_file": pl.String(),
    "line_no": pl.Int64(),
}

#: Columns of a conversation record that identify a person and never leave ``conv_raw``.
CONV_PERSONAL_COLUMNS = (
    "from_number", "to_number", "forwarded_from", "caller_name", "client_ip", "user_agent",
    "contact_name", "contact_email", "contact_phone",
)  # fmt: skip

#: The anonymised conversation stage: no personal columns; text, summary and page redacted.
CONV_ANON_SCHEMA: dict[str, pl.DataType] = {k: v for k, v in CONV_RAW_SCHEMA.items() if k not in CONV_PERSONAL_COLUMNS}

#: Daily conversation aggregates in long form: conversations (or records) and seconds per key.
CONV_AGG_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "dimension": pl.String(),
    "key": pl.String(),
    "count": pl.Int64(),
    "seconds": pl.Float64(),
}


SCHEMAS = {
    "raw": RAW_SCHEMA,
    "anonymised": ANON_SCHEMA,
    "aggregates": AGG_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "conv_raw": CONV_RAW_SCHEMA,
    "conv_anonymised": CONV_ANON_SCHEMA,
    "conv_aggregates": CONV_AGG_SCHEMA,
}


def day_span(column: str = "ts") -> tuple[pl.Expr, pl.Expr]:
    """The UTC days of ``column``'s first and last time, as ``lo`` and ``hi`` (a day is monotone
    in the time, so no row needs a date of its own to tell a frame's days)."""
    ts = pl.col(column)
    return ts.min().dt.date().alias("lo"), ts.max().dt.date().alias("hi")


#: A private column of enriched records: one number per distinct user agent in a batch (its row
#: in the enrichment cache's table, :class:`~logtool.enrich.Enricher`), so the aggregates group
#: the agent's classes by one integer (:func:`logtool.lifecycle.aggregate.daily`). A number names
#: one agent within one enriched batch only (the table grows and starts over): frames enriched
#: apart are not concatenated with it. Stored records do not keep it (:func:`conform`).
AGENT_CODE = "_agent"


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return ``df`` with exactly the columns of ``schema``, in order, cast; missing ones null."""
    if df.width == 0:  # selecting literals from a frame without columns would yield one row
        return pl.DataFrame(schema=schema)
    if df.schema == schema:  # already conforming (the common case on the ingest path)
        return df
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
