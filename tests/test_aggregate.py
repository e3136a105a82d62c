"""Aggregates add up, cap and fold correctly; reports match what was ingested."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from logtool.config import Policy
from logtool.generate import lines
from logtool.inputs import make_inputs
from logtool.lifecycle import aggregate
from logtool.lifecycle.ingest import ingest
from logtool.render import ReportFormat
from logtool.render import render_report as render
from logtool.report import build
from logtool.schema import AGENT_CODE

from .conftest import DAY0, NOW, write_days


def agg_frame(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [date(2026, 11, 10)] * len(rows),
            "dimension": [r[0] for r in rows],
            "key": [r[1] for r in rows],
            "requests": [r[2] for r in rows],
            "bytes": [r[2] * 10 for r in rows],
        }
    )


def test_merge_adds_partial_aggregates() -> None:
    a = agg_frame([("path", "/a", 3), ("path", "/b", 1)])
    b = agg_frame([("path", "/a", 2)])
    m = aggregate.merge([a, b])
    assert dict(zip(m["key"], m["requests"], strict=True)) == {"/a": 5, "/b": 1}


def test_cap_folds_the_tail_into_other_but_not_uncapped_dimensions() -> None:
    df = agg_frame([("path", f"/p{i}", 10 - i) for i in range(5)] + [("hour", f"{h:02d}", 1) for h in range(5)])
    capped = aggregate.merge([df], top_n=2)
    paths = capped.filter(dimension="path")
    assert dict(zip(paths["key"], paths["requests"], strict=True)) == {"/p0": 10, "/p1": 9, "(other)": 8 + 7 + 6}
    assert capped.filter(dimension="hour").height == 5
    assert capped["requests"].sum() == df["requests"].sum()


def test_fold_small_keeps_totals() -> None:
    df = agg_frame([("country", "DE", 10), ("country", "FR", 2), ("country", "NL", 1), ("total", "all", 13)])
    folded = aggregate.fold_small(df.drop("date"), 5)
    c = folded.filter(dimension="country")
    assert dict(zip(c["key"], c["requests"], strict=True)) == {"DE": 10, "(other)": 3}


def test_daily_dimensions_and_privacy_of_keys() -> None:
    from logtool.parsers import get_format

    raw = pl.DataFrame(
        {
            "line_no": [1, 2],
            "line": [
                '203.0.113.9 - - [10/Nov/2026:10:00:00 +0000] "GET /u/jane@example.org?x=1 HTTP/1.1" 404 7 "http://198.51.100.7/a" "curl/8"',
                '203.0.113.9 - - [10/Nov/2026:23:59:59 +0000] "POST /login HTTP/1.1" 200 3 "https://Example.org/x?q=1" "-"',
            ],
        }
    )
    rec, _ = get_format("combined").parse(raw)
    agg = aggregate.daily(
        rec.with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("ua_family", "os_family", "device", "country")
        ).with_columns(pl.lit(None, pl.Boolean).alias("is_bot"))
    )
    keys = {(d, k) for d, k in agg.select("dimension", "key").iter_rows()}
    assert {
        ("path", "/u/<email>"),
        ("path", "/login"),
        ("referrer_host", "<ip>"),
        ("referrer_host", "example.org"),
    } <= keys
    assert {("status_class", "4xx"), ("hour", "10"), ("hour", "23"), ("method", "POST")} <= keys
    assert not any("203.0.113.9" in k or "jane" in k for _, k in keys)


def _reference_daily(rec: pl.DataFrame) -> pl.DataFrame:
    """Each dimension's key computed for every row, then counted: what :func:`aggregate.daily`
    computes on distinct values in one plan."""
    from logtool.anonymize.redact import redact

    parts = []
    for name, (value, key) in aggregate.DIMENSIONS.items():
        df = rec.select(pl.col("ts").dt.date().alias("date"), "vhost", pl.col("bytes").fill_null(0), value.alias("v"))
        if name in aggregate.SPARSE:
            df = df.filter(pl.col("v").is_not_null())
        k = (
            redact(df["v"].cast(pl.String))
            if isinstance(key, aggregate.Redacted)
            else df.select(key(pl.col("v"))).to_series()
        )
        df = df.with_columns(k.fill_null(aggregate.UNKNOWN).alias("key"), pl.lit(name).alias("dimension"))
        parts.append(df.group_by("date", "vhost", "dimension", "key").agg(pl.len().cast(pl.Int64).alias("requests"),
                                                                      pl.col("bytes").sum().cast(pl.Int64)))  # fmt: skip
    return pl.concat(parts)


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    cols = ["date", "vhost", "dimension", "key", "requests", "bytes"]
    return df.select(cols).sort(cols, nulls_last=True)


def test_daily_equals_every_row_counted_per_dimension() -> None:
    """Across days and vhosts (grouping keys), across days of one vhost, and within one day of one
    vhost (constants)."""
    from logtool.enrich import Enricher
    from logtool.parsers import get_format

    text = list(lines(datetime(2026, 11, 9, 20, tzinfo=UTC), 3000, seed=3, span=timedelta(hours=8)))
    raw = pl.DataFrame({"line_no": range(1, len(text) + 1), "line": text})
    rec, _ = get_format("combined").parse(raw)
    rec = rec.with_columns(pl.when(pl.col("line_no") % 7 != 0).then(pl.col("user_agent")).alias("user_agent"))
    enrich = Enricher(Policy(), None, lambda d: b"0" * 32)
    enrich(rec.head(300))  # the agents' table then grows: later agents are numbered after the first ones
    rec = enrich(rec)
    assert enrich.agents.table is not None and enrich.agents.table.height > 10
    assert rec.get_column(AGENT_CODE).null_count() == rec.get_column("user_agent").null_count() > 0
    rec = rec.with_columns(pl.when(pl.col("line_no") % 3 == 0).then(pl.lit("a.example.com")).alias("vhost"))
    one_day = rec.filter(pl.col("ts").dt.date() == date(2026, 11, 10)).with_columns(
        pl.lit("b.example.com").alias("vhost")
    )
    two_days = rec.with_columns(pl.lit("c.example.com").alias("vhost"))  # one vhost: the days decide
    for frame in (rec, one_day, two_days):
        assert frame.height > 500
        want = _sorted(_reference_daily(frame))
        # the agent's classes by its number, and not (with grouping keys, and with constants)
        for records in (frame, frame.drop(AGENT_CODE)) if frame is not two_days else (frame,):
            got = aggregate.daily(records)
            assert got.columns == ["date", "dimension", "key", "requests", "bytes", "vhost"]
            assert _sorted(got).equals(want)
    assert rec.select(pl.col("ts").dt.date().n_unique()).item() == 2
    got = aggregate.daily(rec)  # and some sums known without the dimensions' own expressions
    for dim in ("total", "status_class", "hour", "method", "bot", "response_time"):
        assert got.filter(dimension=dim)["requests"].sum() == rec.height, dim
    per_class = dict(got.filter(dimension="status_class").group_by("key").agg(pl.col("requests").sum()).iter_rows())
    assert per_class == dict(rec.group_by((pl.col("status") // 100).cast(pl.String) + "xx").len().iter_rows())
    assert {"path", "not_found", "referrer_host", "hour"} <= set(aggregate.daily(rec)["dimension"])


def test_inputs_of_one_ingest_share_caches_and_get_what_an_ingest_each_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ingest call shares its enrichment and signature caches between its inputs (a site's
    files repeat their clients, agents and requests): each distinct address is enriched once,
    and raw rows and aggregates are what an ingest call per file gives."""
    import logtool.enrich as enrich
    from logtool.lifecycle.ingest import Caches, ingest_file
    from logtool.store import Store

    computed: list[int] = []
    real = enrich.client_table
    monkeypatch.setattr(enrich, "client_table", lambda ips, *a: computed.append(ips.len()) or real(ips, *a))

    day = write_days(tmp_path / "logs", n_days=1, per_day=2100)[0].read_text().splitlines(keepends=True)
    logs = [tmp_path / f"access.log.{i}" for i in range(3)]
    for i, p in enumerate(logs):  # one day's traffic in three files: their clients and agents recur
        p.write_text("".join(day[i::3]))
    together, apart = Store(tmp_path / "together"), Store(tmp_path / "apart")
    ingest(together, make_inputs([str(p) for p in logs]), Policy(), NOW)
    clients = together.read("raw").get_column("client_ip").drop_nulls().n_unique()
    assert sum(computed) == clients  # once each, though most recur in all three files
    for p in logs:
        ingest(apart, make_inputs([str(p)]), Policy(), NOW)
    keys = ["source_file", "line_no"]
    for stage, drop in (("raw", ["visitor_key"]), ("aggregates", [])):  # visitor keys: salts differ
        a, b = (st.read(stage).drop(drop).sort(keys if stage == "raw" else aggregate.GROUP, nulls_last=True)
                for st in (together, apart))  # fmt: skip
        assert a.height > 300 and a.equals(b), stage
    shared = together.read("raw").group_by("client_ip").agg(pl.col("source_file").n_unique().alias("n"))
    assert shared.filter(pl.col("n") > 1).height > 100  # the later files did meet cached clients
    with pytest.raises(ValueError, match="another store"):  # the enricher reads one store's salts
        ingest_file(apart, make_inputs([str(logs[0])])[0], Policy(), NOW, caches=Caches.new(together, Policy(), None))
    together.close()
    apart.close()


def test_report_totals_match_ingested_rows(store, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=3, per_day=500)
    res = ingest(store, make_inputs([str(p) for p in logs]), Policy(), NOW)
    rep = build(store, Policy())
    assert rep.requests == sum(r.parsed for r in res)
    assert [d["date"] for d in rep.days] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    assert all(0 < d["visitors"] < d["requests"] for d in rep.days)  # live from raw visitor keys
    from logtool.lifecycle.retention import retain

    retain(store, Policy(), NOW)  # every day leaves the raw stage: the counts move to aggregates
    assert [d["visitors"] for d in build(store, Policy()).days] == [d["visitors"] for d in rep.days]
    assert sum(r["requests"] for r in rep.sections["hour"]) == rep.requests
    assert sum(r["requests"] for r in rep.sections["path"]) == rep.requests  # top 10 + (other)
    assert 0 < rep.bot_share < 0.5
    part = build(store, Policy(), "2026-11-11", "2026-11-11")
    assert part.requests == rep.days[1]["requests"]
    text = render(rep, ReportFormat.table)
    assert "Access report 2026-11-10 … 2026-11-12" in text and "Top paths" in text
    strict = build(store, replace(Policy(), min_group_size=10_000))
    assert [r["key"] for r in strict.sections["country"]] == ["(other)"]


def test_report_on_an_empty_store(store) -> None:
    text = render(build(store, Policy()), ReportFormat.table)
    assert "No aggregates in this period" in text


def test_generator_is_deterministic() -> None:
    a = list(lines(DAY0, 500, seed=3))
    assert a == list(lines(DAY0, 500, seed=3))
    assert a != list(lines(DAY0, 500, seed=4))
