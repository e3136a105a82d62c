"""Retention windows with an injected clock: raw → anonymised → deleted, idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from logtool.config import Policy
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import day_expired, retain
from logtool.schema import ANON_SCHEMA, PERSONAL_COLUMNS
from logtool.store import Store

from .conftest import DAY0, NOW, write_days


@pytest.mark.parametrize(
    "now,keep,expired",
    [
        (datetime(2026, 11, 18, 0, 0, tzinfo=UTC), 7, True),  # 2026-11-10 ended 7 days ago exactly
        (datetime(2026, 11, 17, 23, 59, tzinfo=UTC), 7, False),
        (datetime(2026, 11, 11, 0, 0, tzinfo=UTC), 0, True),
    ],
)
def test_a_day_expires_when_all_of_it_is_older_than_the_window(now: datetime, keep: int, expired: bool) -> None:
    assert day_expired("2026-11-10", now, keep) is expired


def stage_days(store: Store, stage: str) -> list[str]:
    return sorted({p.date for p in store.parts(stage)})


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=6, per_day=300)  # 2026-11-10 … 2026-11-15
    ingest(store, make_inputs([str(p) for p in logs]), Policy(), NOW)
    return store


def test_windows_move_days_through_the_stages(loaded: Store) -> None:
    policy = replace(Policy(), raw_days=2, anonymised_days=4)
    agg_before = loaded.read("aggregates").sort("date", "dimension", "key")
    now = DAY0 + timedelta(days=6)  # 2026-11-16 00:00
    res = retain(loaded, policy, now)
    assert stage_days(loaded, "raw") == ["2026-11-14", "2026-11-15"]
    assert stage_days(loaded, "anonymised") == ["2026-11-12", "2026-11-13"]
    assert res.deleted_days == ["2026-11-10", "2026-11-11"]
    # aggregates are never changed; leaving the raw stage adds the day's exact unique visitors
    after = loaded.read("aggregates")
    assert after.filter(pl.col("dimension") != "visitors").sort("date", "dimension", "key").equals(agg_before)
    visitors = after.filter(dimension="visitors").sort("date")
    assert visitors.get_column("date").cast(pl.String).to_list() == [f"2026-11-1{i}" for i in range(4)]
    assert (visitors.get_column("requests") > 10).all()
    # a day later, one more day moves along each stage
    retain(loaded, policy, now + timedelta(days=1))
    assert stage_days(loaded, "raw") == ["2026-11-15"]
    assert stage_days(loaded, "anonymised") == ["2026-11-13", "2026-11-14"]


def test_dry_run_changes_nothing_and_rerun_is_idempotent(loaded: Store) -> None:
    policy = replace(Policy(), raw_days=2, anonymised_days=4)
    now = DAY0 + timedelta(days=6)
    files_before = sorted(p.path for p in loaded.parts("raw"))
    dry = retain(loaded, policy, now, dry_run=True)
    assert sorted(p.path for p in loaded.parts("raw")) == files_before
    real = retain(loaded, policy, now)
    assert (dry.anonymised_days, dry.deleted_days, dry.anonymised_rows) == (
        real.anonymised_days,
        real.deleted_days,
        real.anonymised_rows,
    )
    snapshot = {s: sorted(p.path for p in loaded.parts(s)) for s in ("raw", "anonymised")}
    again = retain(loaded, policy, now)
    assert again.anonymised_days == again.deleted_days == []
    assert {s: sorted(p.path for p in loaded.parts(s)) for s in ("raw", "anonymised")} == snapshot


def test_anonymised_rows_drop_personal_fields(loaded: Store) -> None:
    raw = loaded.read("raw", "2026-11-10", "2026-11-10")
    retain(loaded, Policy(), DAY0 + timedelta(days=8))
    anon = loaded.read("anonymised", "2026-11-10", "2026-11-10")
    assert anon.columns == list(ANON_SCHEMA)
    assert not set(PERSONAL_COLUMNS) & set(anon.columns)
    assert anon.height == raw.height
    # query reduced to the allow-list (utm_* by default), referrer to its origin
    queries = [q for q in anon.get_column("query").drop_nulls().to_list()]
    assert queries and all(all(kv.startswith("utm_") for kv in q.split("&")) for q in queries)
    refs = anon.get_column("referrer").drop_nulls().unique().to_list()
    assert refs and all(r.count("/") == 2 and "?" not in r for r in refs)
    # e-mail in a path or query is gone
    assert not anon.select(pl.any_horizontal(pl.col(pl.String).str.contains("@|%40"))).to_series().any()
    # networks, not addresses
    nets = anon.get_column("client_net").drop_nulls()
    assert nets.str.contains(r"/(24|48)$|^example\.net$").all()


def test_a_late_file_for_an_anonymised_day_is_merged(loaded: Store, tmp_path: Path) -> None:
    policy = replace(Policy(), raw_days=2, anonymised_days=30)
    now = DAY0 + timedelta(days=6)
    retain(loaded, policy, now)
    n_before = loaded.read("anonymised", "2026-11-10", "2026-11-10").height
    late = write_days(tmp_path / "late", n_days=1, per_day=50, seed=99)  # another 2026-11-10 file
    ingest(loaded, make_inputs([str(late[0])]), policy, NOW)
    retain(loaded, policy, now)
    parts = loaded.parts("anonymised", "2026-11-10", "2026-11-10")
    assert len(parts) == 1 and parts[0].rows > n_before
    assert stage_days(loaded, "raw") == ["2026-11-14", "2026-11-15"]


def test_a_crash_during_anonymisation_keeps_the_raw_day(loaded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import logtool.store as store_mod

    def boom(point: str) -> None:
        if point == "published":
            raise OSError("disk full")

    monkeypatch.setattr(store_mod, "fault_hook", boom)
    with pytest.raises(OSError):
        retain(loaded, Policy(), DAY0 + timedelta(days=8))
    monkeypatch.undo()
    assert "2026-11-10" in stage_days(loaded, "raw")
    assert stage_days(loaded, "anonymised") == []
    res = retain(loaded, Policy(), DAY0 + timedelta(days=8))  # the orphan is cleaned, the retry works
    assert "2026-11-10" in res.anonymised_days
    assert len(list((loaded.root / "anonymised").rglob("*.parquet"))) == len(loaded.parts("anonymised"))


def test_salts_are_destroyed_when_a_day_leaves_the_raw_stage(loaded: Store) -> None:
    from logtool.lifecycle.retention import unique_visitors

    assert loaded.catalog.salts.days() == [f"2026-11-1{i}" for i in range(6)]
    raw_parts = loaded.parts("raw", "2026-11-10", "2026-11-10")
    expected = unique_visitors(loaded, raw_parts)
    raw = loaded.read("raw", "2026-11-10", "2026-11-10")
    # one key per (address, user agent, vhost) on a day
    assert expected == raw.select(pl.struct("client_ip", "user_agent", "vhost").n_unique()).item()
    retain(loaded, replace(Policy(), raw_days=2), DAY0 + timedelta(days=6))
    assert loaded.catalog.salts.days() == ["2026-11-14", "2026-11-15"]
    agg = loaded.read("aggregates", "2026-11-10", "2026-11-10").filter(dimension="visitors")
    assert agg.get_column("requests").to_list() == [expected]
    assert "visitor_key" not in loaded.read("anonymised").columns


def test_visitor_keys_differ_between_days_for_the_same_visitor(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "two-days.log"
    log.write_text(
        '203.0.113.9 - - [10/Nov/2026:23:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA"\n'
        '203.0.113.9 - - [10/Nov/2026:23:30:00 +0000] "GET /a HTTP/1.1" 200 1 "-" "UA"\n'
        '203.0.113.9 - - [11/Nov/2026:00:30:00 +0000] "GET / HTTP/1.1" 200 1 "-" "UA"\n'
        '203.0.113.9 - - [11/Nov/2026:00:31:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Other UA"\n'
    )
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    keys = store.read("raw").sort("ts").get_column("visitor_key").to_list()
    assert keys[0] == keys[1]  # same day, same visitor
    assert len({keys[1], keys[2], keys[3]}) == 3  # new day → new salt; other UA → other visitor
    assert not any("203.0.113.9" in k for k in keys)
