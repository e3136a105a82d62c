"""The quarantine: lines that could not be parsed, kept masked for as long as raw data is.

A quarantined line is raw data that failed to parse, so it lives by the raw stage's rules:

* **masked** at ingest as a whole line (:func:`logtool.anonymize.freetext.mask_lines`: the URL
  redaction over every part of it, CLF ident and user, hostnames), never by position;
* **dated** by the time the line itself names where one can be read (a CLF ``[time]``, an ISO
  8601 time, HAProxy's ``[time.ms]``, a W3C ``date time``, a JSON epoch ``"ts"``), else by its
  ingestion time; never later than the ingestion time (a clock far in the future cannot keep a
  line for good). Partitions are by the UTC day of that time;
* **deleted** with the raw window: ``retain`` drops a quarantine day once all of it is older than
  ``raw_days``, except the rows an active hold's time window covers (a masked line's client
  cannot be checked against a hold's networks, so every hold keeps the lines of its window);
  ``verify`` reports quarantine rows past the window as overdue.

Quarantine partitions written before lines were dated have no ``ts``: they are dated by their
partition (the ingestion day) and no hold matches them.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from logtool.anonymize.freetext import mask_lines
from logtool.config import DEFAULT_SENSITIVE_PARAMS
from logtool.lifecycle.holdmatch import held_mask
from logtool.parsers.normalise import timestamp
from logtool.pipeline import compact
from logtool.schema import TS
from logtool.store import Hold, Partition, Store
from logtool.store.files import PartitionWriter

#: Longest quarantined line kept (characters); the rest is cut with a marker.
MAX_QUARANTINE_LINE = 4096

#: Where a rejected line may name its time, as the normaliser's time groups.
_TIMES = {
    "time": r"\[([0-9]{1,2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4})\]",
    "time_naive_ms": r"\[([0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})\]",
    "time_iso": r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2}))",
    "msec": r'"(?:ts|msec|timestamp)"[ \t]*:[ \t]*"?([0-9]{10}(?:\.[0-9]+)?)',
}
_W3C = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ \t]([0-9]{2}:[0-9]{2}:[0-9]{2})[ \t]"


def line_times(lines: pl.Series, now: datetime) -> pl.Series:
    """The time each line names (UTC), else ``now``; never later than ``now``."""
    groups = {name: pl.col("line").str.extract(rx, 1).alias(name) for name, rx in _TIMES.items()}
    w3c = pl.concat_str(
        [pl.col("line").str.extract(_W3C, 1), pl.lit("T"), pl.col("line").str.extract(_W3C, 2), pl.lit("Z")]
    )
    groups["time_iso"] = pl.coalesce(groups["time_iso"], w3c).alias("time_iso")
    found = [timestamp(frozenset({name}))[0] for name in _TIMES]
    cap = pl.lit(now).cast(TS)
    ts = pl.min_horizontal(pl.coalesce(found), cap).fill_null(cap)
    return pl.DataFrame({"line": lines}).with_columns(groups.values()).select(ts.alias("ts")).to_series()


def quarantine_rows(
    rejects: pl.DataFrame, source: str, now: datetime, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS
) -> pl.DataFrame:
    """Rejected lines (``line_no``, ``line``, ``reason``) as quarantine rows: dated, masked, then
    cut at :data:`MAX_QUARANTINE_LINE` characters (masking first, so a cut cannot split what
    masking has to recognise)."""
    lines = rejects.get_column("line")
    masked = mask_lines(lines, sensitive)
    cut = pl.when(masked.str.len_chars() > MAX_QUARANTINE_LINE).then(
        masked.str.slice(0, MAX_QUARANTINE_LINE) + " …[cut]"
    )
    return rejects.select(
        line_times(lines, now).alias("ts"),
        pl.lit(source).alias("source_file"),
        "line_no",
        "reason",
        pl.select(cut.otherwise(masked)).to_series().alias("line"),
    )


#: A batch with at most this many rejects (and :data:`FEW_BYTES` of them) hands them over
#: unmasked; they wait and are masked with later batches' (:class:`Quarantine`). Masking costs
#: a batch ~5 ms of polars calls however few its rejects are, and a regular log has about a
#: hundred in a batch of 56,000 lines: eight batches' rejects at once took ~9 ms.
FEW_REJECTS = 2_000
FEW_BYTES = 2 << 20


def few(rejects: pl.DataFrame) -> pl.DataFrame | None:
    """``rejects`` in buffers of their own when few enough to wait, else None (mask them now)."""
    if rejects.height > FEW_REJECTS or (rejects.get_column("line").str.len_bytes().sum() or 0) > FEW_BYTES:
        return None
    return compact(rejects)  # a view into the batch's bytes would keep all of them while it waits


class Quarantine:
    """An input's rejects, written as quarantine rows in input order: masked ones (a batch's
    many rejects, masked on its worker) at once, few ones (:func:`few`) once
    :data:`FEW_REJECTS` rows or :data:`FEW_BYTES` of them wait, and at :meth:`flush`."""

    def __init__(self, writer: PartitionWriter, source: str, now: datetime, sensitive: tuple[str, ...]) -> None:
        self.writer, self.source, self.now, self.sensitive = writer, source, now, sensitive
        self._waiting: list[pl.DataFrame] = []
        self._rows = self._bytes = 0

    def add(self, rejects: pl.DataFrame, masked: pl.DataFrame | None = None) -> None:
        """Rejects to quarantine: ``masked`` (their quarantine rows), else ``rejects`` (few)."""
        if masked is not None:
            self.flush()
            self.writer.write(masked)
            return
        self._waiting.append(rejects)
        self._rows += rejects.height
        self._bytes += rejects.get_column("line").str.len_bytes().sum() or 0
        if self._rows > FEW_REJECTS or self._bytes > FEW_BYTES:
            self.flush()

    def flush(self) -> None:
        """Mask and write the rejects that wait."""
        if self._waiting:
            rejects = pl.concat(self._waiting)
            self._waiting, self._rows, self._bytes = [], 0, 0
            self.writer.write(quarantine_rows(rejects, self.source, self.now, self.sensitive))


def delete_day(store: Store, day: str, parts: list[Partition], holds: list[Hold], now: datetime) -> int:
    """Delete a quarantine day past the raw window, except the rows ``holds`` keep; one store
    change. Returns the rows deleted."""
    total = sum(p.rows for p in parts)
    kept = 0
    with store.change("delete-quarantine-day", now, {"days": [day]}) as ch:
        w = ch.writer("quarantine")
        if holds:
            for df in store.iter_parts(parts, "quarantine"):
                held = df.filter(held_mask(df, holds, "quarantine"))
                w.write_day(day, held)
                kept += held.height
        ch.retire(parts)
        ch.counts = {"rows_removed": {"quarantine": total}, "rows_written": kept}
    return total - kept
