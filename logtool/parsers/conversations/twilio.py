"""Twilio exports of the call bot: Call resources (REST API pages, JSON lines, the console's CSV
call log) and Voice Intelligence transcripts with their sentences.

Field names follow Twilio's public API reference. A Call resource (``sid`` ``CA…``) gives one
``call`` record: ``start_time`` (else ``date_created``; RFC 2822 or ISO), ``end_time``,
``duration`` (seconds, as text), ``from``/``to`` (E.164, SIP address or ``client:name``; the
``*_formatted`` variants only when those are missing), ``direction``, ``status``, ``price`` and
``price_unit``, ``caller_name``, ``answered_by``, ``forwarded_from``, ``parent_call_sid``. A
transcript (``sid`` ``GT…``, with its ``sentences`` embedded as the Sentences subresource lists
them: ``media_channel``, ``sentence_index``, ``start_time``/``end_time`` offsets in seconds,
``transcript``, ``sid`` ``GX…``) gives one ``utterance`` record per sentence, timed from the
transcript's ``media_start_time`` (else ``date_created``), tied to its call by
``channel.media_properties`` (``reference_sids.call_sid`` or a ``source_sid`` that is a call)
or a top-level ``call_sid``; the speaker is the channel's participant ``role``.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import polars as pl

from logtool.parsers.conversations.base import (
    Batches,
    Parsed,
    first_char,
    frame,
    get_path,
    is_json_lines,
    json_lines,
    micros,
    number,
    parse_time,
    rejects,
    text,
    whole_text,
)
from logtool.schema import CONV_RAW_SCHEMA, conform

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_CALL_IN_TEXT = re.compile(r'"sid"\s*:\s*"CA[0-9a-fA-F]{32}"')

#: Raw-schema column → the Call resource's field (first non-empty wins).
CALL_FIELDS: dict[str, tuple[str, ...]] = {
    "conversation_id": ("sid",),
    "parent_id": ("parent_call_sid",),
    "direction": ("direction",),
    "status": ("status",),
    "answered_by": ("answered_by",),
    "price_unit": ("price_unit",),
    "from_number": ("from", "from_formatted"),
    "to_number": ("to", "to_formatted"),
    "forwarded_from": ("forwarded_from",),
    "caller_name": ("caller_name",),
}

_CALL_COLUMNS = [*CALL_FIELDS, "ts", "end_ts", "duration_s", "price", "kind", "channel", "line_no"]


def _first(rec: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = text(rec.get(k))
        if v is not None:
            return v
    return None


def call_rows(items: list[tuple[int, dict[str, Any]]]) -> tuple[dict[str, list[Any]], list[tuple[int, str, str]]]:
    """Call resources (with their line or position) → column lists, and the rejects."""
    cols: dict[str, list[Any]] = {c: [] for c in _CALL_COLUMNS}
    bad: list[tuple[int, str, str]] = []
    for n, rec in items:
        sid = text(rec.get("sid"))
        ts = parse_time(rec.get("start_time")) or parse_time(rec.get("date_created"))
        if sid is None:
            bad.append((n, "call without sid", json.dumps(rec, default=str)))
            continue
        if ts is None:
            bad.append((n, "call without a valid start_time or date_created", json.dumps(rec, default=str)))
            continue
        for col, keys in CALL_FIELDS.items():
            value = _first(rec, keys)
            cols[col].append(value.lower() if value and col in ("direction", "status", "answered_by") else value)
        cols["ts"].append(ts)
        cols["end_ts"].append(parse_time(rec.get("end_time")))
        cols["duration_s"].append(number(rec.get("duration")))
        cols["price"].append(number(rec.get("price")))
        cols["kind"].append("call")
        cols["channel"].append("voice")
        cols["line_no"].append(n)
    return cols, bad


def _records(doc: Any, key: str) -> list[Any] | None:
    """The resources of a REST page (``{"calls": […], "page": …}``), a bare list, or one resource."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if isinstance(doc.get(key), list):
            return doc[key]
        return [doc]
    return None


def _document(batches: Batches, key: str) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str, str]]]:
    body, _ = whole_text(batches)
    try:
        doc = json.loads(body)
    except ValueError as e:
        return [], [(1, "invalid JSON document", f"{e}: {body[:200]}")]
    items = _records(doc, key)
    if items is None:
        return [], [(1, f"not a {key} page", body[:200])]
    good = [(i + 1, r) for i, r in enumerate(items) if isinstance(r, dict)]
    bad = [
        (i + 1, "not a JSON object", json.dumps(r, default=str)) for i, r in enumerate(items) if not isinstance(r, dict)
    ]
    return good, bad


def _split_json(
    batches: Batches, key: str
) -> Iterator[tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str, str]]]]:
    """JSON lines batch by batch (a line may hold a whole page); a JSON document (first
    character ``[``, or an object spanning several lines) read whole."""
    head = next(batches, None)
    if head is None:
        return
    lines = head.get_column("line")
    if first_char(lines) != "{" or is_json_lines(lines, lambda v: True) < 0.5:
        yield _document(itertools.chain([head], batches), key)
        return
    for batch in itertools.chain([head], batches):
        good: list[tuple[int, dict[str, Any]]] = []
        bad: list[tuple[int, str, str]] = []
        texts = dict(batch.select("line_no", "line").iter_rows())
        for n, value, reason in json_lines(batch):
            if value is None:
                bad.append((n, reason or "invalid JSON", texts[n]))
            else:
                good += [(n, r) for r in _records(value, key) or [] if isinstance(r, dict)]
        yield good, bad


class TwilioCalls:
    """Call resources as JSON: a REST API page, a list, or JSON lines."""

    name = "twilio_calls"
    kind = "conversation"
    description = "Twilio Call resources: REST API pages (Calls.json) or JSON lines"
    sample = (
        '{"sid": "CA0123456789abcdef0123456789abcdef", "date_created": "Tue, 24 Nov 2026 10:00:00 +0000", '
        '"start_time": "Tue, 24 Nov 2026 10:00:01 +0000", "end_time": "Tue, 24 Nov 2026 10:02:13 +0000", '
        '"duration": "132", "from": "+12015550123", "to": "+493023125000", "direction": "inbound", '
        '"status": "completed", "price": "-0.0085", "price_unit": "USD", "caller_name": null}'
    )

    def match_rate(self, lines: Any) -> float:
        joined = "\n".join(lines.head(400).to_list())
        if not _CALL_IN_TEXT.search(joined) or '"sentences"' in joined:
            return 0.0
        return 1.0 if ('"direction"' in joined or '"to"' in joined) else 0.0

    def parse_stream(self, batches: Batches) -> Parsed:
        for good, bad in _split_json(iter(batches), "calls"):
            cols, more = call_rows(good)
            yield frame(cols), rejects(bad + more)


def _column_name(header: str) -> str:
    """``Call Sid`` / ``Start Time`` / ``from_formatted`` → the API's snake-case name."""
    name = re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")
    return {"call_sid": "sid", "parent_call": "parent_call_sid", "parent_sid": "parent_call_sid",
            "caller_id_name": "caller_name", "date": "date_created"}.get(name, name)  # fmt: skip


class TwilioCallsCsv:
    """The console's call-log CSV export (column names matched case-insensitively; spaces and
    underscores alike, so ``Call Sid``, ``Start Time``, ``sid``, ``start_time`` all work)."""

    name = "twilio_calls_csv"
    kind = "conversation"
    description = "Twilio console call-log export (CSV with a header: Call Sid, From, To, Start Time, …)"
    sample = (
        "Call Sid,Date Created,Start Time,End Time,Duration,From,To,Direction,Status,Price,Price Unit\n"
        "CA0123456789abcdef0123456789abcdef,2026-11-24 10:00:00 UTC,2026-11-24 10:00:01 UTC,"
        "2026-11-24 10:02:13 UTC,132,+12015550123,+493023125000,inbound,completed,-0.0085,USD"
    )

    def match_rate(self, lines: Any) -> float:
        first = next((ln for ln in lines.head(5).to_list() if ln.strip()), "")
        try:
            header = {_column_name(h) for h in next(csv.reader([first]))}
        except (csv.Error, StopIteration):
            return 0.0
        need = {"sid", "from", "to"} <= header and bool({"start_time", "date_created"} & header)
        return 1.0 if need else 0.0

    def parse_stream(self, batches: Batches) -> Parsed:
        header: list[str] | None = None
        for batch in batches:
            good: list[tuple[int, dict[str, Any]]] = []
            bad: list[tuple[int, str, str]] = []
            for n, line in batch.select("line_no", "line").iter_rows():
                if not line.strip():
                    continue
                try:
                    row = next(csv.reader([line]))
                except csv.Error:
                    bad.append((n, "invalid CSV", line))
                    continue
                if header is None:
                    header = [_column_name(h) for h in row]
                    continue
                if len(row) != len(header):
                    bad.append((n, f"{len(row)} fields, the header has {len(header)}", line))
                    continue
                good.append((n, dict(zip(header, row, strict=True))))
            cols, more = call_rows(good)
            yield frame(cols), rejects(bad + more)


def _call_of(tr: dict[str, Any]) -> str | None:
    media = get_path(tr, "channel.media_properties") or {}
    for v in (get_path(media, "reference_sids.call_sid"), get_path(media, "source_sid"), tr.get("call_sid")):
        if isinstance(v, str) and CALL_SID.match(v):
            return v
    return text(tr.get("sid"))


def _speakers(tr: dict[str, Any]) -> dict[Any, tuple[str, str | None]]:
    """media channel (as int and as text) → (role, the participant's number when it is one)."""
    out: dict[Any, tuple[str, str | None]] = {}
    for p in get_path(tr, "channel.participants") or []:
        if not isinstance(p, dict):
            continue
        ch = number(p.get("channel_participant"))
        if ch is None:
            continue
        role = (text(p.get("role")) or f"channel-{int(ch)}").lower()
        out[int(ch)] = out[str(int(ch))] = (role, text(p.get("media_participant_id")))
    return out


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) or v is None else json.dumps(v) if isinstance(v, dict | list) else str(v)


def transcript_frame(items: list[tuple[int, dict[str, Any]]]) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Transcripts → one row per sentence. Python only walks the sentences; numbers, times and
    offsets are converted in polars, column by column."""
    names = ("base_us", "call", "lang", "line_no", "role", "who", "summary", "i", "ch", "start", "end", "idx", "sid",
             "text")  # fmt: skip
    cols: dict[str, list[Any]] = {c: [] for c in names}
    bad: list[tuple[int, str, str]] = []
    for n, tr in items:
        base = parse_time(tr.get("media_start_time")) or parse_time(tr.get("date_created"))
        sentences = tr.get("sentences")
        if base is None:
            bad.append((n, "transcript without a valid media_start_time or date_created", json.dumps(tr, default=str)))
            continue
        if not isinstance(sentences, list):
            bad.append((n, "transcript without a sentences list", json.dumps(tr, default=str)))
            continue
        good = [x for x in sentences if isinstance(x, dict)]
        bad += [
            (n, "sentence is not a JSON object", json.dumps(x, default=str))
            for x in sentences
            if not isinstance(x, dict)
        ]
        k = len(good)
        if not k:
            continue
        speakers, summary = _speakers(tr), text(tr.get("summary"))
        cols["base_us"] += [micros(base)] * k
        cols["call"] += [_call_of(tr)] * k
        cols["lang"] += [text(tr.get("language_code"))] * k
        cols["line_no"] += [n] * k
        cols["summary"] += [summary] + [None] * (k - 1)
        cols["i"] += range(k)
        chans = [x.get("media_channel") for x in good]
        who = [speakers.get(c) if isinstance(c, int | str) else None for c in chans]
        cols["role"] += [w[0] if w else f"channel-{_s(c) or 0}" for w, c in zip(who, chans, strict=True)]
        cols["who"] += [w[1] if w else None for w in who]
        cols["ch"] += chans
        for col, key in (("start", "start_time"), ("end", "end_time"), ("idx", "sentence_index"), ("sid", "sid"),
                         ("text", "transcript")):  # fmt: skip
            cols[col] += [_s(x.get(key)) for x in good]
    cols.pop("ch")
    schema = {c: pl.String() for c in cols} | {"base_us": pl.Int64(), "line_no": pl.Int64(), "i": pl.Int64()}
    df = pl.DataFrame(cols, schema=schema)
    start, end = (pl.col(c).cast(pl.Float64, strict=False) for c in ("start", "end"))
    at = lambda secs: (pl.col("base_us") + (secs * 1e6).round().cast(pl.Int64)).cast(pl.Datetime("us", "UTC"))  # noqa: E731
    idx = pl.col("idx").cast(pl.Float64, strict=False)
    blank = lambda c: pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c))  # noqa: E731
    out = df.select(
        at(start.fill_null(0.0)).alias("ts"),
        at(end).alias("end_ts"),
        pl.col("call").alias("conversation_id"),
        blank("sid").alias("record_id"),
        pl.when(idx.abs() < 2**31).then(idx).otherwise(pl.col("i")).cast(pl.Int32).alias("seq"),
        "role",
        pl.col("who").alias("from_number"),
        blank("text").alias("text"),
        (end - start).alias("duration_s"),
        pl.col("lang").alias("language"),
        "summary",
        pl.lit("utterance").alias("kind"),
        pl.lit("voice").alias("channel"),
        "line_no",
    )
    return conform(out, CONV_RAW_SCHEMA), bad


class TwilioTranscripts:
    """Voice Intelligence transcripts with their sentences: one JSON document (a transcript, a
    list, or ``{"transcripts": […]}``) or JSON lines, one transcript per line."""

    name = "twilio_transcripts"
    kind = "conversation"
    description = "Twilio Voice Intelligence transcripts with sentences (JSON or JSON lines)"
    sample = (
        '{"sid": "GT0123456789abcdef0123456789abcdef", "date_created": "2026-11-24T10:02:30Z", '
        '"media_start_time": "2026-11-24T10:00:01Z", "language_code": "en-US", "channel": {"media_properties": '
        '{"reference_sids": {"call_sid": "CA0123456789abcdef0123456789abcdef"}}, "participants": '
        '[{"channel_participant": 1, "role": "Customer"}, {"channel_participant": 2, "role": "Agent"}]}, '
        '"sentences": [{"media_channel": 2, "sentence_index": 0, "start_time": "0.4", "end_time": "2.1", '
        '"transcript": "Hello, how can I help?", "sid": "GX0123456789abcdef0123456789abcdef"}]}'
    )

    def match_rate(self, lines: Any) -> float:
        joined = "\n".join(lines.head(400).to_list())
        return 1.0 if '"sentences"' in joined and re.search(r'"(?:transcript|media_channel)"\s*:', joined) else 0.0

    def parse_stream(self, batches: Batches) -> Parsed:
        for good, bad in _split_json(iter(batches), "transcripts"):
            df, more = transcript_frame(good)
            yield df, rejects(bad + more)


FORMATS = (TwilioCalls(), TwilioCallsCsv(), TwilioTranscripts())
