"""The quarantine reviewed too: a line that does not parse is more often an attack than a
normal request (TLS on port 80, binary junk, payloads that break the log format).

Quarantined lines (already masked: the client and every IP-looking token) are searched as free
text with the per-request signatures. A match is a finding of detector ``malformed`` with the
attack's category, named after the file the line came from (its client is masked), its time read
from a CLF timestamp in the line, else the one the quarantine recorded, else its partition's day. Periods select quarantine partitions by day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from logtool.anonymize.redact import redact
from logtool.config import Policy
from logtool.detect.findings import PARTIAL_SCHEMA
from logtool.detect.signatures import CATEGORIES, field_hits
from logtool.store import Store

_CLF_TIME = r"\[(\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"


def quarantine_partials(store: Store, policy: Policy, rules: dict[str, Any], date_from: str | None,
                        date_to: str | None, since: datetime | None) -> tuple[pl.DataFrame, int]:  # fmt: skip
    """Partial aggregates of the quarantined lines' matches, and how many lines were read."""
    parts = store.parts("quarantine", date_from, date_to)
    if since is not None:
        parts = [p for p in parts if p.date >= since.date().isoformat()]
    out, lines = [pl.DataFrame(schema=PARTIAL_SCHEMA)], 0
    for p in parts:
        day = datetime.fromisoformat(p.date).replace(tzinfo=UTC)
        for df in store.iter_parts([p], "quarantine"):
            lines += df.height
            hits = field_hits(df.get_column("line"), "line", tuple(c for c in CATEGORIES))
            if hits.height == 0:
                continue
            rows = df.with_row_index("_row").join(hits, on="_row", how="inner")
            stamp = pl.col("line").str.extract(_CLF_TIME, 1).str.strptime(pl.Datetime("us", "UTC"), "%d/%b/%Y:%H:%M:%S %z",
                                                                            strict=False)  # fmt: skip
            who = pl.concat_str([pl.lit("(quarantine) "), pl.col("source_file").fill_null("?")])
            sample = redact(rows.get_column("line").str.slice(0, 200), policy.sensitive_params)
            logged = pl.col("ts") if "ts" in rows.columns else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
            rows = rows.with_columns(
                pl.coalesce(stamp, logged, pl.lit(day).cast(pl.Datetime("us", "UTC"))).alias("ts"), who.alias("_key"),
                sample.alias("_sample"),
            )  # fmt: skip
            agg = rows.sort("ts").group_by("category", "_key", maintain_order=True).agg(
                pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"),
                pl.len().cast(pl.UInt32).alias("count"), pl.col("_sample").first().alias("sample"),
                pl.col("field").first(), pl.col("excerpt").first(),
            )  # fmt: skip
            out.append(agg.with_columns(
                pl.lit("malformed").alias("detector"), pl.col("_key").alias("_net"), pl.col("_key").alias("_ip"),
                pl.lit(None, dtype=pl.UInt64).alias("path"), pl.lit(False).alias("suppressed"),
            ).select(list(PARTIAL_SCHEMA)).cast(PARTIAL_SCHEMA))  # type: ignore[arg-type]  # fmt: skip
    return pl.concat(out), lines
