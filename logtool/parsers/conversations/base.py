"""What every conversation format shares: the record builder, time parsing, JSON paths, rejects.

A conversation format reads a whole input as a stream of line batches (from
:func:`logtool.inputs.iter_batches`) and yields ``(records, rejects)`` pairs: records in
:data:`logtool.schema.CONV_RAW_SCHEMA` (enrichment — number areas, countries, networks — is
added at ingest), rejects with ``line_no``, ``reason`` and ``line`` like the log formats'.
JSON-lines formats work batch by batch; a JSON document (a REST API page) is read whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import polars as pl

from logtool.schema import CONV_RAW_SCHEMA, conform

Batches = Iterator[pl.DataFrame]
Parsed = Iterator[tuple[pl.DataFrame, pl.DataFrame]]

#: Longest quarantined record kept (characters).
MAX_REJECT = 4096
REJECT_SCHEMA = {"line_no": pl.Int64(), "reason": pl.String(), "line": pl.String()}


@lru_cache(maxsize=65_536)
def parse_time(value: Any) -> datetime | None:
    """A timestamp in any spelling these exports use, as UTC: RFC 2822 (Twilio's REST API,
    ``Tue, 24 Nov 2026 10:00:00 +0000``), ISO 8601 (``Z`` or an offset; naive means UTC),
    ``2026-11-24 10:00:00 UTC`` (console exports), epoch seconds or milliseconds."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        secs = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(secs, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        return parse_time(float(text))
    t = re.sub(r"\s+(?:UTC|GMT)$", "+00:00", text)
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def number(value: Any) -> float | None:
    """A number given as JSON number or text (Twilio writes ``"duration": "42"``)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and abs(out) != float("inf") else None  # NaN and infinity are junk


def text(value: Any) -> str | None:
    """A scalar as text; lists of names joined with commas; objects and empty strings null."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [text(v) for v in value]
        joined = ",".join(i for i in items if i)
        return joined or None
    if isinstance(value, dict):
        name = value.get("name")
        return text(name) if name is not None else None
    out = str(value)
    return out if out.strip() else None


def get_path(obj: Any, path: str) -> Any:
    """``obj["a"]["b"]`` for ``"a.b"``; a key that itself contains the dots wins."""
    if not isinstance(obj, dict):
        return None
    if path in obj:
        return obj[path]
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(dt: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (dt - _EPOCH) // _MICRO


def frame(rows: dict[str, list[Any]]) -> pl.DataFrame:
    """Column lists → a conversation frame in the raw schema (missing columns null). Times go
    in as epoch microseconds (building a column from ``datetime`` objects is slow)."""
    schema = {k: CONV_RAW_SCHEMA[k] for k in rows}
    times = [k for k, t in schema.items() if isinstance(t, pl.Datetime)]
    for k in times:
        rows[k] = [None if d is None else micros(d) for d in rows[k]]
        schema[k] = pl.Int64()
    df = pl.DataFrame(rows, schema=schema).with_columns(pl.col(k).cast(CONV_RAW_SCHEMA[k]) for k in times)
    return conform(df, CONV_RAW_SCHEMA)


def rejects(items: list[tuple[int, str, str]]) -> pl.DataFrame:
    """(line number, reason, text) triples as a reject frame; text cut at :data:`MAX_REJECT`."""
    return pl.DataFrame([(n, r, t[:MAX_REJECT]) for n, r, t in items], schema=REJECT_SCHEMA, orient="row")


def json_lines(batch: pl.DataFrame) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, decoded value or None, reason when it is not a JSON object) per non-empty line."""
    for line_no, line in batch.select("line_no", "line").iter_rows():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield line_no, None, "invalid JSON"
            continue
        if not isinstance(value, dict):
            yield line_no, None, "not a JSON object"
            continue
        yield line_no, value, None


def whole_text(batches: Batches) -> tuple[str, int]:
    """Every line of the input joined again (a JSON document), and the number of lines."""
    parts: list[str] = []
    lines = 0
    for b in batches:
        col = b.get_column("line")
        parts.append("\n".join(col.to_list()))
        lines += col.len()
    return "\n".join(parts), lines


def first_char(lines: pl.Series) -> str:
    for line in lines.head(50).to_list():
        if line.strip():
            return line.strip()[0]
    return ""


def is_json_lines(lines: pl.Series, test: Any) -> float:
    """Share of the sampled non-empty lines that are JSON objects passing ``test``."""
    sample = [ln for ln in lines.head(200).to_list() if ln.strip()]
    if not sample:
        return 0.0
    hits = 0
    for ln in sample:
        try:
            value = json.loads(ln)
        except ValueError:
            continue
        hits += isinstance(value, dict) and bool(test(value))
    return hits / len(sample)
